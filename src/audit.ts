import { insertRows } from './db/bulk';
import type { DbOrTx } from './db/client';
import { auditEvents } from './db/schema';

export interface AuditEvent {
  actor: string; // "worker", "cli" or "user:<username>"
  action: string;
  caseId?: number | null;
  personId?: number | null;
  taskId?: number | null;
  /** messages.id (a row id, not a Message-ID) */
  messageRowId?: number | null;
  before?: unknown;
  after?: unknown;
}

type AuditRow = typeof auditEvents.$inferInsert;

/** Transactions whose audit rows are collected and written in one insert (intake's batches). */
const collected = new WeakMap<object, AuditRow[]>();

/** Records who changed what. Call inside the transaction that makes the change. */
export async function audit(tx: DbOrTx, e: AuditEvent, at: Date = new Date()): Promise<void> {
  const row: AuditRow = {
    at,
    actor: e.actor,
    action: e.action,
    caseId: e.caseId ?? null,
    personId: e.personId ?? null,
    taskId: e.taskId ?? null,
    messageRowId: e.messageRowId ?? null,
    before: e.before ?? null,
    after: e.after ?? null,
  };
  const rows = collected.get(tx);
  if (rows) rows.push(row);
  else await tx.insert(auditEvents).values(row);
}

/**
 * From here on the audit rows of `tx` are kept and written by `flushAudit` in one statement (before
 * the transaction commits). Nothing is written if the transaction is rolled back.
 */
export function collectAudit(tx: DbOrTx): void {
  if (!collected.has(tx)) collected.set(tx, []);
}

/** Writes the collected rows in one insert; collecting ends. */
export async function flushAudit(tx: DbOrTx): Promise<number> {
  const rows = collected.get(tx) ?? [];
  collected.delete(tx);
  await insertRows(tx, auditEvents, rows);
  return rows.length;
}
