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

/** Records who changed what. Call inside the transaction that makes the change. */
export async function audit(tx: DbOrTx, e: AuditEvent, at: Date = new Date()): Promise<void> {
  await tx.insert(auditEvents).values({
    at,
    actor: e.actor,
    action: e.action,
    caseId: e.caseId ?? null,
    personId: e.personId ?? null,
    taskId: e.taskId ?? null,
    messageRowId: e.messageRowId ?? null,
    before: e.before ?? null,
    after: e.after ?? null,
  });
}
