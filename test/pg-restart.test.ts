/**
 * PostgreSQL restarted 20 times under load (a private cluster: `pg_ctl restart`, fast and
 * immediate in turn) while the real CLI worker takes mail from Dovecot and sends replies to an
 * SMTP server. The worker stays alive throughout (the postgres.js fault is contained), every mail
 * is stored once, every reply reaches the SMTP server once.
 */
import { spawn, type ChildProcess } from 'node:child_process';
import fs from 'node:fs';
import fsp from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import { inArray, sql } from 'drizzle-orm';
import { ImapFlow } from 'imapflow';
import { openDatabase, type Database } from '../src/db/client';
import { messages, outbox, tasks } from '../src/db/schema';
import { listMailbox, startDovecot, type DovecotServer } from './support/dovecot';
import { hsaIdFor, notification } from './support/mails';
import { startPgCluster, type PgCluster } from './support/pg-cluster';
import { sleep } from './support/ports';
import { startSmtpSink, type SmtpSink } from './support/smtp';

jest.setTimeout(180_000);

const ROOT = path.resolve(__dirname, '..');
const USER = 'restart@orebro.se';
const PASS = 'secret';
const RESTARTS = 20;
const PER_ROUND = 6;

let dovecot: DovecotServer;
let smtp: SmtpSink;
let cluster: PgCluster;
let dataDir: string;

beforeAll(async () => {
  [dovecot, smtp, cluster] = await Promise.all([
    startDovecot({ users: [{ user: USER, password: PASS }] }),
    startSmtpSink(),
    startPgCluster(),
  ]);
  dataDir = await fsp.mkdtemp(path.join(os.tmpdir(), 'lci-pgr-'));
});

afterAll(async () => {
  await Promise.allSettled([dovecot?.stop(), smtp?.stop(), cluster?.destroy()]);
  if (dataDir) await fsp.rm(dataDir, { recursive: true, force: true });
});

test(`${RESTARTS} PostgreSQL restarts under load: the worker lives, nothing lost or doubled`, async () => {
  const migrated = await openDatabase({ url: cluster.url });
  await migrated.close();
  const logFile = path.join(dataDir, 'worker.log');
  const out = fs.openSync(logFile, 'a');
  const child: ChildProcess = spawn(path.join(ROOT, 'node_modules/.bin/tsx'), ['src/cli.ts', 'worker'], {
    cwd: ROOT,
    detached: true,
    stdio: ['ignore', out, out],
    env: {
      PATH: process.env.PATH ?? '/usr/bin:/bin',
      HOME: os.tmpdir(),
      IMAP_HOST: '127.0.0.1',
      IMAP_PORT: String(dovecot.port),
      IMAP_SECURE: 'false',
      IMAP_USER: USER,
      IMAP_PASSWORD: PASS,
      SMTP_HOST: smtp.host,
      SMTP_PORT: String(smtp.port),
      SMTP_SECURE: 'false',
      DATABASE_URL: cluster.url,
      DATA_DIR: dataDir,
      LOG_LEVEL: 'info',
      HTTP_ENABLED: 'false',
      REPLY_MAX_PER_RECIPIENT_PER_HOUR: '10000',
    },
  });
  fs.closeSync(out);
  const imap = new ImapFlow({
    host: '127.0.0.1',
    port: dovecot.port,
    secure: false,
    logger: false,
    auth: { user: USER, pass: PASS },
    disableAutoIdle: true,
  });
  await imap.connect();
  let db: Database | null = null;
  const alive = () => child.exitCode === null && child.signalCode === null;
  // A death says how and with the log's end, so a rare failure can be read from one CI run.
  const mustLive = (where: string) => {
    if (alive()) return;
    const tail = fs.readFileSync(logFile, 'utf8').split('\n').slice(-30).join('\n');
    throw new Error(`worker died ${where} (exit ${child.exitCode}, signal ${child.signalCode}):\n${tail}`);
  };
  try {
    const N = RESTARTS * PER_ROUND;
    const expected: string[] = [];
    const restartMs: number[] = [];
    for (let r = 0; r < RESTARTS; r++) {
      for (let i = 0; i < PER_ROUND; i++) {
        const k = r * PER_ROUND + i;
        const complete = k % 3 !== 0;
        const m = notification({
          from: `pgr${k % 7}@omsorgshuset.se`,
          fromName: 'Utförare',
          subject: `Omstart ${k}`,
          persons: [{ name: 'Kim Ek', function: 'Enhetschef', ...(complete ? { hsaId: hsaIdFor(9_000 + k) } : {}), user: `pgr${k}` }],
        });
        expected.push(m.messageId);
        await imap.append('INBOX', m.raw);
      }
      await sleep(150 + (r % 4) * 120);
      restartMs.push(await cluster.restart(r % 2 === 0 ? 'fast' : 'immediate'));
      mustLive(`after restart ${r + 1}`);
    }
    // All taken in and answered, with the worker alive all along.
    db = await openDatabase({ url: cluster.url, migrate: false });
    const t0 = Date.now();
    let state = { stored: 0, open: 0, inbox: -1 };
    while (Date.now() - t0 < 90_000) {
      mustLive('while the backlog settled');
      const [stored] = await db.db
        .select({ n: sql<number>`count(*)::int` })
        .from(messages)
        .where(inArray(messages.messageId, expected));
      const [open] = await db.db
        .select({ n: sql<number>`count(*)::int` })
        .from(outbox)
        .where(inArray(outbox.status, ['pending', 'sending']));
      state = { stored: stored!.n, open: open!.n, inbox: (await listMailbox(dovecot, USER, PASS, 'INBOX')).length };
      if (state.stored === N && state.open === 0 && state.inbox === 0) break;
      await sleep(500);
    }
    const settledS = (Date.now() - t0) / 1000;
    const rows = await db.db.select({ messageId: outbox.messageId, status: outbox.status }).from(outbox);
    const perId = new Map<string, number>();
    for (const m of smtp.messages) perId.set(m.parsed.messageId ?? '', (perId.get(m.parsed.messageId ?? '') ?? 0) + 1);
    const duplicates = [...perId.values()].filter((n) => n > 1).length;
    const taskRows = await db.db.select({ hsaId: tasks.hsaId }).from(tasks);
    const log = fs.readFileSync(logFile, 'utf8');
    const figures = {
      restarts: RESTARTS,
      restartMs: { min: Math.min(...restartMs), max: Math.max(...restartMs) },
      mails: N,
      stored: state.stored,
      inbox: state.inbox,
      replies: rows.length,
      smtpReceived: smtp.messages.length,
      smtpDuplicates: duplicates,
      tasks: taskRows.length,
      driverFaultsContained: (log.match(/DB_DRIVER_FAULT/g) ?? []).length,
      settledAfterLastRestartS: settledS,
    };
    console.log(`PostgreSQL restarts: ${JSON.stringify(figures)}`);
    mustLive('at the end');
    expect(state).toEqual({ stored: N, open: 0, inbox: 0 });
    expect(rows).toHaveLength(N);
    expect(rows.every((r) => r.status === 'sent')).toBe(true);
    expect(duplicates).toBe(0);
    expect(smtp.messages).toHaveLength(N);
    expect(new Set(taskRows.map((t) => t.hsaId)).size).toBe(taskRows.length);
    expect(taskRows).toHaveLength(expected.filter((_, k) => k % 3 !== 0).length);
    expect(log).not.toMatch(/"level":60/); // no fatal
  } finally {
    await imap.logout().catch(() => imap.close());
    await db?.close();
    if (child.pid && alive()) {
      process.kill(child.pid, 'SIGTERM');
      await Promise.race([new Promise((r) => child.once('exit', r)), sleep(12_000)]);
      try {
        process.kill(-child.pid, 'SIGKILL');
      } catch {
        /* gone */
      }
    }
  }
});
