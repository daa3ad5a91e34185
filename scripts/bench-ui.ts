/**
 * Page times of the review UI's case list at 10,000 cases.
 *
 *   npx tsx scripts/bench-ui.ts            # PGlite, then PostgreSQL if one answers
 *   npx tsx scripts/bench-ui.ts pglite     # only the embedded database
 *   npx tsx scripts/bench-ui.ts postgres   # only PostgreSQL (PG_BENCH_ADMIN_URL, default postgres://postgres@127.0.0.1:5432/postgres)
 *
 * Seeds a fresh database (10,000 cases, ~20,000 persons, a message per case, tasks for the
 * complete and done ones, 200 mails in the review queue), starts the UI on a free port, signs in
 * over HTTP and times each page: warm-up requests, then BENCH_RUNS (default 30) timed ones.
 * Prints median, p95 and max in milliseconds, end to end over loopback HTTP.
 */
import crypto from 'node:crypto';
import fsp from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import { count, sql } from 'drizzle-orm';
import postgres from 'postgres';
import { parseConfig } from '../src/config';
import type { AppContext } from '../src/context';
import { openDatabase, type Database } from '../src/db/client';
import { cases, messages, persons, tasks, type CaseStatus } from '../src/db/schema';
import { logger } from '../src/log';
import { DEFAULT_RULES_DIR, loadRules } from '../src/rules/load';
import { createUser } from '../src/users';
import { startWebServer } from '../src/web/server';

const CASES = Number(process.env.BENCH_CASES ?? 10_000);
const RUNS = Number(process.env.BENCH_RUNS ?? 30);
const WARMUP = 3;
const ADMIN_URL = process.env.PG_BENCH_ADMIN_URL ?? process.env.PG_TEST_ADMIN_URL ?? 'postgres://postgres@127.0.0.1:5432/postgres';

const FIRST = [
  'Anna',
  'Erik',
  'Maria',
  'Lars',
  'Karin',
  'Johan',
  'Sara',
  'Per',
  'Eva',
  'Nils',
  'Lena',
  'Olle',
  'Sofia',
  'Mats',
  'Ida',
  'Jonas',
  'Emma',
  'Björn',
  'Linnea',
  'Ali',
];
const LAST = [
  'Andersson',
  'Johansson',
  'Karlsson',
  'Nilsson',
  'Eriksson',
  'Larsson',
  'Olsson',
  'Persson',
  'Svensson',
  'Gustafsson',
  'Pettersson',
  'Jonsson',
  'Berg',
  'Lind',
  'Holm',
  'Ström',
  'Ek',
  'Lund',
  'Åberg',
  'Öberg',
];
const FUNCTIONS = ['Enhetschef', 'Sjuksköterska', 'Undersköterska', 'Samordnare', 'Biträdande enhetschef', 'Planerare'];
const PROVIDERS = Array.from({ length: 40 }, (_, i) => ({ name: `Omsorgsbolag ${i + 1} AB`, domain: `omsorg${i + 1}.se` }));
const STATUSES: Array<[CaseStatus, number]> = [
  ['waiting', 0.3],
  ['complete', 0.15],
  ['review', 0.1],
  ['done', 0.4],
  ['rejected', 0.05],
];

/** Deterministic pseudo-random numbers, so every run seeds the same data. */
function rng(seed: number) {
  let s = seed >>> 0;
  return () => {
    s = (s * 1664525 + 1013904223) >>> 0;
    return s / 2 ** 32;
  };
}

function pickStatus(r: number): CaseStatus {
  let acc = 0;
  for (const [s, p] of STATUSES) {
    acc += p;
    if (r < acc) return s;
  }
  return 'done';
}

export async function seed(
  database: Database,
): Promise<{ sampleCaseId: number; sampleName: string; sampleHsa: string; sampleRef: string }> {
  const db = database.db;
  const rand = rng(42);
  const pick = <T>(xs: readonly T[]) => xs[Math.floor(rand() * xs.length)]!;
  const start = new Date('2026-01-01T08:00:00Z').getTime();
  let hsaCounter = 0;
  let sample = { sampleCaseId: 0, sampleName: '', sampleHsa: '', sampleRef: '' };
  const CHUNK = 500;
  for (let from = 0; from < CASES; from += CHUNK) {
    await db.transaction(async (tx) => {
      const n = Math.min(CHUNK, CASES - from);
      const caseRows = Array.from({ length: n }, (_, k) => {
        const i = from + k;
        const p = pick(PROVIDERS);
        const at = new Date(start + i * 45 * 60_000 + Math.floor(rand() * 3_600_000));
        return {
          ref: `LSP-2026-${String(i + 1).padStart(5, '0')}`,
          status: pickStatus(rand()),
          providerName: rand() < 0.9 ? p.name : null,
          knownProvider: true,
          sender: `kontakt${Math.floor(rand() * 5)}@${p.domain}`,
          subject: `Behörighet Lifecare SP ${i + 1}`,
          threadSubject: `behörighet lifecare sp ${i + 1}`,
          createdAt: at,
          updatedAt: new Date(at.getTime() + Math.floor(rand() * 86_400_000)),
        };
      });
      const inserted = await tx.insert(cases).values(caseRows).returning({
        id: cases.id,
        ref: cases.ref,
        status: cases.status,
        sender: cases.sender,
        providerName: cases.providerName,
        createdAt: cases.createdAt,
      });
      const messageRows = inserted.map((c) => {
        const body = `Hej!\n\nNamn på behörig: ${pick(FIRST)} ${pick(LAST)}\nFunktion: ${pick(FUNCTIONS)}\nHSA-id: SE2321000016-${crypto.randomBytes(3).toString('hex').toUpperCase()}\n\nMed vänliga hälsningar\n`;
        const raw = Buffer.from(`From: ${c.sender}\r\nSubject: ${c.ref}\r\n\r\n${body}`);
        return {
          source: 'ingest',
          messageId: `<${c.ref}@bench>`,
          contentHash: crypto.createHash('sha256').update(raw).digest('hex'),
          raw,
          size: raw.length,
          fromAddr: c.sender,
          subject: `Behörighet ${c.ref}`,
          kind: 'notification' as const,
          status: 'processed' as const,
          bodyText: body,
          caseId: c.id,
          receivedAt: c.createdAt,
        };
      });
      await tx.insert(messages).values(messageRows);
      const personRows = inserted.flatMap((c) =>
        Array.from({ length: 1 + Math.floor(rand() * 3) }, (): typeof persons.$inferInsert => {
          const hsa = `SE2321000016-B${(++hsaCounter).toString(36).toUpperCase()}`;
          const name = `${pick(FIRST)} ${pick(LAST)}`;
          const done = c.status === 'done' || c.status === 'complete';
          return {
            caseId: c.id,
            name,
            function: pick(FUNCTIONS),
            hsaId: hsa,
            treservaUser:
              name
                .toLowerCase()
                .replace(/[^a-z]/g, '')
                .slice(0, 6) +
              (hsaCounter % 100),
            problems:
              c.status === 'waiting'
                ? [{ field: 'treservaUser' as const, code: 'missing' as const, message: 'Användarnamn i Treserva/TES saknas.' }]
                : [],
            status: done ? 'task_created' : c.status === 'waiting' ? 'incomplete' : c.status === 'rejected' ? 'rejected' : 'needs_review',
            createdAt: c.createdAt,
            updatedAt: c.createdAt,
          };
        }),
      );
      const ps = await tx.insert(persons).values(personRows).returning();
      const byCase = new Map(inserted.map((c) => [c.id, c]));
      const taskRows = ps
        .filter((p) => p.status === 'task_created')
        .map((p): typeof tasks.$inferInsert => {
          const c = byCase.get(p.caseId)!;
          return {
            personId: p.id,
            caseId: c.id,
            caseRef: c.ref,
            name: p.name!,
            function: p.function!,
            hsaId: p.hsaId!,
            treservaUser: p.treservaUser!,
            providerName: c.providerName,
            sender: c.sender,
            status: c.status === 'done' ? 'done' : rand() < 0.5 ? 'open' : 'in_progress',
            assignee: c.status === 'done' ? 'bench' : null,
            createdAt: c.createdAt,
            doneAt: c.status === 'done' ? new Date(c.createdAt.getTime() + 86_400_000) : null,
          };
        });
      if (taskRows.length) await tx.insert(tasks).values(taskRows);
      if (from === 0) {
        const p = ps[0]!;
        sample = { sampleCaseId: p.caseId, sampleName: p.name!.split(' ')[1]!, sampleHsa: p.hsaId!, sampleRef: inserted[0]!.ref };
      }
    });
  }
  // The review queue: mails no case could take.
  await db.insert(messages).values(
    Array.from({ length: 200 }, (_, i) => {
      const raw = Buffer.from(`From: fraga${i}@example.org\r\nSubject: Fråga ${i}\r\n\r\nHej, en fråga.\r\n`);
      return {
        source: 'ingest',
        contentHash: crypto.createHash('sha256').update(raw).digest('hex'),
        raw,
        size: raw.length,
        fromAddr: `fraga${i}@example.org`,
        subject: `Fråga ${i}`,
        kind: 'other' as const,
        status: 'review' as const,
        reviewReason: 'inga uppgifter hittades',
        bodyText: 'Hej, en fråga.',
      };
    }),
  );
  await db.execute(sql`analyze`);
  return sample;
}

function quantile(sorted: number[], q: number): number {
  return sorted[Math.min(sorted.length - 1, Math.ceil(q * sorted.length) - 1)]!;
}

async function runOne(kind: 'pglite' | 'postgres'): Promise<void> {
  let database: Database;
  let cleanup: () => Promise<void>;
  const dataDir = await fsp.mkdtemp(path.join(os.tmpdir(), 'lci-bench-ui-'));
  if (kind === 'pglite') {
    database = await openDatabase({ pgliteDir: path.join(dataDir, 'pglite') });
    cleanup = async () => {
      await database.close();
      await fsp.rm(dataDir, { recursive: true, force: true });
    };
  } else {
    const name = `lci_bench_${crypto.randomBytes(4).toString('hex')}`;
    const admin = postgres(ADMIN_URL, { max: 1, onnotice: () => {} });
    await admin.unsafe(`create database "${name}"`);
    await admin.end();
    const url = new URL(ADMIN_URL);
    url.pathname = `/${name}`;
    database = await openDatabase({ url: url.toString() });
    cleanup = async () => {
      await database.close();
      const a = postgres(ADMIN_URL, { max: 1, onnotice: () => {} });
      await a.unsafe(`drop database if exists "${name}" with (force)`);
      await a.end();
      await fsp.rm(dataDir, { recursive: true, force: true });
    };
  }
  try {
    const t0 = performance.now();
    const sample = await seed(database);
    const total = async (t: typeof cases | typeof persons | typeof tasks) => (await database.db.select({ n: count() }).from(t))[0]!.n;
    const counts = { cases: await total(cases), persons: await total(persons), tasks: await total(tasks) };
    const seedMs = performance.now() - t0;
    const ctx: AppContext = {
      config: parseConfig({ DATA_DIR: dataDir, HTTP_PORT: '0', LOG_LEVEL: 'silent' }),
      rules: loadRules(DEFAULT_RULES_DIR),
      database,
      log: logger('bench'),
      now: () => new Date(),
    };
    ctx.log.level = 'silent';
    await createUser(database.db, 'bench', 'bench-lösenord-123');
    const server = await startWebServer(ctx);
    try {
      const login = await fetch(`${server.url}/login`);
      const loginCookie = login.headers
        .getSetCookie()
        .map((c) => c.split(';')[0])
        .join('; ');
      const csrf = /name="_csrf" value="([^"]+)"/.exec(await login.text())![1]!;
      const res = await fetch(`${server.url}/login`, {
        method: 'POST',
        redirect: 'manual',
        headers: { 'content-type': 'application/x-www-form-urlencoded', cookie: loginCookie },
        body: new URLSearchParams({ _csrf: csrf, username: 'bench', password: 'bench-lösenord-123', next: '/cases' }).toString(),
      });
      const session = res.headers
        .getSetCookie()
        .find((c) => c.startsWith('lci_session='))!
        .split(';')[0]!;

      const pages: Array<[string, string]> = [
        ['case list, first page', '/cases'],
        ['filtered: waiting', '/cases?status=waiting'],
        ['filtered: done, page 40', '/cases?status=done&page=40'],
        [`search: surname "${sample.sampleName}"`, `/cases?q=${encodeURIComponent(sample.sampleName)}`],
        ['search: HSA-id', `/cases?q=${encodeURIComponent(sample.sampleHsa)}`],
        ['search: case reference', `/cases?q=${encodeURIComponent(sample.sampleRef)}`],
        ['search: no match', '/cases?q=zzzzzz'],
        ['deep page (200 of 200)', '/cases?page=200'],
        ['case page', `/cases/${sample.sampleCaseId}`],
        ['task board', '/tasks'],
        ['review queue (200 mails)', '/review'],
      ];
      process.stdout.write(
        `\n${kind}: ${counts.cases} cases, ${counts.persons} persons, ${counts.tasks} tasks; seeded in ${(seedMs / 1000).toFixed(1)} s; ${RUNS} timed requests per page\n`,
      );
      process.stdout.write(
        `${'page'.padEnd(34)} ${'median'.padStart(8)} ${'p95'.padStart(8)} ${'max'.padStart(8)} ${'size'.padStart(9)}\n`,
      );
      for (const [label, url] of pages) {
        const times: number[] = [];
        let size = 0;
        for (let i = 0; i < WARMUP + RUNS; i++) {
          const t = performance.now();
          const r = await fetch(server.url + url, { headers: { cookie: session } });
          const body = await r.arrayBuffer();
          const ms = performance.now() - t;
          if (r.status !== 200) throw new Error(`${url}: HTTP ${r.status}`);
          size = body.byteLength;
          if (i >= WARMUP) times.push(ms);
        }
        times.sort((a, b) => a - b);
        process.stdout.write(
          `${label.padEnd(34)} ${quantile(times, 0.5).toFixed(1).padStart(8)} ${quantile(times, 0.95).toFixed(1).padStart(8)} ${times[times.length - 1]!.toFixed(1).padStart(8)} ${`${(size / 1024).toFixed(0)} kB`.padStart(9)}\n`,
        );
      }
    } finally {
      await server.close();
    }
  } finally {
    await cleanup();
  }
}

async function postgresAnswers(): Promise<boolean> {
  const c = postgres(ADMIN_URL, { max: 1, onnotice: () => {}, connect_timeout: 3 });
  try {
    await c`select 1`;
    return true;
  } catch {
    return false;
  } finally {
    await c.end({ timeout: 1 }).catch(() => {});
  }
}

async function main(): Promise<void> {
  const which = process.argv[2] ?? 'all';
  if (!['all', 'pglite', 'postgres'].includes(which)) throw new Error('usage: bench-ui.ts [all|pglite|postgres]');
  process.stdout.write(`bench-ui: node ${process.version}, ${os.cpus()[0]?.model ?? 'cpu'} ×${os.cpus().length}\n`);
  if (which !== 'postgres') await runOne('pglite');
  if (which !== 'pglite') {
    if (await postgresAnswers()) await runOne('postgres');
    else process.stdout.write(`\npostgres: skipped (nothing answers at ${ADMIN_URL.replace(/\/\/[^@]*@/, '//')})\n`);
  }
}

if (require.main === module) {
  main().catch((err: unknown) => {
    process.stderr.write(`bench-ui: ${(err as Error).stack ?? String(err)}\n`);
    process.exit(1);
  });
}
