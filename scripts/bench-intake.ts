/**
 * Intake benchmark on real servers: a private Dovecot, a fresh PostgreSQL database and an SMTP
 * sink. APPENDs N generated notification mails (a mix of complete and incomplete), then starts the
 * Worker and measures until every mail is processed (N messages rows, INBOX empty) and every
 * reply has reached the SMTP server.
 *
 *   npx tsx scripts/bench-intake.ts [--count 1000] [--live] [--connections 4] [--timeout 600]
 *
 * --live starts the Worker first and APPENDs while it runs (IDLE-driven intake) instead of
 * APPENDing a backlog first. Needs Dovecot and PostgreSQL as for the test suite
 * (scripts/install-test-deps.sh).
 */
import crypto from 'node:crypto';
import fsp from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import { eq, sql } from 'drizzle-orm';
import { ImapFlow } from 'imapflow';
import { createContext } from '../src/app';
import { parseConfig } from '../src/config';
import type { AppContext } from '../src/context';
import { messages, outbox, tasks } from '../src/db/schema';
import { Worker } from '../src/worker';
import { freshPostgres, type FreshPostgres } from '../test/support/db';
import { startDovecot, type DovecotServer } from '../test/support/dovecot';
import { startSmtpSink, type SmtpSink } from '../test/support/smtp';
import { hsaIdFor } from '../test/support/mails';

const USER = 'vardochstod@orebro.se';
const PASS = 'secret';

function arg(name: string, def: number): number {
  const i = process.argv.indexOf(`--${name}`);
  const v = i >= 0 ? Number(process.argv[i + 1]) : def;
  if (!Number.isFinite(v) || v <= 0) {
    console.error(`bench-intake: --${name} must be a positive number`);
    process.exit(2);
  }
  return v;
}
const COUNT = arg('count', 1000);
const CONNECTIONS = arg('connections', 4);
const TIMEOUT_MS = arg('timeout', 600) * 1000;
const LIVE = process.argv.includes('--live');

// ---------------------------------------------------------------------------------------------
// Generated mail

const FIRST = ['Lisa', 'Omar', 'Erik', 'Sara', 'Anna', 'Karin', 'Nils', 'Maja', 'Per', 'Åsa'];
const LAST = ['Berg', 'Said', 'Ek', 'Lind', 'Holm', 'Sjö', 'Nord', 'Falk', 'Öberg', 'Dahl'];
const FUNCS = ['Enhetschef', 'Undersköterska', 'Sjuksköterska', 'Samordnare'];
const DOMAINS = ['omsorgshuset.se', 'hemtjanstnarke.se', 'attendo.se', 'vardaga.se'];

const b64 = (s: string) => `=?utf-8?B?${Buffer.from(s, 'utf8').toString('base64')}?=`;

/** Every 4th mail lacks the HSA-id (a missing-info reply); the others are complete (a receipt). */
function generate(i: number): { raw: string; complete: boolean } {
  const complete = i % 4 !== 3;
  const domain = DOMAINS[i % DOMAINS.length]!;
  const sender = `handlaggare${i % 25}@${domain}`;
  const name = `${FIRST[i % 10]!} ${LAST[Math.floor(i / 10) % 10]!}`;
  const fields = [
    `Namn på behörig: ${name}`,
    `Funktion: ${FUNCS[i % FUNCS.length]!}`,
    ...(complete ? [`HSA-id: ${hsaIdFor(i)}`] : []),
    `Användarnamn i Treserva/TES: user${i}`,
  ];
  const raw = [
    `From: ${b64(`Handläggare ${i % 25}`)} <${sender}>`,
    `To: ${USER}`,
    `Subject: ${b64(`Anmälan SITHS-kort ${name} nr ${i}`)}`,
    `Date: ${new Date().toUTCString().replace('GMT', '+0000')}`,
    `Message-ID: <bench.${i}.${crypto.randomBytes(4).toString('hex')}@${domain}>`,
    'MIME-Version: 1.0',
    'Content-Type: text/plain; charset=utf-8',
    'Content-Transfer-Encoding: 8bit',
    '',
    'Hej!',
    '',
    'Här kommer uppgifterna till Lifecare SP.',
    '',
    ...fields,
    '',
    'Med vänliga hälsningar',
    `Handläggare ${i % 25}`,
    '',
  ].join('\r\n');
  return { raw, complete };
}

// ---------------------------------------------------------------------------------------------

async function appendAll(server: DovecotServer, raws: string[], connections: number): Promise<void> {
  const per = Math.ceil(raws.length / connections);
  await Promise.all(
    Array.from({ length: connections }, async (_, c) => {
      const slice = raws.slice(c * per, (c + 1) * per);
      if (slice.length === 0) return;
      const client = new ImapFlow({
        host: server.host,
        port: server.port,
        secure: false,
        logger: false,
        auth: { user: USER, pass: PASS },
        disableAutoIdle: true,
      });
      await client.connect();
      try {
        for (const raw of slice) if (!(await client.append('INBOX', raw))) throw new Error('APPEND failed');
      } finally {
        await client.logout().catch(() => client.close());
      }
    }),
  );
}

async function inboxCount(server: DovecotServer): Promise<number> {
  const client = new ImapFlow({
    host: server.host,
    port: server.port,
    secure: false,
    logger: false,
    auth: { user: USER, pass: PASS },
    disableAutoIdle: true,
  });
  await client.connect();
  try {
    const st = await client.status('INBOX', { messages: true });
    return st ? (st.messages ?? 0) : -1;
  } finally {
    await client.logout().catch(() => client.close());
  }
}

const rowCount = async (ctx: AppContext) => (await ctx.database.db.select({ n: sql<number>`count(*)::int` }).from(messages))[0]?.n ?? 0;
const sleep = (ms: number) => new Promise<void>((r) => setTimeout(r, ms));
const secs = (ms: number) => (ms / 1000).toFixed(2);
const rate = (n: number, ms: number) => (ms > 0 ? (n / (ms / 1000)).toFixed(1) : '∞');

async function main(): Promise<void> {
  let dovecot: DovecotServer | undefined;
  let smtp: SmtpSink | undefined;
  let pg: FreshPostgres | undefined;
  let ctx: AppContext | undefined;
  let worker: Worker | undefined;
  const dataDir = await fsp.mkdtemp(path.join(os.tmpdir(), 'lci-bench-'));
  try {
    const tSetup = Date.now();
    [dovecot, smtp, pg] = await Promise.all([startDovecot(), startSmtpSink(), freshPostgres()]);
    const config = parseConfig({
      IMAP_HOST: dovecot.host,
      IMAP_PORT: String(dovecot.port),
      IMAP_SECURE: 'false',
      IMAP_USER: USER,
      IMAP_PASSWORD: PASS,
      SMTP_HOST: smtp.host,
      SMTP_PORT: String(smtp.port),
      SMTP_SECURE: 'false',
      DATABASE_URL: pg.url,
      DATA_DIR: dataDir,
      LOG_LEVEL: process.env.LOG_LEVEL ?? 'silent',
      POLL_CRON: '0 0 1 1 *',
      HTTP_ENABLED: 'false',
      REPLY_MAX_PER_RECIPIENT_PER_HOUR: '1000000',
    });
    ctx = await createContext(config);
    const mails = Array.from({ length: COUNT }, (_, i) => generate(i));
    const expectedTasks = mails.filter((m) => m.complete).length;
    const bytes = mails.reduce((n, m) => n + Buffer.byteLength(m.raw), 0);
    console.log(
      `bench-intake: ${COUNT} mails (${expectedTasks} complete, ${COUNT - expectedTasks} incomplete, ${(bytes / 1024).toFixed(0)} KB), mode ${LIVE ? 'live (worker running during APPEND)' : 'backlog (APPEND, then start the worker)'}, setup ${secs(Date.now() - tSetup)} s`,
    );

    let tWorker = 0;
    let started: Promise<void> = Promise.resolve();
    // Not awaited: worker.start() returns only after its start-up tick (intake, then sending).
    const startWorker = () => {
      worker = new Worker(ctx!);
      tWorker = Date.now();
      started = worker.start();
    };
    if (LIVE) {
      startWorker();
      await started;
    }
    const tAppend = Date.now();
    await appendAll(
      dovecot,
      mails.map((m) => m.raw),
      CONNECTIONS,
    );
    const appendMs = Date.now() - tAppend;
    console.log(
      `APPEND phase: ${COUNT} mails over ${CONNECTIONS} IMAP connections in ${secs(appendMs)} s (${rate(COUNT, appendMs)} mails/s)`,
    );
    if (!LIVE) startWorker();

    // Processed: every mail has its row and INBOX is empty.
    const deadline = tAppend + TIMEOUT_MS;
    let lastPrint = Date.now();
    for (;;) {
      const rows = await rowCount(ctx);
      if (rows >= COUNT && (await inboxCount(dovecot)) === 0) break;
      if (Date.now() > deadline) throw new Error(`timeout: ${rows} of ${COUNT} processed`);
      if (Date.now() - lastPrint > 5000) {
        console.log(`  … ${rows} processed, ${smtp.messages.length} replies sent`);
        lastPrint = Date.now();
      }
      await sleep(100);
    }
    const tProcessed = Date.now();

    // Replies: one per mail (receipt or missing-info), all at the SMTP sink.
    for (;;) {
      if (smtp.messages.length >= COUNT) break;
      if (Date.now() > deadline) throw new Error(`timeout: ${smtp.messages.length} of ${COUNT} replies sent`);
      if (Date.now() - lastPrint > 5000) {
        console.log(`  … all processed, ${smtp.messages.length} replies sent`);
        lastPrint = Date.now();
      }
      await sleep(100);
    }
    const tReplies = Date.now();
    await started;

    const processMs = tProcessed - tWorker;
    const totalMs = tProcessed - tAppend;
    console.log(
      `processed: ${COUNT} mails ${secs(processMs)} s after the worker started (${rate(COUNT, processMs)} mails/s, ${(processMs / COUNT).toFixed(1)} ms/mail)`,
    );
    console.log(`first APPEND → all ${COUNT} processed: ${secs(totalMs)} s (${rate(COUNT, totalMs)} mails/s)`);
    console.log(
      `first APPEND → all ${COUNT} replies sent: ${secs(tReplies - tAppend)} s (replies done ${secs(tReplies - tProcessed)} s after intake)`,
    );

    const [t] = await ctx.database.db.select({ n: sql<number>`count(*)::int` }).from(tasks);
    const [o] = await ctx.database.db
      .select({ n: sql<number>`count(*)::int` })
      .from(outbox)
      .where(eq(outbox.status, 'sent'));
    const ids = new Set(smtp.messages.map((m) => m.parsed.messageId));
    const ok = t?.n === expectedTasks && o?.n === COUNT && ids.size === COUNT;
    console.log(
      `check: tasks ${t?.n}/${expectedTasks}, outbox sent ${o?.n}/${COUNT}, distinct reply Message-IDs ${ids.size}/${COUNT} → ${ok ? 'ok' : 'MISMATCH'}`,
    );
    if (!ok) process.exitCode = 1;
  } finally {
    await worker?.stop().catch(() => {});
    await ctx?.database.close().catch(() => {});
    await Promise.allSettled([dovecot?.stop(), smtp?.stop(), pg?.drop()]);
    await fsp.rm(dataDir, { recursive: true, force: true });
  }
}

main().catch((err: unknown) => {
  console.error(err);
  process.exit(1);
});
