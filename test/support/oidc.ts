/**
 * Test helpers around test/support/oidc-provider.mjs (a real oidc-provider in a child process,
 * standing in for Entra ID) and an smtp-server that checks XOAUTH2 tokens by introspection.
 */
import { spawn, type ChildProcess } from 'node:child_process';
import path from 'node:path';
import { simpleParser, type ParsedMail } from 'mailparser';
import { SMTPServer } from 'smtp-server';
import { freePort } from './ports';

export interface OidcProviderConfig {
  tenant?: string;
  /** Lifetime of client-credentials tokens, seconds. */
  tokenTtl?: number;
  mail?: { clientId: string; clientSecret: string; mailbox: string };
  resourceServer?: { clientId: string; clientSecret: string };
  web?: { clientId: string; clientSecret: string; redirectUri: string };
  accounts?: Record<string, { name?: string; username?: string; roles?: string[]; groups?: string[] }>;
}

export interface OidcProvider {
  issuer: string;
  port: number;
  introspectionUrl: string;
  /** Destroys every client-credentials token issued so far. */
  revokeAll(): Promise<void>;
  stats(): Promise<{ clientCredentialsIssued: number; introspections: number }>;
  stop(): Promise<void>;
}

const SCRIPT = path.join(__dirname, 'oidc-provider.mjs');

export async function startOidcProvider(cfg: OidcProviderConfig): Promise<OidcProvider> {
  const port = await freePort();
  const child: ChildProcess = spawn(process.execPath, [SCRIPT], {
    env: { ...process.env, NODE_OPTIONS: '', OIDC_TEST_CONFIG: JSON.stringify({ ...cfg, port }) },
    stdio: ['ignore', 'pipe', 'pipe'],
  });
  let err = '';
  child.stderr!.on('data', (d: Buffer) => (err += d.toString()));
  const issuer = await new Promise<string>((resolve, reject) => {
    let out = '';
    const timer = setTimeout(() => reject(new Error(`oidc-provider did not start: ${err}`)), 15_000);
    child.stdout!.on('data', (d: Buffer) => {
      out += d.toString();
      const m = /READY (\S+)/.exec(out);
      if (m) {
        clearTimeout(timer);
        resolve(m[1]!);
      }
    });
    child.once('exit', (code) => {
      clearTimeout(timer);
      reject(new Error(`oidc-provider exited (${code}): ${err}`));
    });
  });
  const rs = cfg.resourceServer;
  const introspectionUrl = rs
    ? `http://${encodeURIComponent(rs.clientId)}:${encodeURIComponent(rs.clientSecret)}@127.0.0.1:${port}/token/introspection`
    : `${issuer}/token/introspection`;
  return {
    issuer,
    port,
    introspectionUrl,
    async revokeAll() {
      await fetch(`${issuer}/test/revoke-all`, { method: 'POST' });
    },
    async stats() {
      return (await (await fetch(`${issuer}/test/stats`)).json()) as { clientCredentialsIssued: number; introspections: number };
    },
    stop: () =>
      new Promise<void>((resolve) => {
        if (child.exitCode !== null) return resolve();
        child.once('exit', () => resolve());
        child.kill('SIGTERM');
        setTimeout(() => child.kill('SIGKILL'), 3000).unref();
      }),
  };
}

/** RFC 7662 introspection with the resource server's credentials; the token's `username` claim. */
export async function introspect(
  provider: OidcProvider,
  rs: { clientId: string; clientSecret: string },
  token: string,
): Promise<{ active: boolean; username?: string }> {
  const res = await fetch(`${provider.issuer}/token/introspection`, {
    method: 'POST',
    headers: {
      authorization: `Basic ${Buffer.from(`${rs.clientId}:${rs.clientSecret}`).toString('base64')}`,
      'content-type': 'application/x-www-form-urlencoded',
    },
    body: new URLSearchParams({ token }),
  });
  return (await res.json()) as { active: boolean; username?: string };
}

export interface OauthSmtpServer {
  port: number;
  messages: ParsedMail[];
  /** XOAUTH2 logins: accepted or refused, in order. */
  logins: Array<'accepted' | 'refused'>;
  stop(): Promise<void>;
}

/** An SMTP server that accepts only XOAUTH2, each token checked at the provider's introspection endpoint. */
export async function startOauthSmtp(provider: OidcProvider, rs: { clientId: string; clientSecret: string }): Promise<OauthSmtpServer> {
  const messages: ParsedMail[] = [];
  const logins: Array<'accepted' | 'refused'> = [];
  const server = new SMTPServer({
    authMethods: ['XOAUTH2'],
    allowInsecureAuth: true,
    disabledCommands: ['STARTTLS'],
    logger: false,
    onAuth(auth, _session, callback) {
      introspect(provider, rs, auth.accessToken ?? '')
        .then((r) => {
          if (auth.method === 'XOAUTH2' && r.active && r.username === auth.username) {
            logins.push('accepted');
            callback(null, { user: auth.username });
          } else {
            logins.push('refused');
            callback(null, { data: { status: '401', schemes: 'bearer' } });
          }
        })
        .catch((e: unknown) => callback(e as Error));
    },
    onData(stream, _session, callback) {
      simpleParser(stream)
        .then((m) => {
          messages.push(m);
          callback();
        })
        .catch((e: unknown) => callback(e as Error));
    },
  });
  const port = await freePort();
  await new Promise<void>((resolve) => server.listen(port, '127.0.0.1', resolve));
  return { port, messages, logins, stop: () => new Promise<void>((r) => server.close(() => r())) };
}
