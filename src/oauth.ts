import type { Config } from './config';
import { AppError } from './errors';

/**
 * Microsoft 365 daemon sign-in: OAuth2 client credentials → access token for IMAP and SMTP
 * (SASL XOAUTH2). The token is cached, fetched anew five minutes before it expires, and once more
 * when a server refuses it (`invalidate()`). Entra's error codes become messages an operator can act on.
 */

export const OUTLOOK_SCOPE = 'https://outlook.office365.com/.default';
/** How long before the client secret expires the log, /healthz and metrics start warning. */
export const SECRET_WARN_DAYS = 30;
const REFRESH_MARGIN_MS = 300_000;

/** What an operator should do for the Entra (AADSTS) errors met when setting this up. */
const ENTRA_ERRORS: Array<[RegExp, string]> = [
  [
    /AADSTS700016/,
    'the application (OAUTH_CLIENT_ID) was not found in this tenant: check OAUTH_CLIENT_ID and OAUTH_TENANT_ID, and that the app is consented in this tenant',
  ],
  [/AADSTS90002/, 'the tenant (OAUTH_TENANT_ID) was not found: use the directory (tenant) id or its verified domain'],
  [
    /AADSTS7000222/,
    'the client secret has expired: make a new one in Entra (Certificates & secrets), set OAUTH_CLIENT_SECRET and OAUTH_SECRET_EXPIRES, restart',
  ],
  [/AADSTS7000215/, "the client secret is wrong: OAUTH_CLIENT_SECRET must be the secret's Value, not its Secret ID"],
  [/AADSTS70011/, `the scope was refused: it must be ${OUTLOOK_SCOPE}`],
  [/AADSTS65001/, 'admin consent is missing: grant admin consent for IMAP.AccessAsApp and SMTP.SendAsApp'],
];

/** The hint for a refused XOAUTH2 login: the token is fine but Exchange does not let the app in. */
export const EXCHANGE_AUTH_HINT =
  'the mailbox server refused the OAuth2 token. For Exchange Online: register the app in Exchange with ' +
  'New-ServicePrincipal -AppId <OAUTH_CLIENT_ID> -ObjectId <ObjectId of the Enterprise application, not of the app registration>, ' +
  'and grant it the mailbox with Add-MailboxPermission -Identity <mailbox> -User <service principal id> -AccessRights FullAccess; ' +
  'the app needs the application permissions IMAP.AccessAsApp and SMTP.SendAsApp with admin consent';

/** True for an IMAP/SMTP error that means "credentials refused" (IMAP `AUTHENTICATE failed`, SMTP 535). */
export function isAuthFailure(err: unknown): boolean {
  const e = err as { authenticationFailed?: boolean; responseCode?: number; code?: string; response?: string; message?: string } | null;
  if (!e) return false;
  return (
    e.authenticationFailed === true ||
    e.responseCode === 535 ||
    e.code === 'EAUTH' ||
    /AUTHENTICATE failed|authentication failed/i.test(`${e.response ?? ''} ${e.message ?? ''}`)
  );
}

export function explainEntraError(text: string): string | null {
  for (const [re, hint] of ENTRA_ERRORS) if (re.test(text)) return hint;
  return null;
}

/** The last token fetched in this process, for /metrics and /healthz. */
export interface TokenState {
  expiresAt: Date | null;
  lastError: string | null;
  fetched: number;
  failures: number;
}
const states = new Set<TokenState>();

/** Token state of every provider in this process (normally one). */
export function tokenStates(): TokenState[] {
  return [...states];
}

/** Whole days until the client secret expires (rounded up; 0 or less once it has), or null when unknown. */
export function secretDaysLeft(expires: Date | undefined, now: Date): number | null {
  return expires ? Math.ceil((expires.getTime() - now.getTime()) / 86_400_000) : null;
}

export class TokenProvider {
  private token: { value: string; refreshAt: number; fetch: number } | null = null;
  /** Which fetch's token was last refused by a mail server. */
  private refusedFetch = -1;
  private pending: Promise<string> | null = null;
  readonly state: TokenState = { expiresAt: null, lastError: null, fetched: 0, failures: 0 };

  constructor(
    private readonly oauth: NonNullable<Config['oauth']>,
    private readonly tokenUrl = tokenEndpoint('https://login.microsoftonline.com', oauth.tenantId),
    private readonly now: () => number = Date.now,
  ) {
    states.add(this.state);
  }

  static fromConfig(config: Pick<Config, 'oauth' | 'oauthAuthority'>): TokenProvider | undefined {
    return config.oauth ? new TokenProvider(config.oauth, tokenEndpoint(config.oauthAuthority, config.oauth.tenantId)) : undefined;
  }

  /** A cached token, or a fresh one when none is cached or it expires within five minutes. Concurrent callers share one request. */
  async accessToken(): Promise<string> {
    if (this.token && this.token.refreshAt > this.now()) return this.token.value;
    this.pending ??= this.fetchToken().finally(() => {
      this.pending = null;
    });
    return this.pending;
  }

  /** Forgets the cached token (a server refused it): the next call fetches a new one. */
  invalidate(): void {
    this.token = null;
  }

  /**
   * For a failed IMAP/SMTP login: when it is a refusal of credentials, the cached token is dropped
   * (the next login fetches a new one) and, when a freshly fetched token was refused too, the
   * error becomes OAUTH_REFUSED saying what to fix in Exchange. Other errors are returned as they are.
   */
  refused(err: unknown): unknown {
    if (!isAuthFailure(err)) return err;
    const fetch = this.token?.fetch ?? this.state.fetched;
    const again = this.refusedFetch >= 0 && fetch > this.refusedFetch;
    this.refusedFetch = fetch;
    this.invalidate();
    return again ? new AppError('OAUTH_REFUSED', EXCHANGE_AUTH_HINT, {}, err) : err;
  }

  /**
   * Runs `fn` with a token; when the server refuses it as credentials, fetches a new token and
   * tries once more. A second refusal is an error that says what to fix in Exchange.
   */
  async withToken<T>(fn: (token: string) => Promise<T>): Promise<T> {
    try {
      return await fn(await this.accessToken());
    } catch (err) {
      if (!isAuthFailure(err)) throw err;
      this.invalidate();
      try {
        return await fn(await this.accessToken());
      } catch (again) {
        if (!isAuthFailure(again)) throw again;
        throw new AppError('OAUTH_REFUSED', EXCHANGE_AUTH_HINT, {}, again);
      }
    }
  }

  private async fetchToken(): Promise<string> {
    const body = new URLSearchParams({
      grant_type: 'client_credentials',
      client_id: this.oauth.clientId,
      client_secret: this.oauth.clientSecret,
      scope: OUTLOOK_SCOPE,
    });
    let res: Response;
    let json: { access_token?: string; expires_in?: number; error?: string; error_description?: string };
    try {
      res = await fetch(this.tokenUrl, { method: 'POST', body, signal: AbortSignal.timeout(15_000) });
      json = (await res.json().catch(() => ({}))) as typeof json;
    } catch (err) {
      this.fail('token endpoint unreachable');
      throw new AppError('IMAP_ERROR', `OAuth2 token endpoint unreachable (${(err as Error).message})`, {}, err);
    }
    if (!res.ok || !json.access_token) {
      const described = `${json.error ?? ''} ${json.error_description ?? ''}`;
      const code = /AADSTS\d+/.exec(described)?.[0];
      const hint = explainEntraError(described);
      const message = `OAuth2 token request failed (${res.status} ${json.error ?? ''}${code ? ` ${code}` : ''})${hint ? `: ${hint}` : ''}`;
      this.fail(code ?? json.error ?? String(res.status));
      throw new AppError('IMAP_ERROR', message.replace(/ \)/, ')'), { status: res.status, entraCode: code });
    }
    const lifetimeMs = (json.expires_in ?? 3600) * 1000;
    const expiresAt = this.now() + lifetimeMs;
    // Five minutes before expiry (a quarter of the lifetime for short-lived tokens).
    this.token = {
      value: json.access_token,
      refreshAt: expiresAt - Math.min(REFRESH_MARGIN_MS, lifetimeMs / 4),
      fetch: this.state.fetched + 1,
    };
    this.state.expiresAt = new Date(expiresAt);
    this.state.lastError = null;
    this.state.fetched++;
    return json.access_token;
  }

  private fail(reason: string): void {
    this.state.failures++;
    this.state.lastError = reason;
  }
}

export function tokenEndpoint(authority: string, tenantId: string): string {
  return `${authority.replace(/\/+$/, '')}/${encodeURIComponent(tenantId)}/oauth2/v2.0/token`;
}
