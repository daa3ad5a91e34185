import { audit } from '../audit';
import type { DbOrTx } from '../db/client';
import type { PersonStatus } from '../db/schema';
import { type CaseStore, withStore } from './store';

/**
 * One provisioning task per complete person: a grant ("Lägg upp behörighet") or, for a leaver, a
 * removal ("Ta bort behörighet"). An HSA-id that already has a live task of the same action gets
 * no second one: the person is flagged `duplicate` for review instead. A removal cancels the open
 * or started grant tasks for the same HSA-id (or username), audited. Returns the ids of tasks created.
 */
export async function createTasksForCase(db: DbOrTx | CaseStore, caseId: number, actor: string, now: Date): Promise<number[]> {
  return withStore(db, async (store) => {
    const c = await store.case(caseId);
    // Never a task in a rejected or finished case.
    if (!c || c.status === 'rejected' || c.status === 'done' || c.erasedAt) return [];
    const ready = (await store.personsOf(caseId)).filter((p) => p.status === 'complete');
    const created: number[] = [];
    for (const p of ready) {
      const action = p.intent;
      const hsaId = p.hsaId ?? '';
      const live = hsaId
        ? (await store.tasksByHsa(hsaId)).filter(
            (t) =>
              t.action === action && (action === 'grant' ? t.status !== 'cancelled' : t.status === 'open' || t.status === 'in_progress'),
          )
        : [];
      if (live.length > 0) {
        const what = action === 'grant' ? 'en beställning' : 'en borttagning';
        const reason = `HSA-id har redan ${what} (${live[0]!.caseRef}, uppgift ${live[0]!.id})`;
        store.updatePerson(p.id, { status: 'duplicate', reviewReason: reason, updatedAt: now });
        await audit(store.tx, { actor, action: 'person.duplicate', caseId, personId: p.id, after: { taskId: live[0]!.id } }, now);
        continue;
      }
      const t = await store.insertTask({
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
      });
      store.updatePerson(p.id, { status: 'task_created', updatedAt: now });
      await audit(store.tx, { actor, action: 'task.created', caseId, personId: p.id, taskId: t.id, after: { action } }, now);
      created.push(t.id);
      if (action === 'revoke') await cancelGrantsFor(store, { hsaId: p.hsaId, treservaUser: p.treservaUser }, t.id, actor, now);
    }
    return created;
  });
}

/** A leaver's open or started grant tasks are cancelled: access must not be set up for someone who left. */
async function cancelGrantsFor(
  store: CaseStore,
  who: { hsaId: string | null; treservaUser: string | null },
  removalTaskId: number,
  actor: string,
  now: Date,
): Promise<void> {
  const found = new Map<number, { id: number; caseId: number; personId: number }>();
  for (const t of [
    ...(who.hsaId ? await store.tasksByHsa(who.hsaId) : []),
    ...(who.treservaUser ? await store.tasksByUser(who.treservaUser) : []),
  ])
    if (t.action === 'grant' && (t.status === 'open' || t.status === 'in_progress')) found.set(t.id, t);
  for (const g of [...found.values()].sort((a, b) => a.id - b.id)) {
    store.updateTask(g.id, { status: 'cancelled' });
    await audit(
      store.tx,
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
    await refreshCaseStatus(store, g.caseId, now);
  }
}

/**
 * The case status follows from its persons and tasks:
 * waiting (provider owes data) → review (IT must look) → complete (all tasks made) → done (all tasks done).
 * A rejected case stays rejected.
 */
export async function refreshCaseStatus(db: DbOrTx | CaseStore, caseId: number, now: Date): Promise<string> {
  return withStore(db, async (store) => {
    const c = await store.case(caseId);
    if (!c || c.status === 'rejected') return c?.status ?? 'rejected';
    const ps = await store.personsOf(caseId);
    const live = ps.filter((p) => p.status !== 'rejected');
    const has = (s: PersonStatus) => live.some((p) => p.status === s);
    let status: 'waiting' | 'review' | 'complete' | 'done';
    if (live.length === 0) status = 'review';
    else if (has('incomplete')) status = 'waiting';
    else if (has('needs_review') || has('duplicate') || has('complete')) status = 'review';
    else {
      const ids = new Set(live.map((p) => p.id));
      const ts = (await store.tasksOf(caseId)).filter((t) => ids.has(t.personId));
      status = ts.length > 0 && ts.every((t) => t.status === 'done' || t.status === 'cancelled') ? 'done' : 'complete';
    }
    if (status !== c.status) store.updateCase(caseId, { status, updatedAt: now });
    return status;
  });
}
