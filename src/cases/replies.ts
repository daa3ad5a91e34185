import { and, asc, desc, eq, inArray, isNull, ne } from 'drizzle-orm';
import type { Config } from '../config';
import type { AppContext } from '../context';
import type { DbOrTx, Tx } from '../db/client';
import { cases, messages, outbox, persons, tasks, type OutboxKind } from '../db/schema';
import { takeOwnWords } from '../parse/own-words';
import type { MailInput } from '../parse/read-mail';
import { splitThread, subjectInfo } from '../parse/thread';
import {
  composeAcknowledgement,
  composeDoneConfirmation,
  composeMissingInfo,
  composeReceipt,
  composeRejection,
  composeRemovalReceipt,
  composeStillMissing,
  type ComposeInput,
} from '../replies/compose';
import { enqueueReply } from '../replies/enqueue';
import type { Rules } from '../rules/load';
import type { CaseRow } from './find-case';
import type { SenderStanding } from './sender-check';
import { CaseStore } from './store';

/**
 * Which reply a case gets, and when. Replies are per case, not per task:
 *   - a provider mail that leaves the case waiting: what is missing, and who is already complete;
 *   - a mail that brings nothing new: what is still missing (a question: an acknowledgement);
 *   - the case complete, however it got there (mail, a staff correction, review): one receipt
 *     naming every person not yet named in one;
 *   - tasks done: one confirmation per case, naming everyone finished since the last one, sent
 *     REPLY_DONE_BATCH_MINUTES after the first of them and at most once a day;
 *   - a case rejected: the reason, from the `rejection` template.
 * Answers to incoming mail are automatic (rate-limited, the guard against loops); replies staff
 * actions trigger are not. Replies that name persons go only to a verified sender of a known
 * provider (REPLY_PERSONAL_DATA=verified); anyone else gets the neutral acknowledgement for a mail,
 * and nothing (recorded as not sent, so staff may "Skicka ändå") for a staff action.
 */

export interface ReplyEnv {
  readonly config: Config;
  readonly rules: Rules;
}

type PersonRow = typeof persons.$inferSelect;
type Threading = { to: string; inReplyTo: string | null; references: string[] };
type Draft = { kind: OutboxKind; subject: string; body: string };

const base = (c: CaseRow, env: ReplyEnv) => ({
  ref: c.ref,
  subject: subjectInfo(c.subject).base,
  mailbox: env.config.mailFrom,
  contact: env.config.replies.contact,
});

const mailThreading = (mail: MailInput): Threading => ({
  to: mail.from!,
  inReplyTo: mail.messageId,
  references: [...mail.references, ...(mail.messageId ? [mail.messageId] : [])].slice(-20),
});

/** A staff-triggered reply answers the provider's last mail on the case. */
export async function caseThreading(tx: DbOrTx, c: CaseRow): Promise<Threading | null> {
  if (!c.sender) return null;
  const [last] = await tx
    .select({ messageId: messages.messageId, references: messages.references })
    .from(messages)
    .where(and(eq(messages.caseId, c.id), eq(messages.fromAddr, c.sender)))
    .orderBy(desc(messages.receivedAt), desc(messages.id))
    .limit(1);
  return {
    to: c.sender,
    inReplyTo: last?.messageId ?? null,
    references: last ? [...last.references, ...(last.messageId ? [last.messageId] : [])].slice(-20) : [],
  };
}

/** Why a reply that names persons may not go to this case's sender (undefined: it may). */
export function personalBlock(env: ReplyEnv, c: CaseRow, standing?: SenderStanding): string | undefined {
  if (!c.knownProvider && !env.config.replies.unknownSenders) return 'okänd avsändare';
  if (env.config.replies.personalData === 'all') return undefined;
  const verified = c.senderVerified && (standing ? standing.verified : true);
  return verified ? undefined : 'avsändaren är inte verifierad';
}

const accepted = (all: PersonRow[]) => all.filter((p) => p.status === 'task_created' || p.status === 'complete');

type Unreceipted = Array<{ id: number; personId: number; action: 'grant' | 'revoke' }>;

/** Tasks of the case no receipt has named yet (live ones only). */
async function unreceipted(db: DbOrTx | CaseStore, caseId: number): Promise<Unreceipted> {
  if (db instanceof CaseStore)
    return (await db.tasksOf(caseId)).filter((t) => t.receiptReplyId == null && t.status !== 'cancelled').sort((a, b) => a.id - b.id);
  return db
    .select({ id: tasks.id, personId: tasks.personId, action: tasks.action })
    .from(tasks)
    .where(and(eq(tasks.caseId, caseId), isNull(tasks.receiptReplyId), ne(tasks.status, 'cancelled')))
    .orderBy(asc(tasks.id));
}

/** Receipt drafts for the tasks no receipt has named yet; marks them once the reply row exists. */
async function receiptDrafts(db: DbOrTx | CaseStore, env: ReplyEnv, c: CaseRow, all: PersonRow[]) {
  const open = await unreceipted(db, c.id);
  const byPerson = new Map(all.map((p) => [p.id, p]));
  const group = (action: 'grant' | 'revoke') => open.filter((t) => t.action === action);
  const out: Array<Draft & { taskIds: number[] }> = [];
  for (const [action, kind, compose] of [
    ['grant', 'receipt', composeReceipt],
    ['revoke', 'removal_receipt', composeRemovalReceipt],
  ] as const) {
    const ts = group(action);
    if (!ts.length) continue;
    // In the order the provider gave them (person order), whatever order their tasks were made in.
    const named = ts
      .map((t) => byPerson.get(t.personId))
      .filter((p): p is PersonRow => !!p)
      .sort((a, b) => a.id - b.id);
    out.push({ kind, ...compose({ ...base(c, env), persons: named }, env.rules), taskIds: ts.map((t) => t.id) });
  }
  return out;
}

async function markReceipted(db: DbOrTx | CaseStore, taskIds: number[], replyId: number) {
  if (db instanceof CaseStore) for (const id of taskIds) db.updateTask(id, { receiptReplyId: replyId });
  else if (taskIds.length) await db.update(tasks).set({ receiptReplyId: replyId }).where(inArray(tasks.id, taskIds));
}

/**
 * The last case step: which reply a notification mail gets. Waiting: what is missing and who is
 * complete. Otherwise the receipt for tasks not yet named in one; with none, an acknowledgement
 * (IT staff look at the case). Always automatic.
 */
export async function chooseReplies(
  store: CaseStore,
  ctx: AppContext,
  input: {
    case: CaseRow;
    mail: MailInput;
    standing: SenderStanding;
    messageRowId: number;
    status: string;
    tasksCreated: number[];
    now: Date;
  },
): Promise<void> {
  const { mail, standing, messageRowId, status, now } = input;
  if (!mail.from) return;
  const c = await store.case(input.case.id);
  if (!c) return;
  const all = await store.personsOf(c.id);
  const suppressReason = !standing.provider && !ctx.config.replies.unknownSenders ? 'okänd avsändare' : undefined;
  const personal = personalBlock(ctx, c, standing) === undefined;

  const drafts: Array<Draft & { taskIds?: number[] }> = [];
  if (status === 'waiting') {
    drafts.push({
      kind: 'missing_info',
      ...composeMissingInfo({ ...base(c, ctx), persons: all.filter((p) => p.status === 'incomplete'), accepted: accepted(all) }, ctx.rules),
    });
  } else if (ctx.config.replies.receipt) {
    drafts.push(...(await receiptDrafts(store, ctx, c, all)));
  }
  const tooLarge = drafts.some((d) => Buffer.byteLength(d.body) + Buffer.byteLength(d.subject) > ctx.config.replies.maxBytes);
  const outgoing: Array<Draft & { taskIds?: number[] }> =
    personal && !tooLarge && drafts.length ? drafts : [{ kind: 'acknowledgement', ...composeAcknowledgement(base(c, ctx), ctx.rules) }];
  for (const d of outgoing) {
    const row = await enqueueReply(
      store,
      {
        caseId: c.id,
        kind: d.kind,
        triggerKey: `message:${messageRowId}`,
        ...mailThreading(mail),
        subject: d.subject,
        body: d.body,
        suppressReason,
        automatic: true,
      },
      ctx.config,
      now,
    );
    if (row && d.taskIds) await markReceipted(store, d.taskIds, row.id);
  }
  if (outgoing.some((d) => d.kind === 'acknowledgement') && drafts.some((d) => d.taskIds)) {
    // The neutral answer stands for the receipt: these tasks are not named again later.
    for (const d of drafts) if (d.taskIds) await markReceipted(store, d.taskIds, 0);
  }
}

/**
 * A mail without data on a case its sender may change: a question or a reply that adds nothing.
 * Waiting for data: what is still missing (a question: an acknowledgement, IT staff answer it).
 * No answer to an out-of-office text (rules/replies.yaml `outOfOffice`) nor to a forward of our
 * own mail: both answer every mail they get.
 */
export async function answerOtherMail(
  store: CaseStore,
  ctx: AppContext,
  input: { case: CaseRow; mail: MailInput; text: string; standing: SenderStanding; messageRowId: number; now: Date },
): Promise<OutboxKind | null> {
  const { mail, now } = input;
  if (!mail.from) return null;
  const c = await store.case(input.case.id);
  if (!c || c.status === 'rejected' || c.status === 'done' || c.erasedAt) return null;
  const said = freshWords(input.text, mail, ctx);
  if (said === null) return null;
  // A person wrote: the reminder count starts again and the "does not answer" flag is lifted.
  store.updateCase(c.id, { remindersSent: 0, providerSilentSince: null, updatedAt: now });
  const all = await store.personsOf(c.id);
  const suppressReason = !input.standing.provider && !ctx.config.replies.unknownSenders ? 'okänd avsändare' : undefined;
  const personal = personalBlock(ctx, c, input.standing) === undefined;
  const question = said.includes('?');
  let d: Draft;
  if (c.status === 'waiting' && !question && personal) {
    d = {
      kind: 'still_missing',
      ...composeStillMissing(
        { ...base(c, ctx), persons: all.filter((p) => p.status === 'incomplete'), accepted: accepted(all) },
        ctx.rules,
      ),
    };
  } else d = { kind: 'acknowledgement', ...composeAcknowledgement(base(c, ctx), ctx.rules) };
  const row = await enqueueReply(
    store,
    {
      caseId: c.id,
      kind: d.kind,
      triggerKey: `message:${input.messageRowId}`,
      ...mailThreading(mail),
      subject: d.subject,
      body: d.body,
      suppressReason,
      automatic: true,
    },
    ctx.config,
    now,
  );
  return row ? d.kind : null;
}

const GREETING =
  /^(hej|hejsan|hallå|tack|tackar|mvh|vh|med vänlig[a]? hälsning(ar)?|vänliga hälsningar|hälsningar|best regards|regards|br)$/;

/**
 * What the sender wrote now, beyond greetings and our own words; null when it is an out-of-office
 * text or a forward of our own mail (no answer).
 */
function freshWords(text: string, mail: MailInput, ctx: AppContext): string | null {
  if (subjectInfo(mail.subject).forward && text.toLowerCase().includes(ctx.config.mailFrom)) return null;
  const { fresh } = splitThread(text.slice(0, 20_000));
  const rest = takeOwnWords(fresh.slice(0, 200), ctx.rules).rest;
  const fold = (l: string) =>
    l
      .toLocaleLowerCase('sv')
      .replace(/[^\p{L}\d?]+/gu, ' ')
      .trim();
  const lines = rest.map(fold).filter((l) => l !== '' && !GREETING.test(l.replace(/\?/g, '').trim()));
  const cues = ctx.rules.replies.outOfOffice.map(fold);
  if (lines.some((l) => cues.some((q) => l.includes(q)))) return null;
  return lines.join('\n');
}

/**
 * After a staff action (a correction, a message settled in review, a case reopened): when the case
 * is complete, one receipt naming every person not yet named in one. Not automatic: no rate limit.
 */
export async function receiptAfterStaffAction(tx: DbOrTx, env: ReplyEnv, caseId: number, now: Date): Promise<number | null> {
  if (!env.config.replies.receipt) return null;
  const [c] = await tx.select().from(cases).where(eq(cases.id, caseId));
  if (!c || c.status !== 'complete') return null;
  const thread = await caseThreading(tx, c);
  if (!thread) return null;
  const all = await tx.select().from(persons).where(eq(persons.caseId, c.id)).orderBy(persons.id);
  const drafts = await receiptDrafts(tx, env, c, all);
  let first: number | null = null;
  const suppressReason = personalBlock(env, c);
  for (const d of drafts) {
    const row = await enqueueReply(
      tx,
      {
        caseId: c.id,
        kind: d.kind,
        triggerKey: `receipt:${c.id}:task:${d.taskIds[0]}`,
        ...thread,
        subject: d.subject,
        body: d.body,
        automatic: false,
        ...(suppressReason ? { suppressReason } : {}),
      },
      env.config,
      now,
    );
    if (row) {
      await markReceipted(tx, d.taskIds, row.id);
      first ??= row.id;
    }
  }
  return first;
}

/**
 * A task done: the case's done confirmation, one mail naming every task finished since the last
 * one. A confirmation not yet sent takes the task in (its text is written anew); otherwise a new
 * one waits REPLY_DONE_BATCH_MINUTES for more, and goes no sooner than a day after the last one.
 * Returns the reply's id and status (null when confirmations are off or the case has no sender).
 */
export async function confirmDone(tx: Tx, env: ReplyEnv, caseId: number, taskId: number, now: Date) {
  if (!env.config.replies.doneConfirmation) return null;
  const [c] = await tx.select().from(cases).where(eq(cases.id, caseId));
  if (!c) return null;
  const thread = await caseThreading(tx, c);
  if (!thread) return null;
  const [open] = await tx
    .select()
    .from(outbox)
    .where(and(eq(outbox.caseId, caseId), eq(outbox.kind, 'done_confirmation'), inArray(outbox.status, ['pending', 'held', 'suppressed'])))
    .orderBy(desc(outbox.id))
    .limit(1)
    .for('update');
  let replyId: number;
  let status: string;
  if (open) {
    replyId = open.id;
    status = open.status;
  } else {
    const [lastSent] = await tx
      .select({ sentAt: outbox.sentAt })
      .from(outbox)
      .where(and(eq(outbox.caseId, caseId), eq(outbox.kind, 'done_confirmation'), eq(outbox.status, 'sent')))
      .orderBy(desc(outbox.sentAt))
      .limit(1);
    const batch = new Date(now.getTime() + env.config.replies.doneBatchMs);
    const dayAfter = lastSent?.sentAt ? new Date(lastSent.sentAt.getTime() + 86_400_000) : batch;
    const suppressReason = personalBlock(env, c);
    const row = await enqueueReply(
      tx,
      {
        caseId,
        kind: 'done_confirmation',
        triggerKey: `done:${caseId}:task:${taskId}`,
        ...thread,
        subject: '',
        body: '',
        automatic: false,
        notBefore: dayAfter > batch ? dayAfter : batch,
        ...(suppressReason ? { suppressReason } : {}),
      },
      env.config,
      now,
    );
    if (!row) return null;
    replyId = row.id;
    status = row.status;
  }
  // Every done task of the case not yet in a sent confirmation belongs to this one.
  await tx
    .update(tasks)
    .set({ doneReplyId: replyId })
    .where(and(eq(tasks.caseId, caseId), eq(tasks.status, 'done'), isNull(tasks.doneReplyId)));
  const named = await tx.select().from(tasks).where(eq(tasks.doneReplyId, replyId)).orderBy(asc(tasks.doneAt), asc(tasks.id));
  const composed = composeDone(env, c, named);
  await tx.update(outbox).set({ subject: composed.subject, bodyText: composed.body }).where(eq(outbox.id, replyId));
  return { id: replyId, status };
}

function composeDone(env: ReplyEnv, c: CaseRow, named: Array<typeof tasks.$inferSelect>) {
  const grants = named.filter((t) => t.action === 'grant');
  const list = grants.length ? grants : named;
  const asPerson = (t: (typeof named)[number]): ComposeInput['persons'][number] => ({
    name: t.name,
    function: t.function || null,
    hsaId: t.hsaId,
    treservaUser: t.treservaUser,
    problems: [],
  });
  const removals = grants.length ? named.filter((t) => t.action === 'revoke') : [];
  const notes = list.filter((t) => t.note).map((t) => ({ name: t.name, note: t.note! }));
  const main = composeDoneConfirmation(
    { ...base(c, env), persons: list.map(asPerson), notes },
    env.rules,
    grants.length ? 'grant' : 'revoke',
  );
  if (!removals.length) return main;
  // A case with both: the grants' confirmation, then the removals'.
  const extra = composeDoneConfirmation(
    {
      ...base(c, env),
      persons: removals.map(asPerson),
      notes: removals.filter((t) => t.note).map((t) => ({ name: t.name, note: t.note! })),
    },
    env.rules,
    'revoke',
  );
  return { subject: main.subject, body: `${main.body}\n${extra.body.replace(/^[^\n]*\n\n/, '')}` };
}

/** A case rejected by staff: the provider is told why (from the `rejection` template). */
export async function rejectionReply(tx: DbOrTx, env: ReplyEnv, caseId: number, reason: string, now: Date): Promise<number | null> {
  const [c] = await tx.select().from(cases).where(eq(cases.id, caseId));
  if (!c) return null;
  const thread = await caseThreading(tx, c);
  if (!thread) return null;
  const composed = composeRejection({ ...base(c, env), reason }, env.rules);
  const suppressReason = personalBlock(env, c);
  const [{ n } = { n: 0 }] = await tx
    .select({ n: outbox.id })
    .from(outbox)
    .where(eq(outbox.caseId, caseId))
    .orderBy(desc(outbox.id))
    .limit(1);
  const row = await enqueueReply(
    tx,
    {
      caseId,
      kind: 'rejection',
      triggerKey: `rejected:${caseId}:${n}`,
      ...thread,
      subject: composed.subject,
      body: composed.body,
      automatic: false,
      // The reason is the staff member's own words: to an unverified sender it waits for "Skicka ändå".
      ...(suppressReason ? { suppressReason } : {}),
    },
    env.config,
    now,
  );
  return row?.id ?? null;
}
