import fsp from 'node:fs/promises';
import net from 'node:net';
import os from 'node:os';
import path from 'node:path';
import { eq, sql } from 'drizzle-orm';
import { ImapFlow } from 'imapflow';
import { createContext } from '../src/app';
import { parseConfig } from '../src/config';
import type { AppContext } from '../src/context';
import { mailboxState, messages, outbox } from '../src/db/schema';
import { Worker, pollOnce } from '../src/worker';
import { freshPostgres, type FreshPostgres } from './support/db';
import { appendMail, listMailbox, startDovecot, type DovecotServer } from './support/dovecot';
import { hsaIdFor, notification } from './support/mails';
import { sleep } from './support/ports';

/** UIDVALIDITY changes and dropped connections, against a real Dovecot and PostgreSQL. */

const PASS = 'secret';
const USERS = { uv: 'uv@orebro.se', drop: 'drop@orebro.se' };
let dovecot: DovecotServer;
let pg: FreshPostgres;
let dataDir: string;
let base: AppContext;

function contextFor(user: string, port: number, extra: Record<string, string> = {}): AppContext {
  return {
    ...base,
    config: parseConfig({
      IMAP_HOST: '127.0.0.1',
      IMAP_PORT: String(port),
      IMAP_SECURE: 'false',
      IMAP_USER: user,
      IMAP_PASSWORD: PASS,
      DATABASE_URL: pg.url,
      DATA_DIR: dataDir,
      LOG_LEVEL: 'silent',
      POLL_CRON: '0 0 1 1 *',
      HTTP_ENABLED: 'false',
      REPLY_PERSONAL_DATA: 'all',
      ...extra,
    }),
  };
}

const count = async (ctx: AppContext, where = sql`true`) =>
  (
    await ctx.database.db
      .select({ n: sql<number>`count(*)::int` })
      .from(messages)
      .where(where)
  )[0]!.n;

beforeAll(async () => {
  [dovecot, pg] = await Promise.all([
    startDovecot({ users: Object.values(USERS).map((user) => ({ user, password: PASS })) }),
    freshPostgres(),
  ]);
  dataDir = await fsp.mkdtemp(path.join(os.tmpdir(), 'lci-res-'));
  base = await createContext(parseConfig({ DATABASE_URL: pg.url, DATA_DIR: dataDir, LOG_LEVEL: 'silent', HTTP_ENABLED: 'false' }));
});

afterAll(async () => {
  await base?.database.close().catch(() => {});
  await Promise.allSettled([dovecot?.stop(), pg?.drop()]);
  if (dataDir) await fsp.rm(dataDir, { recursive: true, force: true });
});

test('a UIDVALIDITY change reprocesses nothing: a mail seen before is only moved, a new one is processed', async () => {
  const ctx = contextFor(USERS.uv, dovecot.port, { IMAP_MAILBOX: 'Anmalningar' });
  const imap = new ImapFlow({ host: '127.0.0.1', port: dovecot.port, secure: false, auth: { user: USERS.uv, pass: PASS }, logger: false });
  await imap.connect();
  await imap.mailboxCreate('Anmalningar');
  const a = notification({
    from: 'karin@omsorgshuset.se',
    fromName: 'Karin',
    subject: 'Anmälan A',
    persons: [{ name: 'Lisa Berg', function: 'Enhetschef' }],
  });
  await appendMail(dovecot, USERS.uv, PASS, a.raw, 'Anmalningar');
  await pollOnce(ctx);
  const [before] = await ctx.database.db
    .select()
    .from(mailboxState)
    .where(sql`${mailboxState.mailbox} like ${`${USERS.uv}@%`}`);
  expect(await count(ctx)).toBe(1);
  const repliesBefore = (await ctx.database.db.select().from(outbox)).length;

  // The folder is deleted and made again: new UIDVALIDITY, UIDs start over; mail A comes back.
  await imap.mailboxDelete('Anmalningar');
  await imap.mailboxCreate('Anmalningar');
  await imap.logout();
  const b = notification({
    from: 'karin@omsorgshuset.se',
    fromName: 'Karin',
    subject: 'Anmälan B',
    persons: [{ name: 'Omar Said', function: 'Planerare', hsaId: hsaIdFor(77), user: 'omasai' }],
  });
  await appendMail(dovecot, USERS.uv, PASS, a.raw, 'Anmalningar');
  await appendMail(dovecot, USERS.uv, PASS, b.raw, 'Anmalningar');
  await pollOnce(ctx);

  const [after] = await ctx.database.db.select().from(mailboxState).where(eq(mailboxState.mailbox, before!.mailbox));
  expect(after!.uidValidity).not.toBe(before!.uidValidity);
  expect(after!.lastUid).toBe(2);
  expect(await count(ctx)).toBe(2); // A once, B once
  const replies = await ctx.database.db.select().from(outbox);
  expect(replies.length - repliesBefore).toBe(1); // only B's receipt: A was not answered twice
  expect(replies.at(-1)!.kind).toBe('receipt');
  expect(await listMailbox(dovecot, USERS.uv, PASS, 'Anmalningar')).toEqual([]);
  expect((await listMailbox(dovecot, USERS.uv, PASS, 'Behandlat')).map((m) => m.subject)).toEqual(['Anmälan A', 'Anmälan A', 'Anmälan B']);
});

test('a dropped IMAP connection is reconnected and IDLE takes new mail again', async () => {
  // A loopback proxy in front of Dovecot lets the test cut the worker's connections.
  const sockets = new Set<net.Socket>();
  const proxy = net.createServer((client) => {
    const upstream = net.connect(dovecot.port, '127.0.0.1');
    for (const s of [client, upstream]) {
      sockets.add(s);
      s.on('close', () => sockets.delete(s));
      s.on('error', () => {});
    }
    client.pipe(upstream).pipe(client);
  });
  await new Promise<void>((r) => proxy.listen(0, '127.0.0.1', r));
  const port = (proxy.address() as net.AddressInfo).port;
  const ctx = contextFor(USERS.drop, port);
  const worker = new Worker(ctx);
  try {
    await worker.start();
    expect(worker.intakeStatus.ok).toBe(true);
    for (const s of sockets) s.destroy();
    // The drop is noticed (the first reconnect comes quickly, so look often rather than once later).
    let sawDown = false;
    for (const t = Date.now(); Date.now() - t < 2000 && !sawDown; await sleep(5)) sawDown = !worker.intakeStatus.ok;
    expect(sawDown).toBe(true);

    const m = notification({
      from: 'anna@attendo.se',
      fromName: 'Anna',
      subject: 'Efter avbrottet',
      persons: [{ name: 'Sara Lind', function: 'Samordnare' }],
    });
    await appendMail(dovecot, USERS.drop, PASS, m.raw);
    const t0 = Date.now();
    while (Date.now() - t0 < 15_000 && (await count(ctx, eq(messages.messageId, m.messageId))) === 0) await sleep(100);
    expect(await count(ctx, eq(messages.messageId, m.messageId))).toBe(1);
    expect(worker.intakeStatus.ok).toBe(true);
    console.log(`reconnected and processed ${Date.now() - t0} ms after the mail was appended`);
  } finally {
    await worker.stop();
    await new Promise<void>((r) => proxy.close(() => r()));
  }
});
