import { and, eq, inArray, ne } from 'drizzle-orm';
import { audit } from '../audit';
import type { Db, DbOrTx } from '../db/client';
import { cases, persons, tasks, type PersonStatus } from '../db/schema';
import { AppError } from '../errors';
import { foldLabel } from '../parse/labels';
import { FIELDS, type FieldName, type PersonRecord } from '../parse/types';
import type { Rules } from '../rules/load';
import { withdrawStaleRequests } from '../replies/enqueue';
import { hsaOrgNote } from './hsa-org';
import { unsureReason } from '../parse/unsure';
import { checkPerson } from './sanitize';
import { createTasksForCase, refreshCaseStatus } from './create-tasks';
import { type CaseStore, withStore } from './store';

export type PersonRow = typeof persons.$inferSelect;
export type FieldValues = Partial<Record<FieldName, string | null>>;

const pick = (p: Pick<PersonRow, FieldName>) => ({ name: p.name, function: p.function, hsaId: p.hsaId, treservaUser: p.treservaUser });

/**
 * A follow-up's values fill or replace the missing and invalid fields of an existing person;
 * valid values already held are kept.
 */
export function mergeValues(existing: PersonRow, incoming: PersonRecord, rules: Rules): PersonRecord {
  const bad = new Set(existing.problems.map((p) => p.field));
  const merged: FieldValues = pick(existing);
  for (const f of FIELDS) {
    const v = incoming[f];
    if (v != null && (merged[f] == null || bad.has(f))) merged[f] = v;
  }
  return checkPerson({ ...merged, intent: existing.intent }, rules);
}

/** Which existing person a follow-up's record is about: same HSA-id, same name, or the only one still open. */
export function matchPerson(existing: PersonRow[], incoming: PersonRecord, taken: Set<number>): PersonRow | null {
  const open = existing.filter((p) => !taken.has(p.id) && (p.status === 'incomplete' || p.status === 'needs_review'));
  const hsa = incoming.hsaId && !incoming.problems.some((p) => p.field === 'hsaId') ? incoming.hsaId : null;
  if (hsa) {
    const byHsa = existing.find((p) => !taken.has(p.id) && p.hsaId === hsa);
    if (byHsa) return byHsa;
  }
  if (incoming.name) {
    const n = foldLabel(incoming.name);
    const byName = existing.find((p) => !taken.has(p.id) && p.name && foldLabel(p.name) === n);
    if (byName) return byName;
    // An answer calls the person by first name ("Moa är vårdbiträde"): the one open person of that first name.
    if (!/\s/.test(incoming.name.trim())) {
      const byFirst = open.filter((p) => p.name && foldLabel(p.name.split(/\s+/)[0]!) === n);
      if (byFirst.length === 1) return byFirst[0]!;
    }
  }
  if (open.length === 1 && (incoming.name == null || open[0]!.name == null)) return open[0]!;
  return null;
}

/** Complete, incomplete (the provider is asked), or for IT staff when the reader was unsure of a value the mail may show. */
export function statusFor(record: PersonRecord): 'complete' | 'incomplete' | 'needs_review' {
  if (record.problems.length === 0) return 'complete';
  return unsureOf(record) ? 'needs_review' : 'incomplete';
}

/** The reader's doubt that still matters: candidates for a field that is still missing or wrong. */
function unsureOf(record: PersonRecord): boolean {
  return (record.unsure ?? []).some((u) => record.problems.some((p) => p.field === u.field));
}

/**
 * IT staff's correction of a person's fields: re-validated by the same rules as the parser.
 * A person that becomes complete gets its task in the same transaction; every change is audited.
 */
export async function correctPerson(
  db: Db,
  rules: Rules,
  personId: number,
  values: FieldValues,
  actor: string,
  now: Date = new Date(),
  opts: { caseId?: number; intent?: PersonRow['intent'] } = {},
): Promise<{ person: PersonRow; tasksCreated: number[]; taskUpdated?: number }> {
  return db.transaction(async (tx) => {
    const [before] = await tx.select().from(persons).where(eq(persons.id, personId)).for('update');
    if (!before) throw new AppError('NOT_FOUND', `person ${personId} not found`, { personId });
    // The form names the case it was shown on: the person must belong to it.
    if (opts.caseId !== undefined && opts.caseId !== before.caseId)
      throw new AppError('NOT_FOUND', `person ${personId} is not in case ${opts.caseId}`, { personId });
    const [c] = await tx
      .select({ status: cases.status, providerName: cases.providerName })
      .from(cases)
      .where(eq(cases.id, before.caseId))
      .for('update');
    if (!c || c.status === 'rejected' || c.status === 'done') {
      throw new AppError('CONFLICT', 'a person in a rejected or finished case cannot be edited', {
        personId,
        caseStatus: c?.status,
        reason: 'case-closed',
      });
    }
    if (before.status === 'rejected') {
      throw new AppError('CONFLICT', 'a rejected person cannot be edited', { personId, status: before.status });
    }
    // A person with a task may still be corrected while the task is not done: the task follows.
    const [task] = before.status === 'task_created' ? await tx.select().from(tasks).where(eq(tasks.personId, personId)).for('update') : [];
    if (before.status === 'task_created') {
      if (!task || task.status === 'cancelled')
        throw new AppError('CONFLICT', 'a person whose task was cancelled cannot be edited', { personId, status: before.status });
      if (task.status === 'done') throw new AppError('CONFLICT', 'the task is done', { personId, reason: 'task-done' });
    }
    const next: FieldValues = pick(before);
    for (const f of FIELDS) if (values[f] !== undefined) next[f] = values[f] === '' ? null : values[f];
    const intent = opts.intent ?? before.intent;
    const record = checkPerson({ ...next, intent }, rules);
    const changed = FIELDS.some((f) => record[f] !== before[f]) || intent !== before.intent;
    const staff = actorName(actor);
    if (task) return followTask(tx, rules, before, task, record, intent, changed, staff, actor, now, c.providerName);
    const [person] = await tx
      .update(persons)
      .set({
        ...pick(record),
        problems: record.problems,
        intent,
        status: statusFor(record),
        reviewReason: null,
        hsaNote: hsaOrgNote(rules, c.providerName, record.hsaId),
        correctedBy: changed && !before.correctedBy.includes(staff) ? [...before.correctedBy, staff] : before.correctedBy,
        updatedAt: now,
      })
      .where(eq(persons.id, personId))
      .returning();
    await audit(
      tx,
      {
        actor,
        action: 'person.corrected',
        caseId: before.caseId,
        personId,
        before: { ...pick(before), intent: before.intent, status: before.status },
        after: { ...pick(record), intent, status: person!.status },
      },
      now,
    );
    const tasksCreated = await createTasksForCase(tx, before.caseId, actor, now);
    if ((await refreshCaseStatus(tx, before.caseId, now)) !== 'waiting') await withdrawStaleRequests(tx, before.caseId);
    const [after] = await tx.select().from(persons).where(eq(persons.id, personId));
    return { person: after!, tasksCreated };
  });
}

/** "user:anna" → "anna"; other actors ("cli", "worker") as they are. */
type TaskRow = typeof tasks.$inferSelect;

/**
 * The correction of a person whose task is open or started: only a complete, valid result is
 * taken (a task must never carry a wrong value), and the task gets the new values and action in
 * the same transaction, audited as `task.updated`. An HSA-id that another live task of the same
 * action already has is refused.
 */
async function followTask(
  tx: DbOrTx,
  rules: Rules,
  before: PersonRow,
  task: TaskRow,
  record: PersonRecord,
  intent: PersonRow['intent'],
  changed: boolean,
  staff: string,
  actor: string,
  now: Date,
  providerName: string | null,
): Promise<{ person: PersonRow; tasksCreated: number[]; taskUpdated?: number }> {
  if (record.problems.length > 0 || statusFor(record) !== 'complete')
    throw new AppError('CONFLICT', 'a person with a task takes only complete values', {
      personId: before.id,
      reason: 'task-needs-complete',
    });
  if (!changed) return { person: before, tasksCreated: [] };
  const hsaId = record.hsaId ?? '';
  if (hsaId) {
    const [other] = await tx
      .select({ id: tasks.id })
      .from(tasks)
      .where(
        and(
          eq(tasks.hsaId, hsaId),
          eq(tasks.action, intent),
          ne(tasks.id, task.id),
          inArray(tasks.status, ['open', 'in_progress', 'done']),
        ),
      )
      .limit(1);
    if (other) throw new AppError('CONFLICT', 'another task has this HSA-id', { personId: before.id, reason: 'hsa-duplicate' });
  }
  const correctedBy = before.correctedBy.includes(staff) ? before.correctedBy : [...before.correctedBy, staff];
  const hsaNote = hsaOrgNote(rules, providerName, record.hsaId);
  const [person] = await tx
    .update(persons)
    .set({ ...pick(record), problems: [], intent, hsaNote, correctedBy, reviewReason: null, updatedAt: now })
    .where(eq(persons.id, before.id))
    .returning();
  const values = { name: record.name ?? '', function: record.function ?? '', hsaId, treservaUser: record.treservaUser ?? '' };
  await tx
    .update(tasks)
    .set({
      ...values,
      action: intent,
      hsaNote,
      correctedBy: task.correctedBy.includes(staff) ? task.correctedBy : [...task.correctedBy, staff],
    })
    .where(eq(tasks.id, task.id));
  await audit(
    tx,
    {
      actor,
      action: 'person.corrected',
      caseId: before.caseId,
      personId: before.id,
      before: { ...pick(before), intent: before.intent, status: before.status },
      after: { ...pick(record), intent, status: before.status },
    },
    now,
  );
  await audit(
    tx,
    {
      actor,
      action: 'task.updated',
      caseId: before.caseId,
      personId: before.id,
      taskId: task.id,
      before: { name: task.name, function: task.function, hsaId: task.hsaId, treservaUser: task.treservaUser, action: task.action },
      after: { ...values, action: intent },
    },
    now,
  );
  return { person: person!, tasksCreated: [], taskUpdated: task.id };
}

export function actorName(actor: string): string {
  return actor.startsWith('user:') ? actor.slice(5) : actor;
}

export async function insertPerson(
  db: DbOrTx | CaseStore,
  caseId: number,
  record: PersonRecord,
  messageRowId: number,
  now: Date,
  extra: { status?: PersonStatus; reviewReason?: string | null; hsaNote?: string | null } = {},
): Promise<PersonRow> {
  return withStore(db, (store) =>
    store.insertPerson({
      caseId,
      ...pick(record),
      problems: record.problems,
      intent: record.intent,
      status: extra.status ?? statusFor(record),
      reviewReason: extra.reviewReason ?? (unsureOf(record) ? unsureReason(record) : null),
      hsaNote: extra.hsaNote ?? null,
      sourceMessageIds: [messageRowId],
      createdAt: now,
      updatedAt: now,
    }),
  );
}
