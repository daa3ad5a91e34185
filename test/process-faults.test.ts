/**
 * The worker process under faults, through the real CLI where it matters: IMAP gone for 12 s while
 * idle and back, SIGTERM during a backlog, a start without the database, fatal errors. Real Dovecot
 * (behind a TCP proxy the test cuts), PostgreSQL (the shared server, and a private cluster the test
 * starts late).
 */
import { spawn, type ChildProcess } from 'node:child_process';
import fs from 'node:fs';
import fsp from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import { eq, sql } from 'drizzle-orm';
import { ImapFlow } from 'imapflow';
import { createContext } from '../src/app';
import { parseConfig } from '../src/config';
import type { AppContext } from '../src/context';
import { openDatabase } from '../src/db/client';
import { messages } from '../src/db/schema';
import { Worker } from '../src/worker';
import { freshPostgres, type FreshPostgres } from './support/db';
import { appendMail, listMailbox, startDovecot, type DovecotServer } from './support/dovecot';
import { hsaIdFor, notification } from './support/mails';
import { startPgCluster } from './support/pg-cluster';
import { freePort, sleep } from './support/ports';
import { startTcpProxy } from './support/tcp-proxy';

jest.setTimeout(120_000);

const ROOT = path.resolve(__dirname, '..');
const TSX = path.join(ROOT, 'node_modules/.bin/tsx');
const PASS = 'secret';
const USERS = { idle: 'idle@orebro.se', term: 'term@orebro.se', nodb: 'nodb@orebro.se' };
let dovecot: DovecotServer;
let pg: FreshPostgres;
let dataDir: string;

function env(user: string, extra: Record<string, string> = {}): Record<string, string> {
  return {
    IMAP_HOST: '127.0.0.1',
    IMAP_PORT: String(dovecot.port),
    IMAP_SECURE: 'false',
    IMAP_USER: user,
    IMAP_PASSWORD: PASS,
    DATABASE_URL: pg.url,
    DATA_DIR: dataDir,
    LOG_LEVEL: process.env.LCI_TEST_LOG_LEVEL ?? 'silent',
    POLL_CRON: '0 0 1 1 *',
    HTTP_ENABLED: 'false',
    REPLY_MAX_PER_RECIPIENT_PER_HOUR: '10000',
    ...extra,
  };
}

/** The real CLI `worker` in its own process group, logging to `logFile`. */
function startCli(e: Record<string, string>, logFile: string): ChildProcess {
  const out = fs.openSync(logFile, 'a');
  try {
    return spawn(TSX, ['src/cli.ts', 'worker'], {
      cwd: ROOT,
      env: { PATH: process.env.PATH ?? '/usr/bin:/bin', HOME: os.tmpdir(), ...e },
      detached: true,
      stdio: ['ignore', out, out],
    });
  } finally {
    fs.closeSync(out);
  }
}
const exited = (c: ChildProcess) =>
  c.exitCode !== null || c.signalCode !== null ? Promise.resolve() : new Promise<void>((r) => c.once('exit', () => r()));
const killGroup = (c: ChildProcess | null) => {
  if (c?.pid && c.exitCode === null && c.signalCode === null) {
    try {
      process.kill(-c.pid, 'SIGKILL');
    } catch {
      /* gone */
    }
  }
};

async function appendMany(user: string, raws: string[]): Promise<void> {
  const c = new ImapFlow({
    host: '127.0.0.1',
    port: dovecot.port,
    secure: false,
    logger: false,
    auth: { user, pass: PASS },
    disableAutoIdle: true,
  });
  await c.connect();
  try {
    for (const raw of raws) await c.append('INBOX', raw);
  } finally {
    await c.logout().catch(() => c.close());
  }
}

beforeAll(async () => {
  [dovecot, pg] = await Promise.all([
    startDovecot({ users: Object.values(USERS).map((user) => ({ user, password: PASS })) }),
    freshPostgres(),
  ]);
  dataDir = await fsp.mkdtemp(path.join(os.tmpdir(), 'lci-proc-'));
  await (await openDatabase({ url: pg.url })).close(); // migrated before any child starts
});

afterAll(async () => {
  await Promise.allSettled([dovecot?.stop(), pg?.drop()]);
  if (dataDir) await fsp.rm(dataDir, { recursive: true, force: true });
});

test('IMAP gone for 12 s while idle: back within 10 s of its return', async () => {
  const proxy = await startTcpProxy({ host: '127.0.0.1', port: dovecot.port });
  const ctx: AppContext = await createContext(parseConfig(env(USERS.idle, { IMAP_PORT: String(proxy.port) })));
  const worker = new Worker(ctx);
  try {
    await worker.start();
    expect(worker.intakeStatus.ok).toBe(true);
    await proxy.cut();
    await sleep(12_000);
    expect(worker.intakeStatus.ok).toBe(false);
    const m = notification({
      from: 'anna@attendo.se',
      fromName: 'Anna',
      subject: 'Medan servern var borta',
      persons: [{ name: 'Sara Lind', function: 'Samordnare', hsaId: hsaIdFor(41), user: 'sarlin' }],
    });
    await appendMail(dovecot, USERS.idle, PASS, m.raw);
    await proxy.restore();
    const back = Date.now();
    const seen = () =>
      ctx.database.db
        .select({ n: sql<number>`count(*)::int` })
        .from(messages)
        .where(eq(messages.messageId, m.messageId))
        .then((r) => r[0]!.n);
    while (Date.now() - back < 15_000 && (await seen()) === 0) await sleep(100);
    const s = (Date.now() - back) / 1000;
    console.log(`IMAP down 12 s while idle: mail processed ${s.toFixed(1)} s after the server returned`);
    expect(await seen()).toBe(1);
    expect(s).toBeLessThan(10);
  } finally {
    await worker.stop();
    await ctx.database.close();
    await proxy.close();
  }
});

test('SIGTERM during a backlog: the message in hand is finished, the mailbox released, exit 0 within 10 s', async () => {
  const N = 150;
  const mails = Array.from(
    { length: N },
    (_, i) =>
      notification({
        from: `term${i % 5}@omsorgshuset.se`,
        fromName: 'Utförare',
        subject: `Backlog ${i}`,
        persons: [{ name: 'Kim Ek', function: 'Enhetschef', hsaId: hsaIdFor(5_000 + i), user: `kim${i}` }],
      }).raw,
  );
  await appendMany(USERS.term, mails);
  const db = await openDatabase({ url: pg.url, migrate: false });
  const rows = () =>
    db.db
      .select({ n: sql<number>`count(*)::int` })
      .from(messages)
      .where(sql`${messages.mailbox} like ${`${USERS.term}@%`}`)
      .then((r) => r[0]!.n);
  const logFile = path.join(dataDir, 'term.log');
  let child: ChildProcess | null = null;
  try {
    // Intake works in batches: the batch in hand is finished (5 here), the rest waits in INBOX.
    child = startCli(env(USERS.term, { LOG_LEVEL: 'info', INTAKE_BATCH: '5' }), logFile);
    const c = child;
    const t0 = Date.now();
    while ((await rows()) < 10) {
      if (c.exitCode !== null) throw new Error(`worker exited: ${fs.readFileSync(logFile, 'utf8').slice(-2000)}`);
      if (Date.now() - t0 > 60_000) throw new Error('no progress');
      await sleep(20);
    }
    // Counted just after the signal: a mail committed between a count before it and the kill would
    // otherwise pass for one processed after it.
    const signalAt = Date.now();
    process.kill(c.pid!, 'SIGTERM');
    const atSignal = await rows();
    await Promise.race([exited(c), sleep(15_000)]);
    const exitS = (Date.now() - signalAt) / 1000;
    const atExit = await rows();
    const inbox = (await listMailbox(dovecot, USERS.term, PASS, 'INBOX')).length;
    const moved = (await listMailbox(dovecot, USERS.term, PASS, 'Behandlat')).length;
    console.log(
      `SIGTERM with a backlog of ${N - atSignal}: exit ${c.exitCode} after ${exitS.toFixed(2)} s; ${atExit - atSignal} more mail(s) processed after the signal; INBOX ${inbox}, Behandlat ${moved}`,
    );
    expect(c.exitCode).toBe(0);
    expect(exitS).toBeLessThan(10);
    expect(atExit - atSignal).toBeLessThanOrEqual(5 + 1); // the batch in hand (and one mail in flight at the signal)
    expect(moved).toBe(atExit); // what was done was moved; the rest waits in INBOX
    expect(inbox).toBe(N - atExit);
  } finally {
    killGroup(child);
    await db.close();
  }
});

test('started without its database: waits with backoff, /healthz says so, goes on when PostgreSQL comes', async () => {
  const cluster = await startPgCluster();
  await cluster.stop();
  const httpPort = await freePort();
  const logFile = path.join(dataDir, 'nodb.log');
  let child: ChildProcess | null = null;
  try {
    child = startCli(
      env(USERS.nodb, {
        DATABASE_URL: cluster.url,
        LOG_LEVEL: 'info',
        HTTP_ENABLED: 'true',
        HTTP_PORT: String(httpPort),
        METRICS_TOKEN: 'test-metrics-token',
      }),
      logFile,
    );
    const c = child;
    type Health = { status: string; database: { ok: boolean; detail: string } };
    let health = null as Health | null;
    const t0 = Date.now();
    while (Date.now() - t0 < 20_000) {
      const res = await fetch(`http://127.0.0.1:${httpPort}/healthz`).catch(() => null);
      if (res) {
        health = (await res.json()) as Health;
        if (health && /attempt [3-9]/.test(health.database.detail)) break;
      }
      if (c.exitCode !== null) throw new Error(`worker exited (${c.exitCode}): ${fs.readFileSync(logFile, 'utf8').slice(-2000)}`);
      await sleep(200);
    }
    expect(health?.status).toBe('starting');
    expect(health?.database.detail).toMatch(/^waiting for the database \(attempt \d+/);
    expect(c.exitCode).toBeNull();
    const waits = fs
      .readFileSync(logFile, 'utf8')
      .split('\n')
      .filter((l) => l.includes('database not reachable; waiting')).length;
    expect(waits).toBeGreaterThanOrEqual(3);

    await cluster.start();
    const m = notification({
      from: 'nils@vardaga.se',
      fromName: 'Nils',
      subject: 'Efter starten',
      persons: [{ name: 'Nils Ek', function: 'Enhetschef', hsaId: hsaIdFor(42), user: 'nilek' }],
    });
    await appendMail(dovecot, USERS.nodb, PASS, m.raw);
    const db = await openDatabase({ url: cluster.url, migrate: false }).catch(() => null);
    let processed = 0;
    const t1 = Date.now();
    while (Date.now() - t1 < 40_000 && processed === 0) {
      processed = db
        ? await db.db
            .select({ n: sql<number>`count(*)::int` })
            .from(messages)
            .then((r) => r[0]!.n)
            .catch(() => 0)
        : 0;
      await sleep(200);
    }
    await db?.close();
    expect(processed).toBe(1);
    // The details are for staff and monitoring: the metrics token shows them.
    const res = await fetch(`http://127.0.0.1:${httpPort}/healthz`, { headers: { authorization: 'Bearer test-metrics-token' } });
    expect(((await res.json()) as { database: { ok: boolean } }).database.ok).toBe(true);
    process.kill(c.pid!, 'SIGTERM');
    await Promise.race([exited(c), sleep(12_000)]);
    expect(c.exitCode).toBe(0);
  } finally {
    killGroup(child);
    await cluster.destroy();
  }
});

test('unhandled rejections end the process with exit code 1 (logged); the postgres.js restart fault is contained', async () => {
  const script = (body: string) => `
    const { installFatalHandlers } = require(${JSON.stringify(path.join(ROOT, 'src/process-guard.ts'))});
    const { rootLogger } = require(${JSON.stringify(path.join(ROOT, 'src/log.ts'))});
    installFatalHandlers(rootLogger);
    ${body}`;
  const run = (body: string) =>
    new Promise<{ code: number | null; out: string }>((resolve) => {
      const c = spawn(TSX, ['-e', script(body)], { cwd: ROOT, env: { PATH: process.env.PATH ?? '', LOG_LEVEL: 'info' } });
      let out = '';
      c.stdout.on('data', (d: Buffer) => (out += d.toString()));
      c.stderr.on('data', (d: Buffer) => (out += d.toString()));
      c.on('exit', (code) => resolve({ code, out }));
    });
  const rejected = await run(`Promise.reject(new Error('nobody caught this')); setTimeout(() => {}, 5000);`);
  expect(rejected.code).toBe(1);
  expect(rejected.out).toContain('"kind":"unhandledRejection"');
  expect(rejected.out).toContain('nobody caught this');
  expect(rejected.out).toMatch(/"stack":"\s+at /);
  const fault = await run(`
    const e = new TypeError("Cannot read properties of null (reading 'write')");
    e.stack = "TypeError: Cannot read properties of null (reading 'write')\\n    at nextWrite (/app/node_modules/postgres/cjs/src/connection.js:255:22)\\n    at process.processImmediate (node:internal/timers:483:21)";
    setImmediate(() => { throw e; });
    setTimeout(() => { console.log('still alive'); process.exit(0); }, 300);`);
  expect(fault.code).toBe(0);
  expect(fault.out).toContain('DB_DRIVER_FAULT');
  expect(fault.out).toContain('still alive');
});
