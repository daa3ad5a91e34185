import fs from 'node:fs';
import path from 'node:path';
import type { PgDatabase, PgQueryResultHKT } from 'drizzle-orm/pg-core';
import { AppError } from '../errors';
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

export interface OpenOptions {
  /** postgres:// URL; when absent the embedded PGlite database in `pgliteDir` is used. */
  url?: string | undefined;
  /** Folder for PGlite; "memory://" for a throw-away in-memory database. */
  pgliteDir?: string;
  /** Apply the committed migrations (default true). */
  migrate?: boolean;
}

export async function openDatabase(opts: OpenOptions): Promise<Database> {
  const migrate = opts.migrate ?? true;
  try {
    if (opts.url) {
      const postgres = (await import('postgres')).default;
      const { drizzle } = await import('drizzle-orm/postgres-js');
      const client = postgres(opts.url, {
        max: 10,
        onnotice: () => {},
      });
      const db = drizzle(client, { schema }) as unknown as Db;
      if (migrate) {
        const { migrate: run } = await import('drizzle-orm/postgres-js/migrator');
        await run(drizzle(client), { migrationsFolder: MIGRATIONS_DIR });
      }
      return { db, kind: 'postgres', close: () => client.end({ timeout: 5 }) };
    }
    const dir = opts.pgliteDir ?? 'memory://';
    if (!dir.startsWith('memory://')) fs.mkdirSync(dir, { recursive: true });
    const { PGlite } = await import('@electric-sql/pglite');
    const { drizzle } = await import('drizzle-orm/pglite');
    const client = new PGlite(dir);
    await client.waitReady;
    const db = drizzle(client, { schema }) as unknown as Db;
    if (migrate) {
      const { migrate: run } = await import('drizzle-orm/pglite/migrator');
      await run(drizzle(client), { migrationsFolder: MIGRATIONS_DIR });
    }
    return { db, kind: 'pglite', close: () => client.close() };
  } catch (err) {
    throw new AppError('DB_ERROR', `Cannot open the database: ${(err as Error).message}`, { embedded: !opts.url }, err);
  }
}
