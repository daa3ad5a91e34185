import type { DNSResolver } from 'mailauth';
import type { AuthVerdict } from '../db/schema';
import type { MailInput } from '../parse/read-mail';

/**
 * Sender verification, one verdict per message: `pass` (the From: domain is authenticated by an
 * aligned DKIM signature or SPF, or DMARC passed), `fail` (DMARC or the checks failed), `none`
 * (nothing to go on). `From:` alone proves nothing.
 *
 * 1. With MAIL_TRUSTED_AUTHSERV_ID set, the `Authentication-Results` header our receiving server
 *    added is read: the topmost one with that authserv-id (and any directly below it with the same
 *    id). Headers with other ids, and trusted-looking ones further down (an outsider can write any
 *    header into the mail he sends), are ignored.
 * 2. Where none is trusted, DKIM and DMARC are verified here (mailauth) against DNS. SPF cannot be
 *    checked after delivery (it needs the connecting IP), so an unsigned mail gets `none`.
 */

export interface AuthResult {
  verdict: AuthVerdict;
  /** What the verdict rests on, e.g. "mx.orebro.se: spf=pass dkim=pass dmarc=pass" (methods and results only). */
  detail: string;
}

export interface AuthOptions {
  trustedAuthservId: string | undefined;
  timeoutMs: number;
  /** DNS lookups for the local check (mailauth's resolver signature); default: the system resolver. */
  resolver?: DNSResolver;
}

interface MethodResult {
  method: string;
  result: string;
  props: Record<string, string>;
}

/** `mx.example.se 1; spf=pass smtp.mailfrom=a.se; dkim=pass header.d=a.se` → authserv-id and results. */
export function parseAuthResults(value: string): { authservId: string; results: MethodResult[] } {
  const noComments = value.replace(/\([^()]*\)/g, ' ');
  const parts = noComments.split(';').map((s) => s.trim());
  const authservId = (parts[0] ?? '').split(/\s+/)[0]!.toLowerCase();
  const results: MethodResult[] = [];
  for (const part of parts.slice(1)) {
    const tokens = part.split(/\s+/).filter(Boolean);
    const m = /^([a-z0-9-]+)(?:\/[0-9]+)?=([a-z]+)$/i.exec(tokens[0] ?? '');
    if (!m) continue;
    const props: Record<string, string> = {};
    for (const t of tokens.slice(1)) {
      const kv = /^([a-z0-9.-]+)=(.+)$/i.exec(t);
      if (kv) props[kv[1]!.toLowerCase()] = kv[2]!.replace(/^"|"$/g, '').toLowerCase();
    }
    results.push({ method: m[1]!.toLowerCase(), result: m[2]!.toLowerCase(), props });
  }
  return { authservId, results };
}

/** The topmost Authentication-Results from the trusted server (and those right below it with the same id). */
export function trustedAuthResults(headers: MailInput['headers'], trustedId: string): MethodResult[] | null {
  const id = trustedId.toLowerCase();
  let found: MethodResult[] | null = null;
  for (const h of headers) {
    if (h.key !== 'authentication-results') {
      if (found && h.key === 'received') break;
      continue;
    }
    const ar = parseAuthResults(h.value);
    if (ar.authservId === id) (found ??= []).push(...ar.results);
    else if (found) break;
  }
  return found;
}

/** Relaxed alignment: the same organisational domain (approximated by the last two labels). */
export function aligned(fromDomain: string, other: string | undefined): boolean {
  if (!other) return false;
  const d = other.replace(/^.*@/, '').toLowerCase();
  const org = (x: string) => x.split('.').slice(-2).join('.');
  return org(d) === org(fromDomain.toLowerCase());
}

export function verdictFromResults(results: MethodResult[], fromDomain: string | null): AuthVerdict {
  const of = (method: string) => results.filter((r) => r.method === method);
  const dmarcResult = of('dmarc')[0]?.result;
  if (dmarcResult === 'fail') return 'fail';
  if (of('compauth').some((r) => r.result === 'fail')) return 'fail';
  if (dmarcResult === 'pass') return 'pass';
  if (fromDomain) {
    if (of('dkim').some((r) => r.result === 'pass' && aligned(fromDomain, r.props['header.d'] ?? r.props['header.i']))) return 'pass';
    if (of('spf').some((r) => r.result === 'pass' && aligned(fromDomain, r.props['smtp.mailfrom']))) return 'pass';
  }
  if ([...of('dkim'), ...of('spf')].some((r) => r.result === 'fail')) return 'fail';
  return 'none';
}

const summary = (results: MethodResult[]) =>
  results
    .filter((r) => ['spf', 'dkim', 'dmarc', 'compauth', 'arc'].includes(r.method))
    .map((r) => `${r.method}=${r.result}`)
    .join(' ')
    .slice(0, 300);

function withTimeout<T>(p: Promise<T>, ms: number): Promise<T> {
  let timer: NodeJS.Timeout | undefined;
  const t = new Promise<never>((_, reject) => {
    timer = setTimeout(() => reject(new Error('timeout')), ms);
  });
  return Promise.race([p, t]).finally(() => clearTimeout(timer));
}

/** DKIM signatures verified here, then DMARC for the From: domain. */
async function verifyLocally(raw: Buffer, fromDomain: string, opts: AuthOptions): Promise<AuthResult> {
  const resolver = opts.resolver ? { resolver: opts.resolver } : {};
  try {
    // The two checks used, not mailauth's index (it loads BIMI, ARC and SPF too: 8 MB more), and only
    // for the first signed mail that needs them (with a trusted Authentication-Results, never): ~8 MB.
    const [{ dkimVerify }, { dmarc }] = await Promise.all([import('mailauth/lib/dkim/verify.js'), import('mailauth/lib/dmarc/index.js')]);
    return await withTimeout(
      (async (): Promise<AuthResult> => {
        const dkim = await dkimVerify(raw, resolver);
        const results: MethodResult[] = dkim.results.map((r) => ({
          method: 'dkim',
          result: r.status.result,
          props: { 'header.d': r.signingDomain?.toLowerCase() ?? '' },
        }));
        const dm = await dmarc({
          headerFrom: fromDomain,
          spfDomains: [],
          dkimDomains: dkim.results
            .filter((r) => r.status.result === 'pass')
            .map((r) => ({
              id: r.id,
              domain: r.signingDomain,
              aligned: r.status.aligned === undefined ? undefined : !!r.status.aligned,
              underSized: r.status.underSized,
            })),
          ...resolver,
        });
        if (dm && dm.status?.result && dm.status.result !== 'none') results.push({ method: 'dmarc', result: dm.status.result, props: {} });
        return { verdict: verdictFromResults(results, fromDomain), detail: `lokal kontroll: ${summary(results) || 'inget resultat'}` };
      })(),
      opts.timeoutMs,
    );
  } catch (err) {
    return { verdict: 'none', detail: `lokal kontroll: ${(err as Error).message === 'timeout' ? 'tidsgräns' : 'fel'}` };
  }
}

export async function authenticateSender(raw: Buffer, mail: MailInput, opts: AuthOptions): Promise<AuthResult> {
  const fromDomain = mail.from?.split('@')[1] ?? null;
  if (opts.trustedAuthservId) {
    const trusted = trustedAuthResults(mail.headers, opts.trustedAuthservId);
    if (trusted)
      return {
        verdict: verdictFromResults(trusted, fromDomain),
        detail: `${opts.trustedAuthservId}: ${summary(trusted) || 'inga resultat'}`,
      };
  }
  if (!fromDomain) return { verdict: 'none', detail: 'ingen avsändaradress' };
  if (!mail.headers.some((h) => h.key === 'dkim-signature'))
    return { verdict: 'none', detail: 'ingen DKIM-signatur och inget betrott Authentication-Results' };
  return verifyLocally(raw, fromDomain, opts);
}
