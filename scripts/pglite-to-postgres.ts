/**
 * Moves the embedded database (PGlite in DATA_DIR/pglite) into PostgreSQL, table by table, in one
 * transaction on the target. The target is migrated first (the same committed migrations) and must
 * hold no data; serial sequences are set past the copied ids. Stop the worker first.
 *
 *   npx tsx scripts/pglite-to-postgres.ts --from ./data/pglite --to postgres://lci@db/lifecare_intake
 */
import { sql } from 'drizzle-orm';
import { openDatabase, type Database } from '../src/db/client';

const SKIP = new Set(['__drizzle_migrations']);

async function rows<T>(db: Database, query: ReturnType<typeof sql>): Promise<T[]> {
  const r = await db.db.execute(query);
  return (Array.isArray(r) ? r : (r as { rows: T[] }).rows) as T[];
}

/** Tables of the public schema, each after the tables its foreign keys point to. */
async function tablesInOrder(db: Database): Promise<string[]> {
  const tables = (
    await rows<{ t: string }>(
      db,
      sql`select table_name as t from information_schema.tables where table_schema = 'public' and table_type = 'BASE TABLE' order by 1`,
    )
  )
    .map((r) => r.t)
    .filter((t) => !SKIP.has(t));
  const fks = await rows<{ t: string; ref: string }>(
    db,
    sql`select c.relname as t, r.relname as ref from pg_constraint k join pg_class c on c.oid = k.conrelid join pg_class r on r.oid = k.confrelid
        join pg_namespace n on n.oid = c.relnamespace where k.contype = 'f' and n.nspname = 'public'`,
  );
  const done: string[] = [];
  const visit = (t: string, path: string[] = []) => {
    if (done.includes(t) || path.includes(t)) return;
    for (const f of fks) if (f.t === t && f.ref !== t) visit(f.ref, [...path, t]);
    done.push(t);
  };
  for (const t of tables) visit(t);
  return done;
}

export async function copyDatabase(from: Database, to: Database, batch = 500): Promise<Record<string, number>> {
  const tables = await tablesInOrder(from);
  const counts: Record<string, number> = {};
  await to.db.transaction(async (tx) => {
    for (const t of tables) {
      const [{ n }] = (await rows<{ n: number }>(to, sql`select count(*)::int as n from ${sql.identifier(t)}`)) as [{ n: number }];
      if (n > 0) throw new Error(`target table ${t} is not empty (${n} rows): copy into a freshly migrated database`);
    }
    for (const t of tables) {
      const id = sql.identifier(t);
      const hasId =
        (
          await rows<{ c: string }>(
            from,
            sql`select column_name as c from information_schema.columns where table_schema = 'public' and table_name = ${t} and column_name = 'id'`,
          )
        ).length > 0;
      let copied = 0;
      for (let offset = 0; ; offset += batch) {
        const chunk = await rows<{ j: unknown }>(
          from,
          sql`select row_to_json(x) as j from (select * from ${id} ${hasId ? sql`order by id` : sql``} limit ${batch} offset ${offset}) x`,
        );
        if (chunk.length === 0) break;
        const json = JSON.stringify(chunk.map((r) => (typeof r.j === 'string' ? (JSON.parse(r.j) as unknown) : r.j)));
        await tx.execute(sql`insert into ${id} select * from json_populate_recordset(null::${id}, ${json}::json)`);
        copied += chunk.length;
      }
      counts[t] = copied;
      const [seq] = hasId ? await rows<{ s: string | null }>(to, sql`select pg_get_serial_sequence(${t}, 'id') as s`) : [];
      if (seq?.s) await tx.execute(sql`select setval(${seq.s}::regclass, coalesce(max(id), 1), max(id) is not null) from ${id}`);
    }
  });
  return counts;
}

async function main(): Promise<void> {
  const args = process.argv.slice(2);
  const arg = (name: string) => {
    const i = args.indexOf(name);
    return i >= 0 ? args[i + 1] : undefined;
  };
  const fromDir = arg('--from');
  const url = arg('--to');
  if (!fromDir || !url) {
    process.stderr.write('usage: tsx scripts/pglite-to-postgres.ts --from DATA_DIR/pglite --to postgres://...\n');
    process.exit(2);
  }
  const from = await openDatabase({ pgliteDir: fromDir });
  const to = await openDatabase({ url });
  try {
    const counts = await copyDatabase(from, to);
    for (const [t, n] of Object.entries(counts)) process.stdout.write(`${t}: ${n}\n`);
  } finally {
    await from.close();
    await to.close();
  }
}

if (require.main === module) {
  main().catch((err: unknown) => {
    process.stderr.write(`pglite-to-postgres: ${(err as Error).message}\n`);
    process.exit(1);
  });
}
