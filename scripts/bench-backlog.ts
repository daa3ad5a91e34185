/**
 * Backlog benchmark against the physical floor, in one run, on real servers (a private Dovecot, a
 * fresh PostgreSQL database, an SMTP sink):
 *
 *   npm run bench:backlog -- [--count 1000] [--runs 1] [--latency 20] [--timeout 900] [--attachment-mb 0]
 *
 * Per run: N generated notification mails are APPENDed; the floor is a bare imapflow `FETCH 1:*`
 * of that INBOX plus a bare mailparser `simpleParser` over the same bytes; then the compiled worker
 * (`node --max-semi-space-size=4 --max-old-space-size=512 dist/cli.js worker`, as the service runs it; built first) is
 * started as its own process and timed to all mails processed (N message rows, INBOX empty) and
 * all replies at the SMTP sink. Its peak RSS is read from /proc (VmHWM), its SQL statements are
 * counted from what it writes to PostgreSQL's sockets (scripts/bench/, loaded with --require: the
 * worker itself is unchanged). Before the backlog the same worker idles on an empty INBOX for a
 * few seconds (idle RSS); after it, single mails are APPENDed one at a time (latency: APPEND →
 * committed). With --runs R every figure is the median of R runs.
 */
import { execFileSync, spawn, type ChildProcess } from 'node:child_process';
import fs from 'node:fs';
import fsp from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import { ImapFlow } from 'imapflow';
import { simpleParser } from 'mailparser';
import postgres from 'postgres';
import { freshPostgres, type FreshPostgres } from '../test/support/db';
import { startDovecot, type DovecotServer } from '../test/support/dovecot';
import { benchNotification, withAttachment } from '../test/support/mails';
import { startSmtpSink, type RawReceived, type SmtpSink } from '../test/support/smtp';

const USER = 'vardochstod@orebro.se';
const PASS = 'secret';
const ROOT = path.resolve(__dirname, '..');
/** The worker is started as scripts/lifecare-intake.service and `npm start` start it. */
const WORKER_NODE_FLAGS = '--max-semi-space-size=4 --max-old-space-size=512';

function arg(name: string, def: number): number {
  const i = process.argv.indexOf(`--${name}`);
  const v = i >= 0 ? Number(process.argv[i + 1]) : def;
  if (!Number.isFinite(v) || v < 0) {
    console.error(`bench-backlog: --${name} must be a number ≥ 0`);
    process.exit(2);
  }
  return v;
}
const COUNT = arg('count', 1000);
/** Each mail carries an attachment of this many MiB (memory that follows the mail: `--count 1 --attachment-mb 30`). */
const ATTACH_MB = arg('attachment-mb', 0);
const RUNS = Math.max(1, arg('runs', 1));
const LATENCY_MAILS = arg('latency', 20);
const TIMEOUT_MS = arg('timeout', 900) * 1000;

const sleep = (ms: number) => new Promise<void>((r) => setTimeout(r, ms));
const median = (xs: number[]) => {
  const s = [...xs].sort((a, b) => a - b);
  return s.length === 0 ? NaN : s.length % 2 ? s[(s.length - 1) / 2]! : (s[s.length / 2 - 1]! + s[s.length / 2]!) / 2;
};
const pct = (xs: number[], p: number) => {
  const s = [...xs].sort((a, b) => a - b);
  return s.length ? s[Math.min(s.length - 1, Math.ceil((p / 100) * s.length) - 1)]! : NaN;
};

function imap(server: DovecotServer): ImapFlow {
  return new ImapFlow({
    host: server.host,
    port: server.port,
    secure: false,
    logger: false,
    auth: { user: USER, pass: PASS },
    disableAutoIdle: true,
  });
}

async function appendAll(server: DovecotServer, raws: string[], connections = 4): Promise<void> {
  const per = Math.ceil(raws.length / connections);
  await Promise.all(
    Array.from({ length: connections }, async (_, c) => {
      const slice = raws.slice(c * per, (c + 1) * per);
      if (slice.length === 0) return;
      const client = imap(server);
      await client.connect();
      try {
        for (const raw of slice) if (!(await client.append('INBOX', raw))) throw new Error('APPEND failed');
      } finally {
        await client.logout().catch(() => client.close());
      }
    }),
  );
}

/** The floor: connect, one streamed FETCH 1:* of every source, simpleParser over each. */
async function floor(server: DovecotServer): Promise<{ fetchMs: number; parseMs: number; totalMs: number; bytes: number; cpuMs: number }> {
  const cpu0 = process.cpuUsage();
  const t0 = performance.now();
  const client = imap(server);
  await client.connect();
  const sources: Buffer[] = [];
  try {
    await client.mailboxOpen('INBOX');
    for await (const m of client.fetch('1:*', { source: true })) if (m.source) sources.push(m.source);
  } finally {
    await client.logout().catch(() => client.close());
  }
  const t1 = performance.now();
  for (const s of sources) await simpleParser(s);
  const t2 = performance.now();
  const cpu = process.cpuUsage(cpu0);
  return {
    fetchMs: t1 - t0,
    parseMs: t2 - t1,
    totalMs: t2 - t0,
    bytes: sources.reduce((n, s) => n + s.length, 0),
    cpuMs: (cpu.user + cpu.system) / 1000,
  };
}

async function inboxCount(server: DovecotServer): Promise<number> {
  const client = imap(server);
  await client.connect();
  try {
    const st = await client.status('INBOX', { messages: true });
    return st ? (st.messages ?? -1) : -1;
  } finally {
    await client.logout().catch(() => client.close());
  }
}

function procStatus(pid: number): { rssMb: number; hwmMb: number } {
  const s = fs.readFileSync(`/proc/${pid}/status`, 'utf8');
  const kb = (k: string) => Number(new RegExp(`^${k}:\\s+(\\d+)`, 'm').exec(s)?.[1] ?? NaN);
  return { rssMb: kb('VmRSS') / 1024, hwmMb: kb('VmHWM') / 1024 };
}

/** The Message-ID header of a raw message (the sink keeps bytes only). */
function messageIdOf(raw: Buffer): string | undefined {
  const head = raw.subarray(0, raw.indexOf('\r\n\r\n')).toString('latin1');
  return /^message-id:[ \t]*(\S+)/im.exec(head)?.[1];
}

/** CPU seconds (user + system) a process has used, all its threads; 0 once it is gone. */
function cpuSeconds(pid: number): number {
  try {
    const stat = fs.readFileSync(`/proc/${pid}/stat`, 'utf8');
    const f = stat.slice(stat.lastIndexOf(')') + 2).split(' ');
    return (Number(f[11]) + Number(f[12])) / 100; // utime, stime in clock ticks (USER_HZ 100)
  } catch {
    return 0;
  }
}

/** CPU seconds of every PostgreSQL process now running (the server's backends and helpers). */
function postgresCpuSeconds(): number {
  let sum = 0;
  for (const d of fs.readdirSync('/proc')) {
    if (!/^\d+$/.test(d)) continue;
    try {
      if (fs.readFileSync(`/proc/${d}/comm`, 'utf8').trim() === 'postgres') sum += cpuSeconds(Number(d));
    } catch {
      /* gone */
    }
  }
  return sum;
}

interface Spawned {
  child: ChildProcess;
  countFile: string;
  lines: string[];
  statements(): number;
  stop(): Promise<void>;
}

function benchEnv(): Record<string, string> {
  const pairs = (process.env.LCI_BENCH_ENV ?? '').split(/\s+/).filter(Boolean);
  return Object.fromEntries(pairs.map((p) => [p.slice(0, p.indexOf('=')), p.slice(p.indexOf('=') + 1)]));
}

function startWorker(env: Record<string, string>, dataDir: string): Spawned {
  const countFile = path.join(dataDir, `statements-${Date.now()}.txt`);
  // LCI_BENCH_NODE_ARGS: extra node flags for the worker ("--cpu-prof --cpu-prof-dir=/tmp/prof").
  const nodeArgs = [...WORKER_NODE_FLAGS.split(' '), ...(process.env.LCI_BENCH_NODE_ARGS ?? '').split(/\s+/)].filter(Boolean);
  const child = spawn(
    process.execPath,
    [...nodeArgs, '--require', path.join(ROOT, 'scripts/bench/count-statements.js'), 'dist/cli.js', 'worker'],
    {
      cwd: ROOT,
      // LCI_BENCH_ENV: settings for the worker on top of the bench's ("PARSE_THREADS=1 INTAKE_BATCH=100").
      env: { PATH: process.env.PATH ?? '', ...env, ...benchEnv(), LCI_BENCH_COUNT_FILE: countFile },
      stdio: ['ignore', 'pipe', 'pipe'],
    },
  );
  const lines: string[] = [];
  let buf = '';
  child.stdout.on('data', (d: Buffer) => {
    buf += d.toString();
    const parts = buf.split('\n');
    buf = parts.pop()!;
    for (const l of parts) {
      if (/"msg":"(IMAP connected|started)"/.test(l)) lines.push(`${Date.now()} ${l}`);
      // Warnings and errors are shown (the benchmark is only worth its figures when there are none).
      else if (/"level":(4|5|6)\d/.test(l)) process.stderr.write(`worker: ${l.slice(0, 400)}\n`);
    }
  });
  child.stderr.on('data', (d: Buffer) => process.stderr.write(d));
  return {
    child,
    countFile,
    lines,
    statements: () => Number(fs.existsSync(countFile) ? fs.readFileSync(countFile, 'utf8') || 0 : 0),
    stop: () =>
      new Promise<void>((resolve) => {
        if (child.exitCode !== null) return resolve();
        child.once('exit', () => resolve());
        child.kill('SIGTERM');
      }),
  };
}

const connectedAt = (w: Spawned) => {
  const l = w.lines.find((x) => x.includes('"IMAP connected"'));
  return l ? Number(l.split(' ')[0]) : null;
};

interface RunFigures {
  floorMs: number;
  floorFetchMs: number;
  floorParseMs: number;
  processedMs: number;
  processedFromConnectMs: number;
  repliesMs: number;
  idleRssMb: number;
  peakRssMb: number;
  afterRssMb: number;
  statementsPerMail: number;
  /** CPU: the floor's (the bench process), the worker's and PostgreSQL's until all replies were sent. */
  floorCpuMs: number;
  workerCpuMs: number;
  pgCpuMs: number;
  latencyP50Ms: number;
  latencyP95Ms: number;
}

async function oneRun(run: number): Promise<RunFigures> {
  let dovecot: DovecotServer | undefined;
  let smtp: SmtpSink<RawReceived> | undefined;
  let pg: FreshPostgres | undefined;
  let sql: ReturnType<typeof postgres> | undefined;
  let worker: Spawned | undefined;
  const dataDir = await fsp.mkdtemp(path.join(os.tmpdir(), 'lci-backlog-'));
  try {
    [dovecot, smtp, pg] = await Promise.all([startDovecot(), startSmtpSink({ parse: false }), freshPostgres()]);
    sql = postgres(pg.url, { max: 1, onnotice: () => {} });
    const env = {
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
      LOG_LEVEL: 'info',
      POLL_CRON: '0 0 1 1 *',
      HTTP_ENABLED: 'false',
      REPLY_MAX_PER_RECIPIENT_PER_HOUR: '1000000',
      ...(ATTACH_MB > 0 ? { MAIL_MAX_BYTES: String(Math.ceil(ATTACH_MB * 1.5 + 1) * 1048576) } : {}),
    };
    const processed = async () => Number((await sql!`select count(*)::int as n from messages`)[0]!.n);

    // Idle: the worker on an empty INBOX (migrations applied, IMAP connected; no parse thread before a mail).
    worker = startWorker(env, dataDir);
    for (const t0 = Date.now(); connectedAt(worker) === null; await sleep(50))
      if (Date.now() - t0 > 60_000) throw new Error('worker did not connect');
    await sleep(5000);
    const idleRssMb = procStatus(worker.child.pid!).rssMb;
    await worker.stop();

    const mails = Array.from({ length: COUNT }, (_, i) => benchNotification(i, run)).map((m) =>
      ATTACH_MB > 0 ? { ...m, raw: withAttachment(m.raw, ATTACH_MB) } : m,
    );
    await appendAll(
      dovecot,
      mails.map((m) => m.raw),
    );
    const f = await floor(dovecot);

    const before = await processed();
    const pgCpu0 = postgresCpuSeconds();
    const tStart = Date.now();
    worker = startWorker(env, dataDir);
    const deadline = tStart + TIMEOUT_MS;
    let peak = 0;
    const sample = () => {
      try {
        peak = Math.max(peak, procStatus(worker!.child.pid!).hwmMb);
      } catch {
        /* exited */
      }
    };
    for (;;) {
      sample();
      if ((await processed()) - before >= COUNT && (await inboxCount(dovecot)) === 0) break;
      if (Date.now() > deadline) throw new Error(`timeout: ${(await processed()) - before} of ${COUNT} processed`);
      await sleep(50);
    }
    const tProcessed = Date.now();
    const cpuAtProcessed = cpuSeconds(worker.child.pid!);
    const ownCpuAtProcessed = process.cpuUsage();
    const pgCpuAtProcessed = postgresCpuSeconds();
    const sentAtProcessed = smtp.messages.length;
    for (;;) {
      sample();
      if (smtp.messages.length >= COUNT) break;
      if (Date.now() > deadline) throw new Error(`timeout: ${smtp.messages.length} of ${COUNT} replies sent`);
      await sleep(50);
    }
    const tReplies = Date.now();
    const workerCpuS = cpuSeconds(worker.child.pid!);
    if (process.env.LCI_BENCH_THREADS) {
      const per = new Map<string, number>();
      for (const t of fs.readdirSync(`/proc/${worker.child.pid}/task`)) {
        const comm = fs.readFileSync(`/proc/${worker.child.pid}/task/${t}/comm`, 'utf8').trim() + `:${t}`;
        const stat = fs.readFileSync(`/proc/${worker.child.pid}/task/${t}/stat`, 'utf8');
        const f = stat.slice(stat.lastIndexOf(')') + 2).split(' ');
        per.set(comm, (per.get(comm) ?? 0) + (Number(f[11]) + Number(f[12])) / 100);
      }
      console.log('threads CPU s:', JSON.stringify(Object.fromEntries(per)));
      console.log(
        `at all processed: ${sentAtProcessed} replies sent, worker CPU ${cpuAtProcessed.toFixed(2)} s; the last ${COUNT - sentAtProcessed} replies: ${(workerCpuS - cpuAtProcessed).toFixed(2)} s CPU in ${((tReplies - tProcessed) / 1000).toFixed(2)} s (meanwhile the SMTP sink in this process ${(({ user, system }) => (user + system) / 1e6)(process.cpuUsage(ownCpuAtProcessed)).toFixed(2)} s, PostgreSQL ${(postgresCpuSeconds() - pgCpuAtProcessed).toFixed(2)} s)`,
      );
    }
    const pgCpuS = postgresCpuSeconds() - pgCpu0;
    const statements = worker.statements();
    const tConnected = connectedAt(worker) ?? tStart;

    // Latency: single mails, one at a time, while the worker idles (IDLE → FETCH → parse → commit).
    const latencies: number[] = [];
    const client = imap(dovecot);
    await client.connect();
    try {
      for (let i = 0; i < LATENCY_MAILS; i++) {
        const m = benchNotification(COUNT + i, run);
        const t0 = Date.now();
        await client.append('INBOX', m.raw);
        for (;;) {
          const [row] = await sql`select 1 from messages where message_id = ${m.messageId}`;
          if (row) break;
          if (Date.now() - t0 > 30_000) throw new Error('latency mail not processed in 30 s');
          await sleep(10);
        }
        latencies.push(Date.now() - t0);
        await sleep(300);
      }
    } finally {
      await client.logout().catch(() => client.close());
    }
    sample();
    // Idle again after the backlog: what the worker keeps (parse threads end after 30 s idle).
    await sleep(32_000);
    const afterRssMb = procStatus(worker.child.pid!).rssMb;
    await worker.stop();

    const [{ tasks, sent }] =
      (await sql`select (select count(*)::int from tasks) as tasks, (select count(*)::int from outbox where status = 'sent') as sent`) as unknown as [
        { tasks: number; sent: number },
      ];
    const expectedTasks = [...mails, ...Array.from({ length: LATENCY_MAILS }, (_, i) => benchNotification(COUNT + i, run))].filter(
      (m) => m.complete,
    ).length;
    const ok =
      tasks === expectedTasks &&
      sent === COUNT + LATENCY_MAILS &&
      new Set(smtp.messages.map((m) => messageIdOf(m.raw))).size === smtp.messages.length;
    if (!ok) {
      console.error(`run ${run}: check failed: tasks ${tasks}/${expectedTasks}, sent ${sent}/${COUNT + LATENCY_MAILS}`);
      process.exitCode = 1;
    }
    const r: RunFigures = {
      floorMs: f.totalMs,
      floorFetchMs: f.fetchMs,
      floorParseMs: f.parseMs,
      processedMs: tProcessed - tStart,
      processedFromConnectMs: tProcessed - tConnected,
      repliesMs: tReplies - tStart,
      idleRssMb,
      peakRssMb: peak,
      afterRssMb,
      statementsPerMail: statements / COUNT,
      latencyP50Ms: pct(latencies, 50),
      latencyP95Ms: pct(latencies, 95),
      floorCpuMs: f.cpuMs,
      workerCpuMs: workerCpuS * 1000,
      pgCpuMs: pgCpuS * 1000,
    };
    console.log(
      `run ${run}: floor ${(r.floorMs / 1000).toFixed(2)} s (fetch ${(f.fetchMs / 1000).toFixed(2)} + parse ${(f.parseMs / 1000).toFixed(2)}, ${(f.bytes / 1024).toFixed(0)} KB); ` +
        `processed ${(r.processedMs / 1000).toFixed(2)} s (${(r.processedFromConnectMs / 1000).toFixed(2)} s after IMAP connected); replies ${(r.repliesMs / 1000).toFixed(2)} s; ` +
        `idle ${r.idleRssMb.toFixed(0)} MB, peak ${r.peakRssMb.toFixed(0)} MB, idle after ${r.afterRssMb.toFixed(0)} MB; ${r.statementsPerMail.toFixed(2)} statements/mail; latency p50 ${r.latencyP50Ms} ms p95 ${r.latencyP95Ms} ms; check ${ok ? 'ok' : 'MISMATCH'}`,
    );
    return r;
  } finally {
    await worker?.stop().catch(() => {});
    await sql?.end({ timeout: 5 }).catch(() => {});
    await Promise.allSettled([dovecot?.stop(), smtp?.stop(), pg?.drop()]);
    await fsp.rm(dataDir, { recursive: true, force: true });
  }
}

async function main(): Promise<void> {
  console.log(`bench-backlog: ${COUNT} mails, ${RUNS} run(s), ${os.availableParallelism()} cores; building dist/ …`);
  execFileSync('npm', ['run', '--silent', 'build'], { cwd: ROOT, stdio: 'inherit' });
  const runs: RunFigures[] = [];
  for (let r = 1; r <= RUNS; r++) runs.push(await oneRun(r));
  const m = (k: keyof RunFigures) => median(runs.map((x) => x[k]));
  const s = (ms: number) => `${(ms / 1000).toFixed(2)} s`;
  console.log(`\nmedians over ${RUNS} run(s), ${COUNT} mails:`);
  console.log(
    `  floor (bare FETCH 1:* + simpleParser)     ${s(m('floorMs'))}  (fetch ${s(m('floorFetchMs'))}, parse ${s(m('floorParseMs'))})`,
  );
  console.log(
    `  worker: all processed                     ${s(m('processedMs'))}  = ${(m('processedMs') / m('floorMs')).toFixed(2)}× floor  (${s(m('processedFromConnectMs'))} after IMAP connected = ${(m('processedFromConnectMs') / m('floorMs')).toFixed(2)}×)`,
  );
  console.log(
    `  worker: all replies sent                  ${s(m('repliesMs'))}  = ${(m('repliesMs') / m('processedMs')).toFixed(2)}× all processed`,
  );
  console.log(`  statements per mail (intake + sender)     ${m('statementsPerMail').toFixed(2)}`);
  console.log(
    `  CPU to all replies sent: worker ${s(m('workerCpuMs'))} = ${(m('workerCpuMs') / m('floorCpuMs')).toFixed(2)}× the floor's ${s(m('floorCpuMs'))}, PostgreSQL ${s(m('pgCpuMs'))}`,
  );
  console.log(
    `  worker RSS: idle ${m('idleRssMb').toFixed(0)} MB, peak during the backlog ${m('peakRssMb').toFixed(0)} MB, idle after it ${m('afterRssMb').toFixed(0)} MB`,
  );
  console.log(`  latency APPEND → committed (${LATENCY_MAILS} single mails): p50 ${m('latencyP50Ms')} ms, p95 ${m('latencyP95Ms')} ms`);
}

main().catch((err: unknown) => {
  console.error(err);
  process.exit(1);
});
