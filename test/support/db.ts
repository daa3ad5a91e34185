/** Throw-away databases for tests: a fresh PostgreSQL database or a fresh PGlite folder, and a context over one. */
import crypto from 'node:crypto';
import fsp from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import postgres from 'postgres';
import { parseConfig } from '../../src/config';
import type { AppContext } from '../../src/context';
import { openDatabase, type Database } from '../../src/db/client';
import { logger } from '../../src/log';
import { DEFAULT_RULES_DIR, loadRules } from '../../src/rules/load';

export const ADMIN_URL = process.env.PG_TEST_ADMIN_URL ?? 'postgres://postgres@127.0.0.1:5432/postgres';

export interface FreshPostgres {
  url: string;
  name: string;
  drop(): Promise<void>;
}

function adminClient(): ReturnType<typeof postgres> {
  return postgres(ADMIN_URL, { max: 1, onnotice: () => {}, connect_timeout: 10 });
}

/** Creates an empty database `lci_test_<random>` on the admin server and returns its URL. */
export async function freshPostgres(): Promise<FreshPostgres> {
  const name = `lci_test_${crypto.randomBytes(6).toString('hex')}`;
  const admin = adminClient();
  try {
    await admin.unsafe(`create database "${name}"`);
  } catch (e) {
    throw new Error(
      `Cannot create test database on ${ADMIN_URL} (is PostgreSQL running? scripts/install-test-deps.sh starts it): ${(e as Error).message}`,
    );
  } finally {
    await admin.end({ timeout: 5 });
  }
  const url = new URL(ADMIN_URL);
  url.pathname = `/${name}`;
  let dropped = false;
  return {
    url: url.toString(),
    name,
    async drop(): Promise<void> {
      if (dropped) return;
      dropped = true;
      const a = adminClient();
      try {
        await a.unsafe(`drop database if exists "${name}" with (force)`);
      } finally {
        await a.end({ timeout: 5 });
      }
    },
  };
}

export interface FreshDir {
  dir: string;
  cleanup(): Promise<void>;
}

/** An empty temp folder for a PGlite database. */
export async function freshPgliteDir(): Promise<FreshDir> {
  const dir = await fsp.mkdtemp(path.join(os.tmpdir(), 'lci-pglite-'));
  return { dir, cleanup: () => fsp.rm(dir, { recursive: true, force: true }) };
}

export interface TestDatabase {
  database: Database;
  /** Closes the connection and deletes the database / folder. */
  cleanup(): Promise<void>;
}

/** Opens a migrated database of the given kind; `cleanup()` closes and removes it. */
export async function openTestDatabase(kind: 'postgres' | 'pglite'): Promise<TestDatabase> {
  const store = kind === 'postgres' ? await freshPostgres() : await freshPgliteDir();
  const remove = () => ('drop' in store ? store.drop() : store.cleanup());
  let database: Database;
  try {
    database = await openDatabase('url' in store ? { url: store.url } : { pgliteDir: store.dir });
  } catch (e) {
    await remove();
    throw e;
  }
  return {
    database,
    async cleanup(): Promise<void> {
      try {
        await database.close();
      } finally {
        await remove();
      }
    },
  };
}

/**
 * The context the pipeline runs in, over a test database: `env` on top of a DATA_DIR nothing writes
 * to, the default rules, a silent log and the real clock; `extra` replaces any of these.
 */
export function testContext(database: Database, env: Record<string, string> = {}, extra: Partial<AppContext> = {}): AppContext {
  return {
    config: parseConfig({ DATA_DIR: '/tmp/lci-unused', ...env }),
    rules: loadRules(DEFAULT_RULES_DIR),
    database,
    log: logger('test').child({}, { level: 'silent' }),
    now: () => new Date(),
    ...extra,
  };
}
