import { getTableColumns, getTableName, sql } from 'drizzle-orm';
import type { PgColumn, PgTable } from 'drizzle-orm/pg-core';
import type { DbOrTx } from './client';

/**
 * Many rows into one table in one statement with one parameter: the rows as a JSON array, read by
 * `jsonb_to_recordset`. Building a statement of thousands of parameters costs more CPU than the
 * database's work on it (drizzle types each parameter); one JSON text does not. Values as drizzle
 * would send them: dates as ISO text, bytea as base64, strings made well-formed (a lone surrogate
 * becomes U+FFFD, as postgres.js encodes it). Rows must all name the same columns.
 */
const TYPES = new Set(['integer', 'serial', 'bigint', 'text', 'boolean', 'timestamp with time zone', 'jsonb', 'bytea']);

export async function insertRows(
  tx: DbOrTx,
  table: PgTable,
  rows: Array<Record<string, unknown>>,
  /** Rows that would break this unique index are skipped (ON CONFLICT DO NOTHING); the rows written are counted. */
  skipConflictsOn?: PgColumn[],
): Promise<number> {
  if (rows.length === 0) return 0;
  const columns = getTableColumns(table) as Record<string, PgColumn>;
  const keys = Object.keys(rows[0]!).filter((k) => columns[k]);
  const same = rows.every((r) => Object.keys(r).filter((k) => columns[k]).length === keys.length && keys.every((k) => k in r));
  if (!same || !keys.every((k) => TYPES.has(columns[k]!.getSQLType()))) {
    let n = 0;
    for (let i = 0; i < rows.length; i += 500) {
      const q = tx.insert(table).values(rows.slice(i, i + 500));
      const done = await (skipConflictsOn ? q.onConflictDoNothing({ target: skipConflictsOn }) : q).returning();
      n += done.length;
    }
    return n;
  }
  const cols = keys.map((k) => ({ key: k, name: columns[k]!.name, type: columns[k]!.getSQLType() }));
  const json = JSON.stringify(
    rows.map((r) => Object.fromEntries(cols.map((c) => [c.name, toJson(r[c.key], c.type)]))),
    (_k, v: unknown) => (typeof v === 'string' ? (v as WellFormed).toWellFormed() : v),
  );
  const q = (n: string) => `"${n.replace(/"/g, '""')}"`;
  const target = cols.map((c) => q(c.name)).join(', ');
  const select = cols.map((c) => (c.type === 'bytea' ? `decode(x.${q(c.name)}, 'base64')` : `x.${q(c.name)}`)).join(', ');
  const defs = cols.map((c) => `${q(c.name)} ${c.type === 'bytea' ? 'text' : c.type === 'serial' ? 'integer' : c.type}`).join(', ');
  const conflict = skipConflictsOn ? ` on conflict (${skipConflictsOn.map((c) => q(c.name)).join(', ')}) do nothing` : '';
  const res = await tx.execute(
    sql`insert into ${sql.raw(q(getTableName(table)))} (${sql.raw(target)}) select ${sql.raw(select)} from jsonb_to_recordset(${json}::jsonb) as x(${sql.raw(defs)})${sql.raw(conflict)} returning 1 as one`,
  );
  // postgres.js gives the rows, PGlite a result with `rows`.
  return (Array.isArray(res) ? res : (res as { rows: unknown[] }).rows).length;
}

/** ES2024 (Node 20 has it; the TypeScript lib here is older). */
type WellFormed = string & { toWellFormed(): string };

function toJson(v: unknown, type: string): unknown {
  if (v == null) return null;
  if (v instanceof Date) return v.toISOString();
  if (type === 'bytea') {
    const b = v as Uint8Array;
    // A view, not a copy (Buffer.from(Uint8Array) would copy the bytes).
    return (Buffer.isBuffer(b) ? b : Buffer.from(b.buffer, b.byteOffset, b.byteLength)).toString('base64');
  }
  return v;
}
