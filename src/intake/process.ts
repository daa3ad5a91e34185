import crypto from 'node:crypto';
import { and, eq, gte, inArray, or } from 'drizzle-orm';
import { audit } from '../audit';
import { matchPerson, insertPerson, mergeValues, statusFor, type PersonRow } from '../cases/persons';
import { nextCaseRef, refInSubject } from '../cases/refs';
import { createTasksForCase, refreshCaseStatus } from '../cases/tasks';
import type { AppContext } from '../context';
import type { Tx } from '../db/client';
import { cases, mailboxState, messages, outbox, persons, type MessageKind, type MessageStatus } from '../db/schema';
import { parseMail, type ParsedMail } from '../parse';
import { parseSeconds } from '../metrics';
import { subjectInfo } from '../parse/thread';
import { errorCode, errorMessage } from '../errors';
import { composeMissingInfo, composeReceipt } from '../replies/compose';
import { enqueueReply, withdrawStaleRequests } from '../replies/enqueue';
import { findProvider } from './senders';

/**
 * The per-message stage: store the raw mail, classify and parse it, find or open its case,
 * merge persons, create tasks and queue replies — all in one transaction, so a crash leaves
 * either nothing or everything. Dedupe by mailbox UID, content hash and Message-ID.
 */

export interface Source {
  kind: 'imap' | 'maildrop' | 'ingest';
  mailbox?: string;
  uidValidity?: number;
  uid?: number;
}

export type Folder = 'processed' | 'review' | 'ignored';

export interface IngestOutcome {
  messageRowId: number | null;
  status: MessageStatus | 'duplicate';
  caseId: number | null;
  folder: Folder;
}

const folderFor = (status: MessageStatus): Folder => (status === 'ignored' ? 'ignored' : status === 'review' ? 'review' : 'processed');

export function contentHash(raw: Buffer): string {
  return crypto.createHash('sha256').update(raw).digest('hex');
}

/** A message already stored: same bytes or same mailbox UID, or (once parsed) same Message-ID from the same sender. */
async function findExisting(ctx: AppContext, by: { hash: string; source: Source } | { messageId: string | null; from: string | null }) {
  const conds = [];
  if ('hash' in by) {
    conds.push(eq(messages.contentHash, by.hash));
    const { mailbox, uidValidity, uid } = by.source;
    if (mailbox && uidValidity != null && uid != null) {
      conds.push(and(eq(messages.mailbox, mailbox), eq(messages.uidValidity, uidValidity), eq(messages.uid, uid))!);
    }
  } else if (by.messageId && by.from) {
    conds.push(and(eq(messages.messageId, by.messageId), eq(messages.fromAddr, by.from))!);
  }
  if (conds.length === 0) return null;
  const [row] = await ctx.database.db.select({ id: messages.id, status: messages.status, caseId: messages.caseId }).from(messages).where(or(...conds)).limit(1);
  return row ?? null;
}

/** The case a follow-up belongs to: In-Reply-To/References, the case reference in the subject, or sender + subject. */
async function findCase(tx: Tx, ctx: AppContext, parsed: ParsedMail): Promise<typeof cases.$inferSelect | null> {
  const mail = parsed.mail!;
  const refs = [mail.inReplyTo, ...mail.references].filter((x): x is string => !!x);
  if (refs.length > 0) {
    const ours = await tx.select({ caseId: outbox.caseId }).from(outbox).where(inArray(outbox.messageId, refs)).limit(1);
    const theirs = ours.length ? [] : await tx.select({ caseId: messages.caseId }).from(messages).where(inArray(messages.messageId, refs));
    const id = ours[0]?.caseId ?? theirs.find((r) => r.caseId != null)?.caseId;
    if (id != null) {
      const [c] = await tx.select().from(cases).where(eq(cases.id, id));
      if (c) return c;
    }
  }
  const ref = refInSubject(mail.subject);
  if (ref) {
    const [c] = await tx.select().from(cases).where(eq(cases.ref, ref));
    if (c) return c;
  }
  // Same sender and subject: an answer to a case still waiting (a new batch later is a new case).
  const base = subjectInfo(mail.subject).base.toLowerCase();
  if (mail.from && base !== '' && ctx.config.followupWindowDays > 0) {
    const since = new Date(ctx.now().getTime() - ctx.config.followupWindowDays * 86_400_000);
    const [c] = await tx
      .select()
      .from(cases)
      .where(and(eq(cases.sender, mail.from), eq(cases.threadSubject, base), gte(cases.updatedAt, since), inArray(cases.status, ['waiting', 'review'])))
      .orderBy(cases.updatedAt)
      .limit(1);
    if (c) return c;
  }
  return null;
}

export async function ingestRaw(ctx: AppContext, raw: Buffer, source: Source, opts: { size?: number } = {}): Promise<IngestOutcome> {
  const log = ctx.log.child({ component: 'process', uid: source.uid });
  const now = ctx.now();
  const hash = contentHash(raw);
  // `size` is the server's size when only the start of a large mail was fetched.
  const size = Math.max(opts.size ?? 0, raw.length);
  const tooLarge = size > ctx.config.maxMailBytes;

  const duplicate = async (existing: { id: number; status: MessageStatus; caseId: number | null }): Promise<IngestOutcome> => {
    log.info({ messageRowId: existing.id }, 'message already stored; not processed again');
    await recordProgress(ctx, source);
    return { messageRowId: existing.id, status: 'duplicate', caseId: existing.caseId, folder: folderFor(existing.status) };
  };
  // Same bytes or same mailbox UID: known without parsing.
  const seen = await findExisting(ctx, { hash, source });
  if (seen) return duplicate(seen);

  // Too large: keep the headers (the original stays in the review folder), skip the body.
  const endParse = parseSeconds.startTimer();
  const parsed: ParsedMail = tooLarge
    ? await parseMail(raw.subarray(0, Math.min(raw.length, headerEnd(raw))), ctx.rules, { ownDomain: ownDomain(ctx) })
    : await parseMail(raw, ctx.rules, { ownDomain: ownDomain(ctx) });
  endParse();
  const result = parsed.result;

  // Same Message-ID from the same sender (re-delivered with other headers).
  const resent = await findExisting(ctx, { messageId: result.messageId, from: result.from });
  if (resent) return duplicate(resent);

  let kind: MessageKind = result.kind;
  if (parsed.automatedReason === 'own-mail') kind = 'own';
  let status: MessageStatus = kind === 'notification' ? 'processed' : kind === 'other' ? 'review' : 'ignored';
  let reviewReason: string | null = null;
  if (tooLarge) {
    status = 'review';
    reviewReason = `för stort (${size} byte, gräns ${ctx.config.maxMailBytes})`;
  } else if (result.error) {
    status = 'review';
    reviewReason = `kunde inte tolkas (${result.error.code})`;
  } else if (kind === 'other') reviewReason = 'inga uppgifter hittades';
  else if (kind === 'automated' || kind === 'own') reviewReason = parsed.automatedReason;

  try {
    return await store(ctx, raw, source, { hash, size, tooLarge, parsed, kind, status, reviewReason, now });
  } catch (err) {
    if (isConnectionError(err)) throw err;
    // This mail cannot be stored as parsed: keep it raw, for review, so it never blocks the queue.
    log.error({ code: errorCode(err), err: errorMessage(err) }, 'message cannot be stored as parsed; kept for review');
    const bare: ParsedMail = { ...parsed, mail: null, bodyText: '', result: { ...result, subject: '', persons: [], error: { code: 'STORE_FAILED', message: errorMessage(err) } } };
    return store(ctx, raw, source, { hash, size, tooLarge, parsed: bare, kind: 'other', status: 'review', reviewReason: `kunde inte sparas (${errorCode(err)})`, now });
  }
}

function isConnectionError(err: unknown): boolean {
  const code = errorCode(err === null || typeof err !== 'object' ? err : ((err as { cause?: unknown }).cause ?? err));
  return /^(ECONNREFUSED|ECONNRESET|ETIMEDOUT|EPIPE|CONNECTION_|57P0|08)/.test(code);
}

interface StoreInput {
  hash: string;
  size: number;
  tooLarge: boolean;
  parsed: ParsedMail;
  kind: MessageKind;
  status: MessageStatus;
  reviewReason: string | null;
  now: Date;
}

/** The one transaction: message row, case work, audit, progress. */
async function store(ctx: AppContext, raw: Buffer, source: Source, input: StoreInput): Promise<IngestOutcome> {
  const { hash, size, tooLarge, parsed, kind, status, reviewReason, now } = input;
  const result = parsed.result;
  const log = ctx.log.child({ component: 'process', uid: source.uid });
  const outcome = await ctx.database.db.transaction(async (tx) => {
    const [msg] = await tx
      .insert(messages)
      .values({
        source: source.kind,
        mailbox: source.mailbox ?? null,
        uidValidity: source.uidValidity ?? null,
        uid: source.uid ?? null,
        messageId: result.messageId,
        contentHash: hash,
        raw: tooLarge ? raw.subarray(0, headerEnd(raw)) : raw,
        size,
        fromAddr: result.from,
        subject: result.subject,
        sentAt: parsed.mail?.date ?? null,
        inReplyTo: parsed.mail?.inReplyTo ?? null,
        references: parsed.mail?.references ?? [],
        kind,
        status,
        reviewReason,
        errorCode: tooLarge ? 'MAIL_TOO_LARGE' : (result.error?.code ?? null),
        bodyText: parsed.bodyText.slice(0, 200_000),
        bodyHtml: null,
        parsed: result,
        receivedAt: now,
      })
      .returning({ id: messages.id });
    const messageRowId = msg!.id;
    let caseId: number | null = null;

    if (parsed.mail && !tooLarge && !result.error) {
      if (kind === 'notification') {
        caseId = await handleNotification(tx, ctx, parsed, messageRowId, now);
      } else {
        // Human mail without data, or a bounce of our reply: shown on its case if it answers one.
        const c = await findCase(tx, ctx, parsed);
        if (c && (kind === 'other' || (kind === 'automated' && (parsed.mail.inReplyTo || parsed.mail.references.length)))) {
          caseId = c.id;
          await tx.update(messages).set({ caseId }).where(eq(messages.id, messageRowId));
          if (kind === 'other' && c.status === 'waiting') {
            await tx.update(cases).set({ status: 'review', updatedAt: now }).where(eq(cases.id, c.id));
          }
        }
      }
    }
    await audit(tx, { actor: 'worker', action: `message.${status}`, caseId, messageId: messageRowId, after: { kind, reason: reviewReason } }, now);
    await recordProgress(ctx, source, tx);
    return { messageRowId, status, caseId, folder: folderFor(status) };
  });
  log.info({ messageRowId: outcome.messageRowId, kind, status, caseId: outcome.caseId }, 'message processed');
  return outcome;
}

async function handleNotification(tx: Tx, ctx: AppContext, parsed: ParsedMail, messageRowId: number, now: Date): Promise<number> {
  const mail = parsed.mail!;
  const records = parsed.result.persons;
  let c = await findCase(tx, ctx, parsed);
  const provider = findProvider(ctx.rules, mail.from);

  if (!c) {
    const [created] = await tx
      .insert(cases)
      .values({
        ref: await nextCaseRef(tx, now),
        status: 'waiting',
        providerName: provider?.name ?? null,
        knownProvider: provider !== null,
        sender: mail.from,
        subject: mail.subject,
        threadSubject: subjectInfo(mail.subject).base.toLowerCase(),
        createdAt: now,
        updatedAt: now,
      })
      .returning();
    c = created!;
    await audit(tx, { actor: 'worker', action: 'case.created', caseId: c.id, messageId: messageRowId }, now);
    for (const r of records) await insertPerson(tx, c.id, r, messageRowId, now);
  } else {
    const existing = await tx.select().from(persons).where(eq(persons.caseId, c.id)).orderBy(persons.id);
    const taken = new Set<number>();
    for (const r of records) {
      const match = matchPerson(existing, r, taken);
      if (!match) {
        const added = await insertPerson(tx, c.id, r, messageRowId, now);
        // Values with no name that fit none of the case's persons: IT staff decide whose they are.
        if (!r.name && existing.length > 0) {
          await tx.update(persons).set({ status: 'needs_review', reviewReason: 'kunde inte kopplas till en person i ärendet' }).where(eq(persons.id, added.id));
        }
        continue;
      }
      taken.add(match.id);
      if (match.status !== 'incomplete' && match.status !== 'needs_review') continue;
      const merged = mergeValues(match, r, ctx.rules);
      await tx
        .update(persons)
        .set({
          name: merged.name,
          function: merged.function,
          hsaId: merged.hsaId,
          treservaUser: merged.treservaUser,
          problems: merged.problems,
          status: statusFor(merged),
          sourceMessageIds: [...new Set([...match.sourceMessageIds, messageRowId])],
          updatedAt: now,
        })
        .where(eq(persons.id, match.id));
      await audit(tx, { actor: 'worker', action: 'person.merged', caseId: c.id, personId: match.id, messageId: messageRowId, before: fieldsOf(match), after: fieldsOf(merged) }, now);
    }
    await tx.update(cases).set({ updatedAt: now }).where(eq(cases.id, c.id));
  }
  await tx.update(messages).set({ caseId: c.id }).where(eq(messages.id, messageRowId));
  const created = await createTasksForCase(tx, c.id, 'worker', now);
  const status = await refreshCaseStatus(tx, c.id, now);
  if (status !== 'waiting') await withdrawStaleRequests(tx, c.id);
  await queueReplies(tx, ctx, c, parsed, messageRowId, status, created.length > 0, provider !== null, now);
  return c.id;
}

const fieldsOf = (p: Pick<PersonRow, 'name' | 'function' | 'hsaId' | 'treservaUser'>) => ({ name: p.name, function: p.function, hsaId: p.hsaId, treservaUser: p.treservaUser });

async function queueReplies(
  tx: Tx,
  ctx: AppContext,
  c: typeof cases.$inferSelect,
  parsed: ParsedMail,
  messageRowId: number,
  status: string,
  tasksCreated: boolean,
  knownSender: boolean,
  now: Date,
): Promise<void> {
  const mail = parsed.mail!;
  if (!mail.from) return;
  const all = await tx.select().from(persons).where(eq(persons.caseId, c.id)).orderBy(persons.id);
  const input = { ref: c.ref, subject: subjectInfo(c.subject).base, mailbox: ctx.config.mailFrom, persons: all.filter((p) => p.status !== 'rejected') };
  const threading = { to: mail.from, inReplyTo: mail.messageId, references: [...mail.references, ...(mail.messageId ? [mail.messageId] : [])].slice(-20) };
  const suppressReason = !knownSender && !ctx.config.replies.unknownSenders ? 'okänd avsändare' : undefined;

  if (status === 'waiting') {
    const incomplete = input.persons.filter((p) => p.status === 'incomplete');
    const text = composeMissingInfo({ ...input, persons: incomplete }, ctx.rules);
    await enqueueReply(tx, { caseId: c.id, kind: 'missing_info', triggerKey: `message:${messageRowId}`, ...threading, ...text, suppressReason }, ctx.config, now);
  } else if (tasksCreated && ctx.config.replies.receipt) {
    // This mail made tasks and nothing is missing: a receipt naming the persons being set up.
    const text = composeReceipt({ ...input, persons: input.persons.filter((p) => p.status === 'task_created') }, ctx.rules);
    await enqueueReply(tx, { caseId: c.id, kind: 'receipt', triggerKey: `message:${messageRowId}`, ...threading, ...text, suppressReason }, ctx.config, now);
  }
}

/** Progress for IMAP: the highest UID done under this UIDVALIDITY (in the caller's transaction when given). */
async function recordProgress(ctx: AppContext, source: Source, tx?: Tx): Promise<void> {
  if (source.kind !== 'imap' || !source.mailbox || source.uidValidity == null || source.uid == null) return;
  const db = tx ?? ctx.database.db;
  const [row] = await db.select().from(mailboxState).where(eq(mailboxState.mailbox, source.mailbox));
  if (!row) {
    await db.insert(mailboxState).values({ mailbox: source.mailbox, uidValidity: source.uidValidity, lastUid: source.uid, updatedAt: ctx.now() }).onConflictDoNothing();
  } else if (row.uidValidity !== source.uidValidity || row.lastUid < source.uid) {
    await db.update(mailboxState).set({ uidValidity: source.uidValidity, lastUid: Math.max(source.uid, row.uidValidity === source.uidValidity ? row.lastUid : 0), updatedAt: ctx.now() }).where(eq(mailboxState.mailbox, source.mailbox));
  }
}

function ownDomain(ctx: AppContext): string {
  return ctx.config.mailFrom.split('@')[1] ?? 'localhost';
}

function headerEnd(raw: Buffer): number {
  const crlf = raw.indexOf('\r\n\r\n');
  const lf = raw.indexOf('\n\n');
  const ends = [crlf, lf].filter((i) => i >= 0);
  return ends.length ? Math.min(...ends) + 2 : Math.min(raw.length, 65536);
}
