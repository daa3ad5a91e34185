import { and, eq, inArray, ne, or } from 'drizzle-orm';
import { audit } from '../audit';
import type { DbOrTx } from '../db/client';
import { cases, persons, tasks, type PersonStatus } from '../db/schema';

/**
 * One provisioning task per complete person: a grant ("Lägg upp behörighet") or, for a leaver, a
 * removal ("Ta bort behörighet"). An HSA-id that already has a live task of the same action gets
 * no second one: the person is flagged `duplicate` for review instead. A removal cancels the open
 * or started grant tasks for the same HSA-id (or username), audited. Returns the ids of tasks created.
 */
export async function createTasksForCase(
  tx: DbOrTx,
  caseId: number,
  actor: string,
  now: Date,
  /** The case row when the caller holds it current (intake's case steps): not read again. */
  known?: typeof cases.$inferSelect,
): Promise<number[]> {
  const [c] = known?.id === caseId ? [known] : await tx.select().from(cases).where(eq(cases.id, caseId));
  // Never a task in a rejected or finished case.
  if (!c || c.status === 'rejected' || c.status === 'done' || c.erasedAt) return [];
  const ready = await tx
    .select()
    .from(persons)
    .where(and(eq(persons.caseId, caseId), eq(persons.status, 'complete')));
  const created: number[] = [];
  for (const p of ready) {
    const action = p.intent;
    const hsaId = p.hsaId ?? '';
    const live = hsaId
      ? await tx
          .select({ id: tasks.id, caseRef: tasks.caseRef })
          .from(tasks)
          .where(
            and(
              eq(tasks.hsaId, hsaId),
              eq(tasks.action, action),
              action === 'grant' ? ne(tasks.status, 'cancelled') : inArray(tasks.status, ['open', 'in_progress']),
            ),
          )
      : [];
    if (live.length > 0) {
      const what = action === 'grant' ? 'en beställning' : 'en borttagning';
      const reason = `HSA-id har redan ${what} (${live[0]!.caseRef}, uppgift ${live[0]!.id})`;
      await tx.update(persons).set({ status: 'duplicate', reviewReason: reason, updatedAt: now }).where(eq(persons.id, p.id));
      await audit(tx, { actor, action: 'person.duplicate', caseId, personId: p.id, after: { taskId: live[0]!.id } }, now);
      continue;
    }
    const [t] = await tx
      .insert(tasks)
      .values({
        personId: p.id,
        caseId,
        caseRef: c.ref,
        action,
        name: p.name!,
        function: p.function ?? '',
        hsaId,
        treservaUser: p.treservaUser ?? '',
        providerName: c.providerName,
        sender: c.sender,
        senderVerified: c.senderVerified,
        hsaNote: p.hsaNote,
        correctedBy: p.correctedBy,
        sourceMessageIds: p.sourceMessageIds,
        createdAt: now,
      })
      .returning({ id: tasks.id });
    await tx.update(persons).set({ status: 'task_created', updatedAt: now }).where(eq(persons.id, p.id));
    await audit(tx, { actor, action: 'task.created', caseId, personId: p.id, taskId: t!.id, after: { action } }, now);
    created.push(t!.id);
    if (action === 'revoke') await cancelGrantsFor(tx, { hsaId: p.hsaId, treservaUser: p.treservaUser }, t!.id, actor, now);
  }
  return created;
}

/** A leaver's open or started grant tasks are cancelled: access must not be set up for someone who left. */
async function cancelGrantsFor(
  tx: DbOrTx,
  who: { hsaId: string | null; treservaUser: string | null },
  removalTaskId: number,
  actor: string,
  now: Date,
): Promise<void> {
  const match = [who.hsaId ? eq(tasks.hsaId, who.hsaId) : null, who.treservaUser ? eq(tasks.treservaUser, who.treservaUser) : null].filter(
    (x) => x !== null,
  );
  if (match.length === 0) return;
  const cancelled = await tx
    .update(tasks)
    .set({ status: 'cancelled' })
    .where(and(eq(tasks.action, 'grant'), inArray(tasks.status, ['open', 'in_progress']), or(...match)))
    .returning({ id: tasks.id, caseId: tasks.caseId, personId: tasks.personId });
  for (const g of cancelled) {
    await audit(
      tx,
      {
        actor,
        action: 'task.cancelled',
        caseId: g.caseId,
        personId: g.personId,
        taskId: g.id,
        after: { status: 'cancelled', reason: `borttagning begärd (uppgift ${removalTaskId})` },
      },
      now,
    );
    await refreshCaseStatus(tx, g.caseId, now);
  }
}

/**
 * The case status follows from its persons and tasks:
 * waiting (provider owes data) → review (IT must look) → complete (all tasks made) → done (all tasks done).
 * A rejected case stays rejected.
 */
export async function refreshCaseStatus(tx: DbOrTx, caseId: number, now: Date): Promise<string> {
  const [c] = await tx.select({ status: cases.status }).from(cases).where(eq(cases.id, caseId));
  if (!c || c.status === 'rejected') return c?.status ?? 'rejected';
  const ps = await tx.select({ id: persons.id, status: persons.status }).from(persons).where(eq(persons.caseId, caseId));
  const live = ps.filter((p) => p.status !== 'rejected');
  const has = (s: PersonStatus) => live.some((p) => p.status === s);
  let status: 'waiting' | 'review' | 'complete' | 'done';
  if (live.length === 0) status = 'review';
  else if (has('incomplete')) status = 'waiting';
  else if (has('needs_review') || has('duplicate') || has('complete')) status = 'review';
  else {
    const ts = await tx
      .select({ status: tasks.status })
      .from(tasks)
      .where(
        inArray(
          tasks.personId,
          live.map((p) => p.id),
        ),
      );
    status = ts.length > 0 && ts.every((t) => t.status === 'done' || t.status === 'cancelled') ? 'done' : 'complete';
  }
  if (status !== c.status) await tx.update(cases).set({ status, updatedAt: now }).where(eq(cases.id, caseId));
  return status;
}
