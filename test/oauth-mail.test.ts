import fsp from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import { sql } from 'drizzle-orm';
import { createContext } from '../src/app';
import { parseConfig } from '../src/config';
import type { AppContext } from '../src/context';
import { messages, outbox } from '../src/db/schema';
import { ImapIntake } from '../src/intake/imap';
import { createMetricsRegistry } from '../src/metrics';
import { TokenProvider, tokenEndpoint } from '../src/oauth';
import { OutboxSender } from '../src/replies/sender';
import { SmtpTransport } from '../src/replies/transport';
import { freshPostgres, type FreshPostgres } from './support/db';
import { appendMail, listMailbox, startDovecot, type DovecotServer } from './support/dovecot';
import { notification } from './support/mails';
import { startOauthSmtp, startOidcProvider, type OauthSmtpServer, type OidcProvider } from './support/oidc';

/**
 * Microsoft 365's client-credentials flow end to end, with real servers checking the token:
 * oidc-provider issues short-lived tokens (Entra's stand-in, at OAUTH_AUTHORITY), Dovecot's oauth2
 * passdb checks the IMAP XOAUTH2 token by introspection, smtp-server checks the SMTP one the same way.
 */

const MAILBOX = 'vardochstod@orebro.se';
const TENANT = 'test-tenant';
const MAIL_APP = { clientId: 'lci-mail', clientSecret: 'mail-app-secret-1', mailbox: MAILBOX };
const RS = { clientId: 'mail-servers', clientSecret: 'introspect-secret' };
/** Token lifetime at the server, seconds; the client's clock is moved forward instead of sleeping (robust on a loaded machine). */
const TTL = 30;
let clockOffsetMs = 0;
const clock = () => Date.now() + clockOffsetMs;

let provider: OidcProvider;
let dovecot: DovecotServer;
let smtp: OauthSmtpServer;
let pg: FreshPostgres;
let dataDir: string;
let ctx: AppContext;

function configFor(extra: Record<string, string> = {}) {
  return parseConfig({
    IMAP_HOST: '127.0.0.1',
    IMAP_PORT: String(dovecot.port),
    IMAP_SECURE: 'false',
    IMAP_USER: MAILBOX,
    OAUTH_TENANT_ID: TENANT,
    OAUTH_CLIENT_ID: MAIL_APP.clientId,
    OAUTH_CLIENT_SECRET: MAIL_APP.clientSecret,
    OAUTH_AUTHORITY: provider.issuer,
    SMTP_HOST: '127.0.0.1',
    SMTP_PORT: String(smtp.port),
    SMTP_SECURE: 'false',
    SMTP_USER: MAILBOX,
    DATABASE_URL: pg.url,
    DATA_DIR: dataDir,
    LOG_LEVEL: 'silent',
    HTTP_ENABLED: 'false',
    ...extra,
  });
}

const incomplete = (n: number) =>
  notification({
    from: `chef${n}@attendo.se`,
    fromName: 'Chef',
    subject: `SITHS-kort ${n}`,
    persons: [{ name: `Person Nummer${n}`, function: 'Undersköterska' }],
  }).raw;

beforeAll(async () => {
  provider = await startOidcProvider({ tenant: TENANT, tokenTtl: TTL, mail: MAIL_APP, resourceServer: RS });
  [dovecot, smtp, pg] = await Promise.all([
    startDovecot({ users: [{ user: MAILBOX, password: 'only-for-append' }], oauth2: { introspectionUrl: provider.introspectionUrl } }),
    startOauthSmtp(provider, RS),
    freshPostgres(),
  ]);
  dataDir = await fsp.mkdtemp(path.join(os.tmpdir(), 'lci-oauth-'));
  ctx = await createContext(configFor());
}, 60_000);

afterAll(async () => {
  await ctx?.database.close().catch(() => {});
  await Promise.allSettled([dovecot?.stop(), smtp?.stop(), provider?.stop()]);
  await pg?.drop();
  if (dataDir) await fsp.rm(dataDir, { recursive: true, force: true });
});

/** One poll with a new connection (a new XOAUTH2 login); the intake's status as the poll left it. */
async function pollWith(tokens: TokenProvider, c: AppContext = ctx): Promise<{ detail: string }> {
  const intake = new ImapIntake(c, tokens);
  await intake.poll();
  const detail = intake.status.detail;
  await intake.close();
  return { detail };
}

test('IMAP and SMTP sign in with client-credentials tokens; expiry and a refused token bring a new one', async () => {
  const tokens = new TokenProvider(ctx.config.oauth!, tokenEndpoint(ctx.config.oauthAuthority, TENANT), clock);
  const sender = new OutboxSender(ctx, new SmtpTransport(ctx.config, tokens));
  const processed = async () => (await ctx.database.db.select({ n: sql<number>`count(*)::int` }).from(messages))[0]!.n;
  const sent = async () =>
    (
      await ctx.database.db
        .select({ n: sql<number>`count(*)::int` })
        .from(outbox)
        .where(sql`status = 'sent'`)
    )[0]!.n;

  // 1. First token: Dovecot accepts it over XOAUTH2, the reply goes out over SMTP XOAUTH2.
  await appendMail(dovecot, MAILBOX, 'only-for-append', incomplete(1));
  let intake = await pollWith(tokens);
  expect(intake.detail).toBe('connected');
  expect(await processed()).toBe(1);
  expect((await listMailbox(dovecot, MAILBOX, 'only-for-append', 'Behandlat')).length).toBe(1);
  await sender.runOnce();
  expect(await sent()).toBe(1);
  expect(smtp.logins).toEqual(['accepted']);
  expect((await provider.stats()).clientCredentialsIssued).toBe(1);

  // 2. Cached while fresh: a second login within the lifetime asks for no new token.
  await appendMail(dovecot, MAILBOX, 'only-for-append', incomplete(2));
  await pollWith(tokens);
  await sender.runOnce();
  expect(await processed()).toBe(2);
  expect((await provider.stats()).clientCredentialsIssued).toBe(1);

  // 3. Near expiry (a quarter of a short lifetime before): the next login fetches a new token.
  clockOffsetMs += TTL * 1000 * 0.8;
  await appendMail(dovecot, MAILBOX, 'only-for-append', incomplete(3));
  intake = await pollWith(tokens);
  expect(intake.detail).toBe('connected');
  expect(await processed()).toBe(3);
  expect((await provider.stats()).clientCredentialsIssued).toBe(2);
  await sender.runOnce();
  expect(await sent()).toBe(3);

  // 4. The server refuses the cached token (revoked): IMAP fails once, the next login has a new token.
  await provider.revokeAll();
  await appendMail(dovecot, MAILBOX, 'only-for-append', incomplete(4));
  intake = await pollWith(tokens);
  expect(intake.detail).toMatch(/^poll failed/);
  expect(await processed()).toBe(3);
  intake = await pollWith(tokens);
  expect(intake.detail).toBe('connected');
  expect(await processed()).toBe(4);
  expect((await provider.stats()).clientCredentialsIssued).toBe(3);

  // 5. SMTP refuses a revoked token: a new one is fetched and the same reply tried once more at once.
  await provider.revokeAll();
  const before = smtp.logins.length;
  await sender.runOnce();
  const logins = smtp.logins.slice(before);
  expect(logins[0]).toBe('refused'); // (nodemailer itself tries the refused token twice on one connection)
  expect(logins.at(-1)).toBe('accepted');
  expect(await sent()).toBe(4);
  const attempts = await ctx.database.db.select({ a: outbox.attempts }).from(outbox);
  expect(attempts.map((r) => r.a)).toEqual([1, 1, 1, 1]); // the retry with a new token was within the same attempt
  expect(smtp.messages.map((m) => m.subject).filter((s) => s?.includes('SITHS-kort')).length).toBe(4);
  expect((await provider.stats()).clientCredentialsIssued).toBe(4);
  expect(tokens.state.expiresAt!.getTime()).toBeGreaterThan(clock());
  const scraped = await createMetricsRegistry(ctx).metrics();
  const expiry = Number(/^lifecare_intake_oauth_token_expiry_seconds (\S+)$/m.exec(scraped)?.[1]);
  expect(expiry).toBeGreaterThan(0);
  expect(expiry).toBeLessThanOrEqual(TTL + clockOffsetMs / 1000 + 1); // (the client clock runs ahead by the offset)
}, 60_000);

test('a token the mailbox server never accepts ends in OAUTH_REFUSED naming New-ServicePrincipal and Add-MailboxPermission', async () => {
  // The app's token names another mailbox than the one logged in to: as when Exchange lacks the grant.
  const other = { ...ctx, config: configFor({ IMAP_USER: 'annan@orebro.se' }) };
  const tokens = TokenProvider.fromConfig(other.config)!;
  const first = await pollWith(tokens, other);
  expect(first.detail).toMatch(/^poll failed/);
  expect(first.detail).not.toContain('New-ServicePrincipal'); // one refusal: a new token is tried first
  const second = await pollWith(tokens, other);
  expect(second.detail).toContain('New-ServicePrincipal');
  expect(second.detail).toContain('Add-MailboxPermission');
});

test('a wrong client secret is refused by the token endpoint with a coded error', async () => {
  const tokens = TokenProvider.fromConfig(configFor({ OAUTH_CLIENT_SECRET: 'wrong-secret' }))!;
  await expect(tokens.accessToken()).rejects.toMatchObject({ code: 'IMAP_ERROR', message: expect.stringContaining('invalid_client') });
  expect(tokens.state.failures).toBe(1);
});
