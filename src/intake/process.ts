import crypto from 'node:crypto';
import { and, eq, or } from 'drizzle-orm';
import { audit } from '../audit';
import { attachOtherMail, handleNotification } from '../cases/notification';
import { maskPersonnummerInText } from '../cases/sanitize';
import { senderStanding } from '../cases/sender-check';
import type { AppContext } from '../context';
import type { Tx } from '../db/client';
import { mailboxState, messages, type MessageKind, type MessageStatus } from '../db/schema';
import type { ParseOutcome } from '../parse';
import { parsePoolFor, unparsed } from '../parse-pool';
import { parseSeconds } from '../metrics';
import { errorCode, errorMessage } from '../errors';
import { MAX_ATTEMPTS, endAttempt, startAttempt } from './attempts';
import { authenticateSender, type AuthResult } from './authenticate';

/**
 * The per-message stage: dedupe, parse, verify the sender, then store the raw mail with everything
 * the case steps (`src/cases/notification.ts`) make of it in one transaction, so a crash leaves
 * either nothing or everything; the outcome says which folder the mail moves to.
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
  const [row] = await ctx.database.db
    .select({ id: messages.id, status: messages.status, caseId: messages.caseId })
    .from(messages)
    .where(or(...conds))
    .limit(1);
  return row ?? null;
}

export async function ingestRaw(ctx: AppContext, raw: Buffer, source: Source, opts: { size?: number } = {}): Promise<IngestOutcome> {
  // Recorded before parsing, cleared once parsed: a mail whose parsing ended the process is known at the next start.
  const hash = contentHash(raw);
  const attempt = await startAttempt(ctx, hash);
  let ended = false;
  const parsedNow = async () => {
    if (!ended) await endAttempt(ctx, hash);
    ended = true;
  };
  try {
    return await ingestAttempt(ctx, raw, source, opts, attempt, parsedNow);
  } finally {
    await parsedNow();
  }
}

async function ingestAttempt(
  ctx: AppContext,
  raw: Buffer,
  source: Source,
  opts: { size?: number },
  attempt: number,
  parsedNow: () => Promise<void>,
): Promise<IngestOutcome> {
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

  // Parsed in a thread with a time and memory budget. Too large: the headers only. A mail that
  // ended the process MAX_ATTEMPTS times: not parsed again, kept raw for review.
  const pool = parsePoolFor(ctx.rules, ctx.config.parse, ctx.log);
  const endParse = parseSeconds.startTimer();
  const parsed: ParseOutcome =
    attempt > MAX_ATTEMPTS
      ? await unparsed(raw, 'PARSE_ABORTED', `processing ended the process ${attempt - 1} times`)
      : tooLarge
        ? await pool.parse(raw.subarray(0, Math.min(raw.length, headerEnd(raw))), { ownDomain: ownDomain(ctx) })
        : await pool.parse(raw, { ownDomain: ownDomain(ctx) });
  endParse();
  await parsedNow();
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

  const auth: AuthResult =
    parsed.mail && !tooLarge
      ? await authenticateSender(raw, parsed.mail, { ...ctx.config.auth, ...(ctx.resolver ? { resolver: ctx.resolver } : {}) })
      : { verdict: 'none', detail: 'inte kontrollerat' };

  try {
    return await store(ctx, raw, source, { hash, size, tooLarge, parsed, kind, status, reviewReason, now, auth });
  } catch (err) {
    if (isConnectionError(err)) throw err;
    // This mail cannot be stored as parsed: keep it raw, for review, so it never blocks the queue.
    log.error({ code: errorCode(err), err }, 'message cannot be stored as parsed; kept for review');
    const bare: ParseOutcome = {
      ...parsed,
      mail: null,
      bodyText: '',
      result: { ...result, subject: '', persons: [], error: { code: 'STORE_FAILED', message: errorMessage(err) } },
    };
    return store(ctx, raw, source, {
      hash,
      size,
      tooLarge,
      parsed: bare,
      kind: 'other',
      status: 'review',
      reviewReason: `kunde inte sparas (${errorCode(err)})`,
      now,
      auth,
    });
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
  parsed: ParseOutcome;
  kind: MessageKind;
  status: MessageStatus;
  reviewReason: string | null;
  now: Date;
  auth: AuthResult;
}

/** The one transaction: message row, case work, audit, progress. */
async function store(ctx: AppContext, raw: Buffer, source: Source, input: StoreInput): Promise<IngestOutcome> {
  const { hash, size, tooLarge, parsed, kind, now, auth } = input;
  let { status, reviewReason } = input;
  const result = parsed.result;
  // What is kept for display: personnummer masked in the text, the person list cut at the cap.
  const cap = ctx.config.caps.personsPerMail;
  const stored =
    result.persons.length > cap ? { ...result, persons: result.persons.slice(0, cap), personsTotal: result.persons.length } : result;
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
        bodyText: maskPersonnummerInText(parsed.bodyText.slice(0, 200_000)),
        parsed: stored,
        authVerdict: auth.verdict,
        authDetail: auth.detail,
        receivedAt: now,
      })
      .returning({ id: messages.id });
    const messageRowId = msg!.id;
    let caseId: number | null = null;

    if (parsed.mail && !tooLarge && !result.error) {
      const standing = senderStanding(ctx.rules, parsed.mail.from, auth.verdict);
      const done =
        kind === 'notification'
          ? await handleNotification(tx, ctx, {
              mail: parsed.mail,
              text: parsed.bodyText,
              records: result.persons,
              standing,
              messageRowId,
              now,
            })
          : kind === 'other' || kind === 'automated'
            ? await attachOtherMail(tx, { mail: parsed.mail, text: parsed.bodyText, raw, standing, messageRowId, now, ctx, kind })
            : { caseId: null, review: null };
      caseId = done.caseId;
      if (done.review) {
        // The case steps sent the mail to review (over a cap, or it refers to a case it may not change).
        if (kind === 'notification') status = 'review';
        reviewReason = reviewReason ? `${reviewReason}; ${done.review}` : done.review;
        await tx.update(messages).set({ status, reviewReason }).where(eq(messages.id, messageRowId));
      }
    }
    await audit(tx, { actor: 'worker', action: `message.${status}`, caseId, messageRowId, after: { kind, reason: reviewReason } }, now);
    await recordProgress(ctx, source, tx);
    return { messageRowId, status, caseId, folder: folderFor(status) };
  });
  log.info({ messageRowId: outcome.messageRowId, kind, status, caseId: outcome.caseId }, 'message processed');
  return outcome;
}

/** Progress for IMAP: the highest UID done under this UIDVALIDITY (in the caller's transaction when given). */
async function recordProgress(ctx: AppContext, source: Source, tx?: Tx): Promise<void> {
  if (source.kind !== 'imap' || !source.mailbox || source.uidValidity == null || source.uid == null) return;
  const db = tx ?? ctx.database.db;
  const [row] = await db.select().from(mailboxState).where(eq(mailboxState.mailbox, source.mailbox));
  if (!row) {
    await db
      .insert(mailboxState)
      .values({ mailbox: source.mailbox, uidValidity: source.uidValidity, lastUid: source.uid, updatedAt: ctx.now() })
      .onConflictDoNothing();
  } else if (row.uidValidity !== source.uidValidity || row.lastUid < source.uid) {
    await db
      .update(mailboxState)
      .set({
        uidValidity: source.uidValidity,
        lastUid: Math.max(source.uid, row.uidValidity === source.uidValidity ? row.lastUid : 0),
        updatedAt: ctx.now(),
      })
      .where(eq(mailboxState.mailbox, source.mailbox));
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
