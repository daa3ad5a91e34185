import crypto from 'node:crypto';
import { and, desc, eq } from 'drizzle-orm';
import { audit } from '../audit';
import type { Config } from '../config';
import type { Db, Tx } from '../db/client';
import { cases, messages, outbox, persons, tasks } from '../db/schema';
import { AppError } from '../errors';
import { findProvider } from '../intake/senders';
import { subjectInfo } from '../parse/thread';
import type { ParseResult } from '../parse/types';
import { newMessageId } from '../replies/enqueue';
import type { Rules } from '../rules/load';
import { insertPerson } from './persons';
import { nextCaseRef } from './refs';
import { checkPerson, maskPersonnummerInText } from './sanitize';
import { createTasksForCase, refreshCaseStatus } from './tasks';

/**
 * What IT staff do on a case page besides correcting values, each in one transaction with its
 * audit event: reject one person, write an internal note, queue a reply of their own, and open a
 * case from a mail that waited in review.
 */

async function openCase(tx: Tx, caseId: number) {
  const [c] = await tx.select().from(cases).where(eq(cases.id, caseId)).for('update');
  if (!c) throw new AppError('NOT_FOUND', `case ${caseId} not found`, { caseId });
  return c;
}

/**
 * Rejects one person of a case with a reason: no access for them. An open or started task of
 * theirs is cancelled; a done task cannot be undone here (refused). The case status follows.
 */
export async function rejectPerson(db: Db, personId: number, caseId: number, reason: string, actor: string, now: Date): Promise<void> {
  const why = maskPersonnummerInText(reason.trim()).slice(0, 2000);
  if (!why) throw new AppError('INVALID_INPUT', 'a reason is required', { personId, reason: 'reason-required' });
  await db.transaction(async (tx) => {
    const c = await openCase(tx, caseId);
    if (c.status === 'rejected' || c.status === 'done')
      throw new AppError('CONFLICT', 'the case is closed', { caseId, reason: 'case-closed' });
    const [p] = await tx.select().from(persons).where(eq(persons.id, personId)).for('update');
    if (!p || p.caseId !== caseId) throw new AppError('NOT_FOUND', `person ${personId} not in case ${caseId}`, { personId });
    if (p.status === 'rejected') throw new AppError('CONFLICT', 'already rejected', { personId });
    const [t] = await tx.select().from(tasks).where(eq(tasks.personId, personId)).for('update');
    if (t?.status === 'done') throw new AppError('CONFLICT', 'the task is done', { personId, reason: 'task-done' });
    await tx.update(persons).set({ status: 'rejected', reviewReason: why, updatedAt: now }).where(eq(persons.id, personId));
    await audit(
      tx,
      { actor, action: 'person.rejected', caseId, personId, before: { status: p.status }, after: { status: 'rejected', reason: why } },
      now,
    );
    if (t && (t.status === 'open' || t.status === 'in_progress')) {
      await tx.update(tasks).set({ status: 'cancelled' }).where(eq(tasks.id, t.id));
      await audit(
        tx,
        {
          actor,
          action: 'task.cancelled',
          caseId,
          personId,
          taskId: t.id,
          before: { status: t.status },
          after: { status: 'cancelled', reason: why },
        },
        now,
      );
    }
    await tx.update(cases).set({ updatedAt: now }).where(eq(cases.id, caseId));
    // Another person may now be the last one holding the case: its tasks, then the status.
    await createTasksForCase(tx, caseId, actor, now);
    await refreshCaseStatus(tx, caseId, now);
  });
}

/**
 * An internal note on a case (never sent): kept as the audit event `case.note`, so it is in the
 * case's history with who and when, and erased with the case's other before/after values by the
 * retention rule.
 */
export async function addCaseNote(db: Db, caseId: number, text: string, actor: string, now: Date): Promise<void> {
  const note = maskPersonnummerInText(text.trim()).slice(0, 4000);
  if (!note) throw new AppError('INVALID_INPUT', 'an empty note', { caseId, reason: 'note-required' });
  await db.transaction(async (tx) => {
    await openCase(tx, caseId);
    await audit(tx, { actor, action: 'case.note', caseId, after: { note } }, now);
  });
}

/**
 * A reply written by a staff member, queued through the outbox (sent by the sender loop like every
 * reply, threaded to the provider's last mail). A staff action: no automatic-reply rate limit applies.
 */
export async function queueManualReply(
  db: Db,
  config: Config,
  caseId: number,
  text: string,
  staff: { actor: string; displayName: string | null; username: string },
  now: Date,
): Promise<number> {
  const body = maskPersonnummerInText(text.replace(/\r\n?/g, '\n').trim()).slice(0, 20_000);
  if (!body) throw new AppError('INVALID_INPUT', 'an empty reply', { caseId, reason: 'reply-required' });
  return db.transaction(async (tx) => {
    const c = await openCase(tx, caseId);
    if (!c.sender) throw new AppError('CONFLICT', 'no address to reply to', { caseId, reason: 'no-sender' });
    const [last] = await tx
      .select({ messageId: messages.messageId, references: messages.references })
      .from(messages)
      .where(and(eq(messages.caseId, c.id), eq(messages.fromAddr, c.sender)))
      .orderBy(desc(messages.receivedAt), desc(messages.id))
      .limit(1);
    const signed = `${body}\n\nMed vänlig hälsning\n${staff.displayName || staff.username}\n${config.mailFromName}\n\nÄrende ${c.ref}. Behåll ärendenumret i ämnesraden om du svarar.\n`;
    const [row] = await tx
      .insert(outbox)
      .values({
        caseId: c.id,
        kind: 'manual',
        triggerKey: `manual:${crypto.randomUUID()}`,
        toAddr: c.sender,
        subject: maskPersonnummerInText(`Svar från IT-avdelningen [${c.ref}] ${subjectInfo(c.subject).base}`.trim()),
        bodyText: signed,
        messageId: newMessageId(config.mailFrom),
        inReplyTo: last?.messageId ?? null,
        references: last ? [...last.references, ...(last.messageId ? [last.messageId] : [])].slice(-20) : [],
        status: 'pending',
        createdAt: now,
        nextAttemptAt: now,
      })
      .returning({ id: outbox.id });
    await audit(tx, { actor: staff.actor, action: 'reply.manual', caseId: c.id, after: { outboxId: row!.id, status: 'pending' } }, now);
    await tx.update(cases).set({ updatedAt: now }).where(eq(cases.id, c.id));
    return row!.id;
  });
}

/**
 * A mail in the review queue becomes a case of its own: its sender and subject, the persons the
 * reader found in it (re-checked by today's rules; none is fine, staff add them by answering or
 * correcting), tasks for the complete ones. The mail leaves the queue (settled, on the new case).
 */
export async function createCaseFromMessage(db: Db, rules: Rules, messageId: number, actor: string, now: Date): Promise<number> {
  return db.transaction(async (tx) => {
    const [m] = await tx.select().from(messages).where(eq(messages.id, messageId)).for('update');
    if (!m) throw new AppError('NOT_FOUND', `message ${messageId} not found`, { messageId });
    if (m.status !== 'review' || m.caseId != null)
      throw new AppError('CONFLICT', 'only a mail waiting in review without a case', { messageId, status: m.status });
    const provider = findProvider(rules, m.fromAddr);
    const [c] = await tx
      .insert(cases)
      .values({
        ref: await nextCaseRef(tx, now),
        status: 'review',
        providerName: provider?.name ?? null,
        knownProvider: provider !== null,
        senderVerified: provider !== null && m.authVerdict === 'pass',
        sender: m.fromAddr,
        subject: m.subject,
        threadSubject: subjectInfo(m.subject).base.toLowerCase(),
        createdAt: m.receivedAt,
        updatedAt: now,
      })
      .returning();
    const parsed = m.parsed as ParseResult | null;
    const found = parsed && Array.isArray(parsed.persons) ? parsed.persons.slice(0, 50) : [];
    for (const p of found) await insertPerson(tx, c!.id, checkPerson({ ...p }, rules), m.id, now);
    await tx.update(messages).set({ status: 'settled', caseId: c!.id }).where(eq(messages.id, m.id));
    await audit(
      tx,
      {
        actor,
        action: 'case.created_from_message',
        caseId: c!.id,
        messageId: m.id,
        before: { status: m.status, caseId: null, reviewReason: m.reviewReason },
        after: { status: 'settled', caseId: c!.id, persons: found.length },
      },
      now,
    );
    await createTasksForCase(tx, c!.id, actor, now);
    await refreshCaseStatus(tx, c!.id, now);
    return c!.id;
  });
}

/** The internal notes of a case, newest first (from its audit events). */
export function notesOf(events: Array<{ action: string; after: unknown; actor: string; at: Date; id: number }>) {
  return events
    .filter((e) => e.action === 'case.note')
    .map((e) => ({ id: e.id, at: e.at, actor: e.actor, note: String((e.after as { note?: unknown } | null)?.note ?? '') }));
}
