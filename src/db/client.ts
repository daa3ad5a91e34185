import { spawnSync } from 'node:child_process';
import fs from 'node:fs';
import path from 'node:path';
import type { PgDatabase, PgQueryResultHKT } from 'drizzle-orm/pg-core';
import { Backoff, DB_RETRY } from '../backoff';
import { AppError, errorCode } from '../errors';
import type { Logger } from '../log';
import * as schema from './schema';

export type Db = PgDatabase<PgQueryResultHKT, typeof schema>;
/** A transaction handle has the same query API as the database. */
export type Tx = Parameters<Parameters<Db['transaction']>[0]>[0];
export type DbOrTx = Db | Tx;

export interface Database {
  readonly db: Db;
  readonly kind: 'postgres' | 'pglite';
  close(): Promise<void>;
}

export const MIGRATIONS_DIR = path.resolve(__dirname, '../../drizzle');

/**
 * PGlite's memory: PostgreSQL's defaults (shared_buffers 128 MB and the rest) live in the WASM heap,
 * which never shrinks. A mailbox's database is small, so the buffers are too (measured in README, Memory).
 */
const PGLITE_CONF = [
  'shared_buffers = 16MB',
  'wal_buffers = 1MB',
  'temp_buffers = 1MB',
  'work_mem = 4MB',
  'maintenance_work_mem = 16MB',
  // PGlite writes this list as the whole postgresql.conf: what initdb had put there is kept here.
  "timezone = 'UTC'",
  "default_text_search_config = 'pg_catalog.english'",
  "lc_messages = 'C'",
];

/**
 * A fresh folder is made (initdb) in a child process: in-process, PGlite's initdb keeps a second
 * database heap and its own (~400 MB) for the life of the process.
 */
function initInChild(dir: string): void {
  if (fs.existsSync(path.join(dir, 'PG_VERSION'))) return;
  const script =
    "const { PGlite } = await import('@electric-sql/pglite'); const pg = new PGlite(process.argv[1]); await pg.waitReady; await pg.close();";
  const r = spawnSync(process.execPath, ['--input-type=module', '-e', script, dir], {
    cwd: __dirname,
    stdio: ['ignore', 'ignore', 'pipe'],
    timeout: 300_000,
  });
  if (r.status !== 0)
    throw new Error(`initdb of ${dir} failed: ${(r.stderr?.toString() || r.error?.message || `exit ${r.status}`).slice(0, 500)}`);
}

export interface OpenOptions {
  /** postgres:// URL; when absent the embedded PGlite database in `pgliteDir` is used. */
  url?: string | undefined;
  /** Folder for PGlite; "memory://" for a throw-away in-memory database. */
  pgliteDir?: string;
  /** Apply the committed migrations (default true). */
  migrate?: boolean;
}

function alive(pid: number): boolean {
  try {
    process.kill(pid, 0);
    return true;
  } catch (err) {
    return (err as NodeJS.ErrnoException).code === 'EPERM';
  }
}

/**
 * PGlite is one process's database: a second process opening the same folder could damage it.
 * A lock file names the holder; a lock left by a dead process is taken over.
 */
function lockFolder(dir: string): () => void {
  fs.mkdirSync(dir, { recursive: true });
  const file = path.join(dir, 'lifecare-intake.lock');
  for (let attempt = 0; attempt < 2; attempt++) {
    try {
      fs.writeFileSync(file, String(process.pid), { flag: 'wx' });
      let released = false;
      const release = () => {
        if (released) return;
        released = true;
        fs.rmSync(file, { force: true });
      };
      process.once('exit', release);
      return release;
    } catch (err) {
      if ((err as NodeJS.ErrnoException).code !== 'EEXIST') throw err;
      const holder = Number.parseInt(fs.readFileSync(file, 'utf8'), 10);
      if (Number.isInteger(holder) && holder !== process.pid && alive(holder)) {
        throw new AppError(
          'DB_ERROR',
          `The embedded database in ${dir} is in use by process ${holder}. Stop that process first (the worker, serve or another command), or set DATABASE_URL to use PostgreSQL.`,
          { dir, holder },
        );
      }
      fs.rmSync(file, { force: true });
    }
  }
  throw new AppError('DB_ERROR', `Cannot lock the embedded database in ${dir}`, { dir });
}

export async function openDatabase(opts: OpenOptions): Promise<Database> {
  const migrate = opts.migrate ?? true;
  try {
    if (opts.url) {
      const postgres = (await import('postgres')).default;
      const { drizzle } = await import('drizzle-orm/postgres-js');
      const client = postgres(opts.url, {
        max: 10,
        connect_timeout: 10,
        onnotice: () => {},
      });
      const db = drizzle(client, { schema }) as unknown as Db;
      try {
        // Reachable at all (also when not migrating): a clear error here, not at the first query.
        await client`select 1`;
        if (migrate) {
          const { migrate: run } = await import('drizzle-orm/postgres-js/migrator');
          await run(drizzle(client), { migrationsFolder: MIGRATIONS_DIR });
        }
      } catch (err) {
        await client.end({ timeout: 0 }).catch(() => {});
        throw err;
      }
      return { db, kind: 'postgres', close: () => client.end({ timeout: 5 }) };
    }
    const dir = opts.pgliteDir ?? 'memory://';
    const unlock = dir.startsWith('memory://') ? () => {} : lockFolder(dir);
    const { PGlite } = await import('@electric-sql/pglite');
    const { drizzle } = await import('drizzle-orm/pglite');
    let client: InstanceType<typeof PGlite>;
    try {
      if (!dir.startsWith('memory://')) initInChild(dir);
      client = new PGlite(dir, { postgresqlconf: PGLITE_CONF });
      await client.waitReady;
    } catch (err) {
      unlock();
      throw err;
    }
    const db = drizzle(client, { schema }) as unknown as Db;
    if (migrate) {
      const { migrate: run } = await import('drizzle-orm/pglite/migrator');
      await run(drizzle(client), { migrationsFolder: MIGRATIONS_DIR });
    }
    return {
      db,
      kind: 'pglite',
      close: async () => {
        await client.close();
        unlock();
      },
    };
  } catch (err) {
    if (err instanceof AppError) throw err;
    throw new AppError('DB_ERROR', `Cannot open the database: ${(err as Error).message}`, { embedded: !opts.url }, err);
  }
}

export interface WaitOptions {
  log: Logger;
  /** Each failed attempt, for /healthz ("waiting for the database"). */
  onWait?: (attempt: number, detail: string, nextInMs: number) => void;
  /** Stop waiting (shutdown asked for): the last error is thrown. */
  stopped?: () => boolean;
}

/**
 * PostgreSQL may not be up yet when the worker starts (boot order, a restart): wait and retry with
 * backoff, logging each attempt. The embedded database is not waited for (its errors are final).
 */
export async function openDatabaseWaiting(opts: OpenOptions, wait: WaitOptions): Promise<Database> {
  if (!opts.url) return openDatabase(opts);
  const backoff = new Backoff(DB_RETRY);
  for (;;) {
    try {
      const database = await openDatabase(opts);
      if (backoff.attempts > 0) wait.log.info({ component: 'db', attempts: backoff.attempts + 1 }, 'database reachable');
      return database;
    } catch (err) {
      if (wait.stopped?.()) throw err;
      const delay = backoff.next();
      const cause = err instanceof AppError && err.cause !== undefined ? err.cause : err;
      const detail = `${errorCode(cause)}: ${cause instanceof Error ? cause.message : String(cause)}`.slice(0, 200);
      wait.log.warn(
        { component: 'db', attempt: backoff.attempts, nextInMs: delay, code: errorCode(cause) },
        'database not reachable; waiting',
      );
      wait.onWait?.(backoff.attempts, detail, delay);
      await new Promise((r) => setTimeout(r, delay));
    }
  }
}
