import { and, eq, inArray, ne } from 'drizzle-orm';
import { audit } from '../audit';
import type { DbOrTx } from '../db/client';
import { cases, persons, tasks, type PersonStatus } from '../db/schema';

/**
 * One provisioning task per complete person. An HSA-id that already has a live (open, in progress
 * or done) task gets no second task: the person is flagged `duplicate` for review instead.
 * Returns the ids of tasks created.
 */
export async function createTasksForCase(tx: DbOrTx, caseId: number, actor: string, now: Date): Promise<number[]> {
  const [c] = await tx.select().from(cases).where(eq(cases.id, caseId));
  if (!c) return [];
  const ready = await tx.select().from(persons).where(and(eq(persons.caseId, caseId), eq(persons.status, 'complete')));
  const created: number[] = [];
  for (const p of ready) {
    const hsaId = p.hsaId!;
    const live = await tx
      .select({ id: tasks.id, caseRef: tasks.caseRef })
      .from(tasks)
      .where(and(eq(tasks.hsaId, hsaId), ne(tasks.status, 'cancelled')));
    if (live.length > 0) {
      const reason = `HSA-id har redan en beställning (${live[0]!.caseRef}, uppgift ${live[0]!.id})`;
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
        name: p.name!,
        function: p.function!,
        hsaId,
        treservaUser: p.treservaUser!,
        providerName: c.providerName,
        sender: c.sender,
        sourceMessageIds: p.sourceMessageIds,
        createdAt: now,
      })
      .returning({ id: tasks.id });
    await tx.update(persons).set({ status: 'task_created', updatedAt: now }).where(eq(persons.id, p.id));
    await audit(tx, { actor, action: 'task.created', caseId, personId: p.id, taskId: t!.id }, now);
    created.push(t!.id);
  }
  return created;
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
      .where(inArray(tasks.personId, live.map((p) => p.id)));
    status = ts.length > 0 && ts.every((t) => t.status === 'done' || t.status === 'cancelled') ? 'done' : 'complete';
  }
  if (status !== c.status) await tx.update(cases).set({ status, updatedAt: now }).where(eq(cases.id, caseId));
  return status;
}
