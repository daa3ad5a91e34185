import { and, desc, eq, gte, inArray, ne, or } from 'drizzle-orm';
import { audit } from '../audit';
import { actorName } from '../cases/persons';
import { maskPersonnummerInText } from '../cases/sanitize';
import { refreshCaseStatus } from '../cases/create-tasks';
import type { Config } from '../config';
import type { Db, Tx } from '../db/client';
import { auditEvents, cases, messages, outbox, persons, tasks } from '../db/schema';
import { AppError } from '../errors';
import { confirmDone, rejectionReply, type ReplyEnv } from '../cases/replies';
import type { Rules } from '../rules/load';

/**
 * What IT staff do in the review UI, each in one transaction with its audit event:
 * work provisioning tasks, reject a case, settle a message that went to review,
 * hold or release a reply waiting in the outbox.
 */

export type TaskRow = typeof tasks.$inferSelect;
export type OutboxRow = typeof outbox.$inferSelect;

export { actorName };

async function lockTask(tx: Tx, taskId: number): Promise<TaskRow> {
  const [t] = await tx.select().from(tasks).where(eq(tasks.id, taskId)).for('update');
  if (!t) throw new AppError('NOT_FOUND', `task ${taskId} not found`, { taskId });
  return t;
}

/**
 * Takes an open task: status in_progress, assignee the actor. A conditional update: a task someone
 * else took in the meantime (a stale board) is refused with who has it, never silently taken over.
 */
export async function takeTask(db: Db, taskId: number, actor: string, now: Date = new Date()): Promise<TaskRow> {
  const assignee = actorName(actor);
  return db.transaction(async (tx) => {
    const [after] = await tx
      .update(tasks)
      .set({ status: 'in_progress', assignee, takenAt: now })
      .where(and(eq(tasks.id, taskId), or(eq(tasks.status, 'open'), and(eq(tasks.status, 'in_progress'), eq(tasks.assignee, assignee)))))
      .returning();
    if (!after) {
      const [t] = await tx.select({ status: tasks.status, assignee: tasks.assignee }).from(tasks).where(eq(tasks.id, taskId));
      if (!t) throw new AppError('NOT_FOUND', `task ${taskId} not found`, { taskId });
      if (t.status === 'in_progress')
        throw new AppError('CONFLICT', `task ${taskId} is already taken by ${t.assignee}`, {
          taskId,
          reason: 'taken-by-other',
          assignee: t.assignee,
        });
      throw new AppError('CONFLICT', 'only an open task can be taken', { taskId, status: t.status });
    }
    await audit(
      tx,
      {
        actor,
        action: 'task.taken',
        caseId: after.caseId,
        personId: after.personId,
        taskId,
        before: { status: 'open' },
        after: { status: 'in_progress', assignee },
      },
      now,
    );
    return after;
  });
}

/** "Lämna tillbaka": the staff member who took a task gives it back (in_progress → open). */
export async function releaseTask(db: Db, taskId: number, actor: string, now: Date = new Date()): Promise<TaskRow> {
  const me = actorName(actor);
  return db.transaction(async (tx) => {
    const before = await lockTask(tx, taskId);
    if (before.status !== 'in_progress')
      throw new AppError('CONFLICT', 'only a started task can be given back', { taskId, status: before.status });
    if (before.assignee !== me) throw new AppError('CONFLICT', `task ${taskId} is taken by someone else`, { taskId, reason: 'not-yours' });
    const [after] = await tx.update(tasks).set({ status: 'open', assignee: null, takenAt: null }).where(eq(tasks.id, taskId)).returning();
    await audit(
      tx,
      {
        actor,
        action: 'task.released',
        caseId: before.caseId,
        personId: before.personId,
        taskId,
        before: { status: 'in_progress', assignee: me },
        after: { status: 'open', assignee: null },
      },
      now,
    );
    return after!;
  });
}

export interface FinishOptions {
  /** The staff member checked the values with the provider (required when the sender is not verified). */
  confirmedWithProvider?: boolean;
}

/**
 * Marks a task done with an optional note, recorded for the staff member who did it. A task taken
 * by someone else cannot be finished by another; a task from an unverified sender needs the explicit,
 * audited "kontrollerat med utföraren"; with TASK_FOUR_EYES, whoever corrected its values may not
 * finish it. When REPLY_DONE_CONFIRMATION is on, the task joins its case's done confirmation (one mail
 * per case naming everyone finished since the last; see confirmDone), naming persons only to a
 * verified sender unless REPLY_PERSONAL_DATA=all. The case status follows.
 */
export async function finishTask(
  db: Db,
  config: Config,
  rules: Rules,
  taskId: number,
  actor: string,
  note: string | null,
  now: Date = new Date(),
  opts: FinishOptions = {},
): Promise<{ task: TaskRow; replyId: number | null; caseStatus: string }> {
  const text = note?.trim() ? maskPersonnummerInText(note.trim().slice(0, 2000)) : null;
  const me = actorName(actor);
  return db.transaction(async (tx) => {
    const before = await lockTask(tx, taskId);
    if (before.status !== 'open' && before.status !== 'in_progress') {
      throw new AppError('CONFLICT', 'only an open or started task can be marked done', { taskId, status: before.status });
    }
    if (before.status === 'in_progress' && before.assignee && before.assignee !== me) {
      throw new AppError('CONFLICT', `task ${taskId} is taken by someone else`, { taskId, reason: 'not-yours' });
    }
    if (config.taskFourEyes && before.correctedBy.includes(me)) {
      throw new AppError('CONFLICT', 'the staff member who corrected the values cannot finish the task', { taskId, reason: 'four-eyes' });
    }
    if (!before.senderVerified && !opts.confirmedWithProvider) {
      throw new AppError('CONFLICT', 'the sender is not verified: confirm with the provider first', { taskId, reason: 'confirm-required' });
    }
    if (!before.senderVerified) {
      await audit(
        tx,
        {
          actor,
          action: 'task.sender_confirmed',
          caseId: before.caseId,
          personId: before.personId,
          taskId,
          after: { confirmedBy: me, note: 'kontrollerat med utföraren' },
        },
        now,
      );
    }
    const [task] = await tx
      .update(tasks)
      .set({
        status: 'done',
        doneAt: now,
        note: text,
        doneBy: me,
        assignee: me,
        takenAt: before.takenAt ?? now,
        confirmedBy: before.senderVerified ? null : me,
      })
      .where(eq(tasks.id, taskId))
      .returning();
    await audit(
      tx,
      {
        actor,
        action: 'task.done',
        caseId: before.caseId,
        personId: before.personId,
        taskId,
        before: { status: before.status, assignee: before.assignee },
        after: { status: 'done', doneBy: me, note: text },
      },
      now,
    );

    // One confirmation per case, naming everyone finished since the last one (see confirmDone).
    const reply = await confirmDone(tx, { config, rules }, before.caseId, taskId, now);
    const replyId = reply && reply.status !== 'suppressed' ? reply.id : null;
    const caseStatus = await refreshCaseStatus(tx, before.caseId, now);
    return { task: task!, replyId, caseStatus };
  });
}

/**
 * Rejects a case with a reason: no access is granted, so its open and started tasks are cancelled
 * and its pending replies are held (IT staff may still send them from the case page).
 */
export async function rejectCase(
  db: Db,
  caseId: number,
  reason: string,
  actor: string,
  now: Date = new Date(),
  mail?: ReplyEnv,
): Promise<void> {
  const why = reason.trim();
  if (!why) throw new AppError('INVALID_INPUT', 'a reason is required to reject a case', { caseId });
  await db.transaction(async (tx) => {
    const [c] = await tx.select().from(cases).where(eq(cases.id, caseId)).for('update');
    if (!c) throw new AppError('NOT_FOUND', `case ${caseId} not found`, { caseId });
    if (c.status === 'rejected' || c.status === 'done') {
      throw new AppError('CONFLICT', `a ${c.status} case cannot be rejected`, { caseId, status: c.status });
    }
    await tx
      .update(cases)
      .set({ status: 'rejected', rejectReason: why.slice(0, 2000), updatedAt: now })
      .where(eq(cases.id, caseId));
    await audit(
      tx,
      { actor, action: 'case.rejected', caseId, before: { status: c.status }, after: { status: 'rejected', reason: why } },
      now,
    );
    const cancelled = await tx
      .update(tasks)
      .set({ status: 'cancelled' })
      .where(and(eq(tasks.caseId, caseId), inArray(tasks.status, ['open', 'in_progress'])))
      .returning({ id: tasks.id, personId: tasks.personId });
    for (const t of cancelled) {
      await audit(tx, { actor, action: 'task.cancelled', caseId, personId: t.personId, taskId: t.id, after: { status: 'cancelled' } }, now);
    }
    const held = await tx
      .update(outbox)
      .set({ status: 'held' })
      .where(and(eq(outbox.caseId, caseId), eq(outbox.status, 'pending')))
      .returning({ id: outbox.id });
    for (const r of held) {
      await audit(
        tx,
        { actor, action: 'reply.held', caseId, before: { outboxId: r.id, status: 'pending' }, after: { outboxId: r.id, status: 'held' } },
        now,
      );
    }
    // The provider is told, with the reason (rules/replies.yaml `rejection`).
    if (mail) await rejectionReply(tx, mail, caseId, why, now);
  });
}

/**
 * Reopens a rejected case (audited): its status follows from its persons again, the tasks the
 * rejection cancelled are open again (unless the same HSA-id got a live task meanwhile: that person
 * goes to review), and replies the rejection held stay held for staff to send or leave.
 */
export async function reopenCase(db: Db, caseId: number, actor: string, now: Date = new Date()): Promise<string> {
  return db.transaction(async (tx) => {
    const [c] = await tx.select().from(cases).where(eq(cases.id, caseId)).for('update');
    if (!c) throw new AppError('NOT_FOUND', `case ${caseId} not found`, { caseId });
    if (c.status !== 'rejected' || c.erasedAt)
      throw new AppError('CONFLICT', 'only a rejected case can be reopened', { caseId, status: c.status });
    const [rejected] = await tx
      .select({ at: auditEvents.at })
      .from(auditEvents)
      .where(and(eq(auditEvents.caseId, caseId), eq(auditEvents.action, 'case.rejected')))
      .orderBy(desc(auditEvents.at))
      .limit(1);
    await tx.update(cases).set({ status: 'waiting', rejectReason: null, updatedAt: now }).where(eq(cases.id, caseId));
    const cancelled = await tx
      .select()
      .from(tasks)
      .where(and(eq(tasks.caseId, caseId), eq(tasks.status, 'cancelled')));
    for (const t of cancelled) {
      // Only what the rejection cancelled (a leaver's removal cancels grants too, and those stay cancelled).
      const [byRejection] = await tx
        .select({ id: auditEvents.id })
        .from(auditEvents)
        .where(and(eq(auditEvents.taskId, t.id), eq(auditEvents.action, 'task.cancelled'), gte(auditEvents.at, rejected?.at ?? now)))
        .limit(1);
      if (!byRejection) continue;
      const [clash] = await tx
        .select({ id: tasks.id, caseRef: tasks.caseRef })
        .from(tasks)
        .where(and(eq(tasks.hsaId, t.hsaId), eq(tasks.action, t.action), ne(tasks.status, 'cancelled'), ne(tasks.id, t.id)));
      if (clash && t.hsaId) {
        await tx
          .update(persons)
          .set({ status: 'duplicate', reviewReason: `HSA-id har redan en uppgift (${clash.caseRef}, uppgift ${clash.id})`, updatedAt: now })
          .where(eq(persons.id, t.personId));
        continue;
      }
      await tx.update(tasks).set({ status: 'open', assignee: null, takenAt: null }).where(eq(tasks.id, t.id));
      await audit(tx, { actor, action: 'task.reopened', caseId, personId: t.personId, taskId: t.id, after: { status: 'open' } }, now);
    }
    const status = await refreshCaseStatus(tx, caseId, now);
    await audit(
      tx,
      { actor, action: 'case.reopened', caseId, before: { status: 'rejected', reason: c.rejectReason }, after: { status } },
      now,
    );
    return status;
  });
}

/** `caseId`: the message is already on that case (shown there) and is marked seen; `caseRef`: assign it to a case. */
export type SettleAction = { caseRef: string } | { caseId: number } | { notRelevant: true };

/**
 * Settles a message that went to review: assign it to a case (by reference or id), or mark it
 * not relevant. Either way it leaves the review queue (status `settled`).
 */
export async function settleMessage(
  db: Db,
  messageId: number,
  action: SettleAction,
  actor: string,
  now: Date = new Date(),
): Promise<{ caseId: number | null }> {
  return db.transaction(async (tx) => {
    const [m] = await tx
      .select({ id: messages.id, status: messages.status, caseId: messages.caseId, reviewReason: messages.reviewReason })
      .from(messages)
      .where(eq(messages.id, messageId))
      .for('update');
    if (!m) throw new AppError('NOT_FOUND', `message ${messageId} not found`, { messageId });
    if (m.status !== 'review') throw new AppError('CONFLICT', 'the message is not waiting for review', { messageId, status: m.status });
    const before = { status: m.status, caseId: m.caseId, reviewReason: m.reviewReason };

    if ('notRelevant' in action) {
      await tx.update(messages).set({ status: 'settled', reviewReason: 'ej relevant' }).where(eq(messages.id, messageId));
      await audit(
        tx,
        {
          actor,
          action: 'message.not_relevant',
          caseId: m.caseId,
          messageRowId: messageId,
          before,
          after: { status: 'settled', caseId: m.caseId, reviewReason: 'ej relevant' },
        },
        now,
      );
      if (m.caseId != null) await refreshCaseStatus(tx, m.caseId, now);
      return { caseId: m.caseId };
    }

    // The form names the case it was shown on: the message must be on it.
    if ('caseId' in action && m.caseId !== action.caseId)
      throw new AppError('NOT_FOUND', `message ${messageId} is not on case ${action.caseId}`, { messageId });
    const ref = 'caseRef' in action ? action.caseRef.trim().toUpperCase() : null;
    const [c] = await tx
      .select({ id: cases.id, status: cases.status })
      .from(cases)
      .where('caseRef' in action ? eq(cases.ref, ref!) : eq(cases.id, action.caseId));
    if (!c) throw new AppError('NOT_FOUND', `case ${ref ?? ('caseId' in action ? action.caseId : '')} not found`, { messageId });
    if ('caseRef' in action && (c.status === 'rejected' || c.status === 'done'))
      throw new AppError('CONFLICT', 'a rejected or finished case takes no more mail', { messageId, reason: 'case-closed' });
    await tx.update(messages).set({ status: 'settled', caseId: c.id }).where(eq(messages.id, messageId));
    await audit(
      tx,
      {
        actor,
        action: 'message.assigned',
        caseId: c.id,
        messageRowId: messageId,
        before,
        after: { status: 'settled', caseId: c.id, reviewReason: m.reviewReason },
      },
      now,
    );
    await tx.update(cases).set({ updatedAt: now }).where(eq(cases.id, c.id));
    await refreshCaseStatus(tx, c.id, now);
    return { caseId: c.id };
  });
}

async function moveReply(
  db: Db,
  outboxId: number,
  from: 'pending' | 'held',
  to: 'pending' | 'held',
  action: string,
  actor: string,
  now: Date,
  caseId?: number,
): Promise<OutboxRow> {
  return db.transaction(async (tx) => {
    const [r] = await tx.select().from(outbox).where(eq(outbox.id, outboxId)).for('update');
    if (!r || (caseId !== undefined && r.caseId !== caseId)) throw new AppError('NOT_FOUND', `reply ${outboxId} not found`, { outboxId });
    if (r.status !== from) throw new AppError('CONFLICT', `the reply is ${r.status}, not ${from}`, { outboxId, status: r.status });
    const [after] = await tx
      .update(outbox)
      .set(to === 'pending' ? { status: to, nextAttemptAt: now } : { status: to })
      .where(eq(outbox.id, outboxId))
      .returning();
    await audit(tx, { actor, action, caseId: r.caseId, before: { outboxId, status: from }, after: { outboxId, status: to } }, now);
    return after!;
  });
}

/** Keeps a pending reply from being sent (pending → held). */
export function holdReply(db: Db, outboxId: number, actor: string, now: Date = new Date(), caseId?: number): Promise<OutboxRow> {
  return moveReply(db, outboxId, 'pending', 'held', 'reply.held', actor, now, caseId);
}

/** Lets a held reply go out with the next outbox run (held → pending). */
export function releaseReply(db: Db, outboxId: number, actor: string, now: Date = new Date(), caseId?: number): Promise<OutboxRow> {
  return moveReply(db, outboxId, 'held', 'pending', 'reply.released', actor, now, caseId);
}
