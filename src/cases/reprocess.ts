import { and, asc, eq, gte, sql, type SQL } from 'drizzle-orm';
import { audit } from '../audit';
import type { AppContext } from '../context';
import type { Tx } from '../db/client';
import { readRaw } from '../db/raw';
import { messages, outbox, persons, tasks, type MessageKind, type MessageStatus } from '../db/schema';
import { AppError } from '../errors';
import { parsePoolFor } from '../parse-pool';
import { FIELDS, type FieldName, type PersonRecord } from '../parse/types';
import { handleNotification } from './notification';
import { insertPerson, matchPerson, mergeValues, statusFor } from './persons';
import { sanitizeRecord } from './sanitize';
import { senderStanding } from './sender-check';
import { createTasksForCase, refreshCaseStatus } from './create-tasks';
import { unsureReason } from '../parse/unsure';

/**
 * Runs the current reader and rules over mail already stored (issue 7, item 8): one mail, all in
 * review, or everything since a date. A mail that now reads as a notification gets its case, tasks
 * and reply as if it had just come; a mail already on a case fills what its persons still lack.
 * Values IT staff corrected and persons with a task are never touched; replies have the mail as
 * their idempotency key, so nothing is sent twice. A dry run does the same work in a transaction
 * that is rolled back and reports what would change.
 */

export type ReprocessSelector = { messageId: number } | { review: true } | { since: Date };

export interface ReprocessChange {
  messageRowId: number;
  before: { kind: MessageKind; status: MessageStatus; persons: number };
  after: { kind: MessageKind; persons: number };
  /** What was done (or would be): nothing to do, a new case, persons filled, or a new reading shown but not applied. */
  action: 'unchanged' | 'case' | 'persons' | 'not-applied';
  /** Why a different reading was not applied (Swedish, for staff). */
  note?: string;
  caseId: number | null;
  personsAdded: number;
  personsUpdated: number;
  tasksCreated: number;
  repliesQueued: number;
  /** Per person and field: the value before and after (for the dry run's display). */
  fields: Array<{ person: number; field: FieldName; before: string | null; after: string | null }>;
}

class DryRun extends Error {}

const MAX_PER_RUN = 5_000;

export async function reprocess(
  ctx: AppContext,
  select: ReprocessSelector,
  opts: { dryRun: boolean; actor: string },
): Promise<ReprocessChange[]> {
  const db = ctx.database.db;
  const where: SQL | undefined =
    'messageId' in select
      ? eq(messages.id, select.messageId)
      : 'review' in select
        ? eq(messages.status, 'review')
        : gte(messages.receivedAt, select.since);
  const rows = await db.select({ id: messages.id }).from(messages).where(where).orderBy(asc(messages.id)).limit(MAX_PER_RUN);
  if ('messageId' in select && rows.length === 0) throw new AppError('NOT_FOUND', `message ${select.messageId} not found`);
  const out: ReprocessChange[] = [];
  for (const { id } of rows) out.push(await reprocessOne(ctx, id, opts));
  return out;
}

async function reprocessOne(ctx: AppContext, id: number, opts: { dryRun: boolean; actor: string }): Promise<ReprocessChange> {
  const [msg] = await ctx.database.db.select().from(messages).where(eq(messages.id, id));
  if (!msg) throw new AppError('NOT_FOUND', `message ${id} not found`);
  const oldPersons = (msg.parsed as { persons?: PersonRecord[] } | null)?.persons ?? [];
  const change: ReprocessChange = {
    messageRowId: id,
    before: { kind: msg.kind, status: msg.status, persons: oldPersons.length },
    after: { kind: msg.kind, persons: oldPersons.length },
    action: 'unchanged',
    caseId: msg.caseId,
    personsAdded: 0,
    personsUpdated: 0,
    tasksCreated: 0,
    repliesQueued: 0,
    fields: [],
  };
  if (msg.errorCode === 'MAIL_TOO_LARGE') return { ...change, action: 'not-applied', note: 'bara huvudet sparat (för stort)' };
  const domain = ctx.config.mailFrom.split('@')[1] ?? 'localhost';
  const parsed = await parsePoolFor(ctx.rules, ctx.config.parse, ctx.log).parse(await readRaw(ctx.database.db, msg), { ownDomain: domain });
  const result = parsed.result;
  const kind: MessageKind = parsed.automatedReason === 'own-mail' ? 'own' : result.kind;
  const records = result.persons.map((r) => sanitizeRecord(r, ctx.rules));
  change.after = { kind, persons: records.length };
  if (result.error || !parsed.mail)
    return { ...change, action: 'not-applied', note: `kunde inte tolkas (${result.error?.code ?? 'okänt'})` };
  if (kind !== 'notification') {
    const same = kind === msg.kind;
    return same ? change : { ...change, action: 'not-applied', note: `tolkas nu som ${kind}; ändras inte automatiskt` };
  }
  const mail = parsed.mail;
  const now = ctx.now();
  try {
    await ctx.database.db.transaction(async (tx) => {
      if (msg.caseId == null) {
        // Never on a case: handled as if it had just come (its case, tasks, and the reply it should have had).
        const standing = senderStanding(ctx.rules, mail.from, msg.authVerdict);
        const done = await handleNotification(tx, ctx, {
          mail,
          text: parsed.bodyText,
          records: result.persons,
          standing,
          messageRowId: id,
          now,
        });
        const status: MessageStatus = done.review ? 'review' : 'processed';
        await tx
          .update(messages)
          // The case steps leave the mail's row to their caller: the case they chose is written here.
          .set({ kind, status, reviewReason: done.review, parsed: result, errorCode: null, caseId: done.caseId })
          .where(eq(messages.id, id));
        change.caseId = done.caseId;
        if (done.caseId) {
          change.action = 'case';
          const mine = await tx.select().from(persons).where(eq(persons.caseId, done.caseId));
          change.personsAdded = mine.filter((p) => p.sourceMessageIds[0] === id).length;
          change.tasksCreated = (
            await tx
              .select({ id: tasks.id })
              .from(tasks)
              .where(and(eq(tasks.caseId, done.caseId), gte(tasks.createdAt, now)))
          ).length;
          records.forEach((r, k) => FIELDS.forEach((f) => change.fields.push({ person: k, field: f, before: null, after: r[f] })));
          change.repliesQueued = await repliesFor(tx, id);
        }
      } else {
        const before = await repliesFor(tx, id);
        await fillCase(tx, ctx, msg.caseId, id, records, change, now);
        await tx.update(messages).set({ parsed: result }).where(eq(messages.id, id));
        change.repliesQueued = (await repliesFor(tx, id)) - before;
      }
      if (change.action !== 'unchanged')
        await audit(
          tx,
          {
            actor: opts.actor,
            action: 'message.reprocessed',
            caseId: change.caseId,
            messageRowId: id,
            before: { kind: msg.kind, persons: oldPersons.length },
            after: { kind, persons: records.length, tasksCreated: change.tasksCreated },
          },
          now,
        );
      if (opts.dryRun) throw new DryRun();
    });
  } catch (err) {
    if (!(err instanceof DryRun)) throw err;
  }
  return change;
}

/** A mail already on a case: its persons (not corrected by staff, no task yet) get what the reader now finds. */
async function fillCase(
  tx: Tx,
  ctx: AppContext,
  caseId: number,
  messageRowId: number,
  records: PersonRecord[],
  change: ReprocessChange,
  now: Date,
): Promise<void> {
  const existing = await tx.select().from(persons).where(eq(persons.caseId, caseId)).orderBy(persons.id);
  const fromThis = existing.filter((p) => p.sourceMessageIds.includes(messageRowId));
  const taken = new Set<number>();
  for (const [k, r] of records.entries()) {
    const match = matchPerson(existing, r, taken);
    if (match) taken.add(match.id);
    if (!match) {
      if (existing.some((p) => p.hsaId && p.hsaId === r.hsaId)) continue;
      await insertPerson(tx, caseId, r, messageRowId, now);
      change.personsAdded++;
      FIELDS.forEach((f) => change.fields.push({ person: k, field: f, before: null, after: r[f] }));
      continue;
    }
    // Staff's word stands; a person whose task exists is settled.
    if (match.correctedBy.length > 0 || (match.status !== 'incomplete' && match.status !== 'needs_review')) continue;
    if (!fromThis.some((p) => p.id === match.id)) continue;
    const merged = { ...mergeValues(match, r, ctx.rules), ...(r.unsure ? { unsure: r.unsure } : {}) };
    const changed = FIELDS.filter((f) => merged[f] !== match[f]);
    if (changed.length === 0) continue;
    const status = statusFor(merged);
    await tx
      .update(persons)
      .set({
        name: merged.name,
        function: merged.function,
        hsaId: merged.hsaId,
        treservaUser: merged.treservaUser,
        problems: merged.problems,
        status,
        reviewReason: status === 'needs_review' ? unsureReason(merged) : null,
        updatedAt: now,
      })
      .where(eq(persons.id, match.id));
    change.personsUpdated++;
    for (const f of changed) change.fields.push({ person: k, field: f, before: match[f], after: merged[f] });
  }
  if (change.personsAdded + change.personsUpdated === 0) return;
  change.action = 'persons';
  change.tasksCreated = (await createTasksForCase(tx, caseId, 'worker', now)).length;
  await refreshCaseStatus(tx, caseId, now);
}

/** Replies whose trigger is this mail (their idempotency key: one per kind, ever). */
async function repliesFor(tx: Tx, messageRowId: number): Promise<number> {
  const [row] = await tx
    .select({ n: sql<number>`count(*)::int` })
    .from(outbox)
    .where(eq(outbox.triggerKey, `message:${messageRowId}`));
  return row?.n ?? 0;
}
