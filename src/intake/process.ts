import crypto from 'node:crypto';
import { and, eq, inArray, or, sql } from 'drizzle-orm';
import { audit, collectAudit, flushAudit } from '../audit';
import { attachOtherMail, handleNotification, readAhead } from '../cases/notification';
import { CaseStore } from '../cases/store';
import { maskPersonnummerInText } from '../cases/sanitize';
import { senderStanding } from '../cases/sender-check';
import type { AppContext } from '../context';
import type { Tx } from '../db/client';
import { mailboxState, messages, type MessageKind, type MessageStatus } from '../db/schema';
import type { ParseOutcome } from '../parse';
import { parsePoolFor, unparsed } from '../parse-pool';
import { parseSeconds } from '../metrics';
import { errorCode, errorMessage } from '../errors';
import { groupBy } from '../lanes';
import { MAX_ATTEMPTS, endAttempt, endAttempts, recordAttempts, startAttempt } from './attempts';
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

type Existing = { id: number; status: MessageStatus; caseId: number | null };

/** One mail handed to intake: its bytes and where it came from (`size`: the server's, when only the start was fetched). */
export interface IntakeItem {
  raw: Buffer;
  source: Source;
  size?: number;
}

/** Per mail of a batch: its outcome, or the error that left it in place (tried again later). */
export type BatchResult = { ok: true; outcome: IngestOutcome } | { ok: false; error: unknown };

const imapKey = (s: Source) =>
  s.mailbox && s.uidValidity != null && s.uid != null ? `${s.mailbox}\u0000${s.uidValidity}\u0000${s.uid}` : null;
const senderKey = (messageId: string | null, from: string | null) => (messageId && from ? `${messageId}\u0000${from}` : null);

/** Messages already stored with these bytes or these mailbox UIDs: one query for the batch. */
async function findKnown(ctx: AppContext, hashes: string[], sources: Source[]): Promise<Map<string, Existing>> {
  const uids = sources.filter((s) => imapKey(s) !== null);
  const conds = [inArray(messages.contentHash, [...new Set(hashes)])];
  for (const [mailbox, list] of groupBy(uids, (s) => `${s.mailbox}\u0000${s.uidValidity}`)) {
    const [box, validity] = mailbox.split('\u0000');
    conds.push(
      and(
        eq(messages.mailbox, box!),
        eq(messages.uidValidity, Number(validity)),
        inArray(
          messages.uid,
          list.map((s) => s.uid!),
        ),
      )!,
    );
  }
  const rows = await ctx.database.db
    .select({
      id: messages.id,
      status: messages.status,
      caseId: messages.caseId,
      contentHash: messages.contentHash,
      mailbox: messages.mailbox,
      uidValidity: messages.uidValidity,
      uid: messages.uid,
    })
    .from(messages)
    .where(or(...conds));
  const known = new Map<string, Existing>();
  for (const r of rows) {
    const e = { id: r.id, status: r.status, caseId: r.caseId };
    known.set(`hash:${r.contentHash}`, e);
    const k = imapKey({ kind: 'imap', mailbox: r.mailbox ?? undefined, uidValidity: r.uidValidity ?? undefined, uid: r.uid ?? undefined });
    if (k) known.set(`uid:${k}`, e);
  }
  return known;
}

/** Messages already stored with these Message-IDs from these senders (re-delivered with other headers): one query. */
async function findResent(ctx: AppContext, keys: Array<{ messageId: string; from: string }>): Promise<Map<string, Existing>> {
  const found = new Map<string, Existing>();
  if (keys.length === 0) return found;
  const rows = await ctx.database.db
    .select({
      id: messages.id,
      status: messages.status,
      caseId: messages.caseId,
      messageId: messages.messageId,
      fromAddr: messages.fromAddr,
    })
    .from(messages)
    .where(
      and(
        inArray(messages.messageId, [...new Set(keys.map((k) => k.messageId))]),
        inArray(messages.fromAddr, [...new Set(keys.map((k) => k.from))]),
      ),
    )
    .orderBy(messages.id);
  for (const r of rows) {
    const k = senderKey(r.messageId, r.fromAddr);
    if (k && !found.has(k)) found.set(k, { id: r.id, status: r.status, caseId: r.caseId });
  }
  return found;
}

/** One mail through the batched path (the `ingest` command, tests); throws what would leave it in place. */
export async function ingestRaw(ctx: AppContext, raw: Buffer, source: Source, opts: { size?: number } = {}): Promise<IngestOutcome> {
  const [r] = await ingestBatch(ctx, [{ raw, source, ...(opts.size !== undefined ? { size: opts.size } : {}) }]);
  if (!r!.ok) throw r!.error;
  return r!.outcome;
}

interface Prepared {
  index: number;
  item: IntakeItem;
  input: StoreInput;
}

/** A batch parsed ahead of storing it: the outcome of each mail by its index, and what stopped the rest. */
export interface ParsedBatch {
  parsed: Map<number, ParseOutcome>;
  error?: unknown;
}

/** A batch being parsed ahead: its content hashes (computed once) and the parse under way. */
export interface ParsedAhead {
  hashes: string[];
  done: Promise<ParsedBatch>;
}

/**
 * Starts parsing a batch while the batch before it is still being stored (the parse threads and
 * the database work at once). Nothing is looked up here: which mails are known is asked when the
 * batch is stored, after the batch before it committed. The same bytes twice are parsed once.
 * `done` never rejects.
 */
export function parseAhead(ctx: AppContext, items: IntakeItem[]): ParsedAhead {
  const hashes = items.map((i) => contentHash(i.raw));
  const first = new Map<string, number>();
  hashes.forEach((h, i) => {
    if (!first.has(h)) first.set(h, i);
  });
  const parsed = new Map<number, ParseOutcome>();
  const done = parseAll(ctx, items, hashes, [...first.values()], parsed).then(
    () => ({ parsed }),
    (error: unknown) => ({ parsed, error }),
  );
  return { hashes, done };
}

/**
 * A batch of mails: known ones found in one query, the rest parsed in parallel (the parse pool),
 * deduped by Message-ID in one query, then stored in one transaction in the batch's order (the
 * case steps see the mails before them). When that transaction fails, each mail is stored in a
 * transaction of its own, so one bad mail fails alone. Progress (`mailbox_state`) once per batch.
 * `ahead`: the batch as `parseAhead` parsed it (then it is not parsed here).
 */
export async function ingestBatch(ctx: AppContext, items: IntakeItem[], ahead?: ParsedAhead): Promise<BatchResult[]> {
  const results = new Array<BatchResult | undefined>(items.length);
  const log = ctx.log.child({ component: 'process' });
  const hashes = ahead?.hashes ?? items.map((i) => contentHash(i.raw));
  const known = items.length
    ? await findKnown(
        ctx,
        hashes,
        items.map((i) => i.source),
      )
    : new Map<string, Existing>();
  const duplicate = (i: number, existing: Existing): void => {
    log.info({ uid: items[i]!.source.uid, messageRowId: existing.id }, 'message already stored; not processed again');
    results[i] = {
      ok: true,
      outcome: { messageRowId: existing.id, status: 'duplicate', caseId: existing.caseId, folder: folderFor(existing.status) },
    };
  };
  // Same bytes or same mailbox UID: known without parsing. The same bytes twice in the batch: the later one waits for the first.
  const firstOfHash = new Map<string, number>();
  const laterSame = new Map<number, number>();
  const toParse: number[] = [];
  items.forEach((item, i) => {
    const k = imapKey(item.source);
    const seen = known.get(`hash:${hashes[i]}`) ?? (k ? known.get(`uid:${k}`) : undefined);
    if (seen) return duplicate(i, seen);
    const first = firstOfHash.get(hashes[i]!);
    if (first !== undefined) laterSame.set(i, first);
    else {
      firstOfHash.set(hashes[i]!, i);
      toParse.push(i);
    }
  });

  const parsed = new Map<number, ParseOutcome>();
  if (ahead) {
    const got = await ahead.done;
    for (const i of toParse) {
      const p = got.parsed.get(i);
      if (p) parsed.set(i, p);
      else results[i] ??= { ok: false, error: got.error ?? new Error('not parsed') };
    }
  } else {
    try {
      await parseAll(ctx, items, hashes, toParse, parsed);
    } catch (err) {
      for (const i of toParse) results[i] ??= { ok: false, error: err };
    }
  }

  // Same Message-ID from the same sender (re-delivered with other headers): one query.
  const parsedIdx = toParse.filter((i) => parsed.has(i));
  const keyed = parsedIdx.flatMap((i) => {
    const r = parsed.get(i)!.result;
    return r.messageId && r.from ? [{ messageId: r.messageId, from: r.from }] : [];
  });
  let resent = new Map<string, Existing>();
  try {
    resent = await findResent(ctx, keyed);
  } catch (err) {
    for (const i of parsedIdx) results[i] ??= { ok: false, error: err };
  }
  const prepared: Prepared[] = [];
  const auths = await Promise.all(
    parsedIdx.map((i) => (results[i] ? Promise.resolve(null) : prepare(ctx, items[i]!, hashes[i]!, parsed.get(i)!))),
  );
  parsedIdx.forEach((i, n) => {
    if (results[i]) return;
    const r = parsed.get(i)!.result;
    const k = senderKey(r.messageId, r.from);
    const seen = k ? resent.get(k) : undefined;
    if (seen) return duplicate(i, seen);
    prepared.push({ index: i, item: items[i]!, input: auths[n]! });
  });

  const progress = (list: number[]) => list.filter((i) => results[i]?.ok).map((i) => items[i]!.source);
  const dupsBefore = items.map((_, i) => i).filter((i) => results[i]?.ok);
  if (prepared.length > 0) {
    try {
      const outcomes = await ctx.database.db.transaction((tx) => storeAll(tx, ctx, prepared, progress(dupsBefore)));
      prepared.forEach((p, n) => {
        results[p.index] = { ok: true, outcome: outcomes[n]! };
        logStored(ctx, p.item.source, outcomes[n]!, p.input.kind);
      });
    } catch (err) {
      if (isConnectionError(err)) {
        for (const p of prepared) results[p.index] = { ok: false, error: err };
      } else {
        // Each mail on its own: the one that fails is kept raw for review, the others are stored as parsed.
        log.warn({ code: errorCode(err), mails: prepared.length }, 'batch not stored in one transaction; storing mail by mail');
        const byKey = new Map<string, IngestOutcome>();
        for (const p of prepared) {
          const r = p.input.parsed.result;
          const k = senderKey(r.messageId, r.from);
          const earlier = k ? byKey.get(k) : undefined;
          if (earlier) {
            results[p.index] = { ok: true, outcome: { ...earlier, status: 'duplicate' } };
            continue;
          }
          try {
            const o = await storeAlone(ctx, p.item, p.input);
            if (k) byKey.set(k, o);
            results[p.index] = { ok: true, outcome: o };
          } catch (e) {
            results[p.index] = { ok: false, error: e };
          }
        }
      }
    }
  } else if (dupsBefore.length > 0) {
    await recordProgress(ctx, progress(dupsBefore)).catch((err: unknown) => {
      for (const i of dupsBefore) results[i] = { ok: false, error: err };
    });
  }
  // The same bytes again in this batch: a duplicate of the first.
  for (const [i, first] of laterSame) {
    const r = results[first];
    if (r?.ok && r.outcome.messageRowId != null)
      duplicate(i, {
        id: r.outcome.messageRowId,
        status: r.outcome.status === 'duplicate' ? 'processed' : r.outcome.status,
        caseId: r.outcome.caseId,
      });
    else results[i] = r ?? { ok: false, error: new Error('not processed') };
  }
  return results.map((r) => r ?? { ok: false, error: new Error('not processed') });
}

/**
 * Parsing, with the attempt protocol: the batch's attempts are written in one statement before and
 * removed in one after. A mail already recorded (a process died while the batch it was in was being
 * parsed) is counted again and parsed alone, so only a mail that ends the process itself, twice,
 * goes to review unparsed.
 */
async function parseAll(ctx: AppContext, items: IntakeItem[], hashes: string[], toParse: number[], parsed: Map<number, ParseOutcome>) {
  if (toParse.length === 0) return;
  const pool = parsePoolFor(ctx.rules, ctx.config.parse, ctx.log);
  const opts = { ownDomain: ownDomain(ctx) };
  const one = async (i: number): Promise<ParseOutcome> => {
    const { raw } = items[i]!;
    const size = Math.max(items[i]!.size ?? 0, raw.length);
    const endParse = parseSeconds.startTimer();
    const p =
      size > ctx.config.maxMailBytes
        ? await pool.parse(raw.subarray(0, Math.min(raw.length, headerEnd(raw))), opts)
        : await pool.parse(raw, opts);
    endParse();
    return p;
  };
  const before = await recordAttempts(
    ctx,
    toParse.map((i) => hashes[i]!),
  );
  const fresh = toParse.filter((i) => (before.get(hashes[i]!) ?? 0) === 0);
  const suspects = toParse.filter((i) => (before.get(hashes[i]!) ?? 0) > 0);
  try {
    for (const i of suspects) {
      const attempt = await startAttempt(ctx, hashes[i]!);
      parsed.set(
        i,
        attempt > MAX_ATTEMPTS
          ? await unparsed(items[i]!.raw, 'PARSE_ABORTED', `processing ended the process ${attempt - 1} times`)
          : await one(i),
      );
      await endAttempt(ctx, hashes[i]!);
    }
    const got = await Promise.all(fresh.map(one));
    fresh.forEach((i, n) => parsed.set(i, got[n]!));
  } finally {
    await endAttempts(
      ctx,
      fresh.map((i) => hashes[i]!),
    );
  }
}

/** What a parsed mail becomes before it is stored: its kind, status, review reason and sender verdict. */
async function prepare(ctx: AppContext, item: IntakeItem, hash: string, parsed: ParseOutcome): Promise<StoreInput> {
  const now = ctx.now();
  const { raw } = item;
  const size = Math.max(item.size ?? 0, raw.length);
  const tooLarge = size > ctx.config.maxMailBytes;
  const result = parsed.result;
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
  return { hash, size, tooLarge, parsed, kind, status, reviewReason, now, auth };
}

/** A mail in a transaction of its own; when it cannot be stored as parsed it is kept raw, for review, so it never blocks the queue. */
async function storeAlone(ctx: AppContext, item: IntakeItem, input: StoreInput): Promise<IngestOutcome> {
  const { raw, source } = item;
  const once = async (inp: StoreInput) =>
    (await ctx.database.db.transaction((tx) => storeAll(tx, ctx, [{ index: 0, item: { ...item, raw, source }, input: inp }], [])))[0]!;
  try {
    const o = await once(input);
    logStored(ctx, source, o, input.kind);
    return o;
  } catch (err) {
    if (isConnectionError(err)) throw err;
    ctx.log
      .child({ component: 'process', uid: source.uid })
      .error({ code: errorCode(err), err }, 'message cannot be stored as parsed; kept for review');
    const { parsed } = input;
    const bare: ParseOutcome = {
      ...parsed,
      mail: null,
      bodyText: '',
      result: { ...parsed.result, subject: '', persons: [], error: { code: 'STORE_FAILED', message: errorMessage(err) } },
    };
    const o = await once({
      ...input,
      parsed: bare,
      kind: 'other',
      status: 'review',
      reviewReason: `kunde inte sparas (${errorCode(err)})`,
    });
    logStored(ctx, source, o, 'other');
    return o;
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

/**
 * Mails in one transaction, in order: what the case steps will look up read ahead for all of them,
 * the steps run mail by mail over the store (each sees what the mails before it did), then
 * everything written in one statement per table, the audit rows in one, progress in one. The same
 * Message-ID from the same sender twice: the later one is a duplicate of the first.
 */
async function storeAll(tx: Tx, ctx: AppContext, list: Prepared[], alsoDone: Source[]): Promise<IngestOutcome[]> {
  collectAudit(tx);
  const store = new CaseStore(tx);
  const cases = list.filter((p) => p.input.parsed.mail && !p.input.tooLarge && !p.input.parsed.result.error);
  const now = list.reduce((t, p) => (p.input.now < t ? p.input.now : t), list[0]!.input.now);
  await readAhead(
    store,
    ctx,
    cases.map((p) => ({ mail: p.input.parsed.mail!, records: p.input.kind === 'notification' ? p.input.parsed.result.persons : [] })),
    now,
    list.length,
  );
  const byKey = new Map<string, IngestOutcome>();
  const out: IngestOutcome[] = [];
  for (const p of list) {
    const r = p.input.parsed.result;
    const k = senderKey(r.messageId, r.from);
    const earlier = k ? byKey.get(k) : undefined;
    if (earlier) {
      out.push({ ...earlier, status: 'duplicate' });
      continue;
    }
    const o = await storeIn(store, ctx, p.item.raw, p.item.source, p.input, await store.nextId('messages'));
    if (k) byKey.set(k, o);
    out.push(o);
  }
  await store.flush();
  await flushAudit(tx);
  await recordProgress(ctx, [...alsoDone, ...list.map((p) => p.item.source)], tx);
  return out;
}

/** One mail inside the batch's transaction: the case steps, then its message row with what they made of it. */
async function storeIn(
  store: CaseStore,
  ctx: AppContext,
  raw: Buffer,
  source: Source,
  input: StoreInput,
  messageRowId: number,
): Promise<IngestOutcome> {
  const { hash, size, tooLarge, parsed, kind, now, auth } = input;
  let { status, reviewReason } = input;
  const result = parsed.result;
  // What is kept for display: personnummer masked in the text, the person list cut at the cap.
  const cap = ctx.config.caps.personsPerMail;
  const stored =
    result.persons.length > cap ? { ...result, persons: result.persons.slice(0, cap), personsTotal: result.persons.length } : result;
  let caseId: number | null = null;

  if (parsed.mail && !tooLarge && !result.error) {
    const standing = senderStanding(ctx.rules, parsed.mail.from, auth.verdict);
    const done =
      kind === 'notification'
        ? await handleNotification(store, ctx, {
            mail: parsed.mail,
            text: parsed.bodyText,
            records: result.persons,
            standing,
            messageRowId,
            now,
          })
        : kind === 'other' || kind === 'automated'
          ? await attachOtherMail(store, { mail: parsed.mail, text: parsed.bodyText, raw, standing, messageRowId, now, ctx, kind })
          : { caseId: null, review: null };
    caseId = done.caseId;
    const bounce = (done as { bounce?: string }).bounce;
    if (bounce) {
      // A bounce of our reply: on its case, in Att granska.
      status = 'review';
      reviewReason = `studsat svar: ${bounce}`;
    }
    if (done.review) {
      // The case steps sent the mail to review (over a cap, or it refers to a case it may not change).
      if (kind === 'notification') status = 'review';
      reviewReason = reviewReason ? `${reviewReason}; ${done.review}` : done.review;
    }
  }
  store.insertMessage({
    id: messageRowId,
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
    caseId,
    receivedAt: now,
  });
  await audit(store.tx, { actor: 'worker', action: `message.${status}`, caseId, messageRowId, after: { kind, reason: reviewReason } }, now);
  return { messageRowId, status, caseId, folder: folderFor(status) };
}

function logStored(ctx: AppContext, source: Source, o: IngestOutcome, kind: MessageKind): void {
  ctx.log
    .child({ component: 'process', uid: source.uid })
    .info({ messageRowId: o.messageRowId, kind, status: o.status, caseId: o.caseId }, 'message processed');
}

/** Progress for IMAP: the highest UID done under this UIDVALIDITY, one statement for the batch (in the caller's transaction when given). */
async function recordProgress(ctx: AppContext, sources: Source[], tx?: Tx): Promise<void> {
  const db = tx ?? ctx.database.db;
  const imap = sources.filter((s) => s.kind === 'imap' && s.mailbox && s.uidValidity != null && s.uid != null);
  for (const [box, list] of groupBy(imap, (s) => s.mailbox!)) {
    // The last UIDVALIDITY seen wins (as mail by mail did), with its highest UID.
    const validity = list[list.length - 1]!.uidValidity!;
    const lastUid = Math.max(...list.filter((s) => s.uidValidity === validity).map((s) => s.uid!));
    await db
      .insert(mailboxState)
      .values({ mailbox: box, uidValidity: validity, lastUid, updatedAt: ctx.now() })
      .onConflictDoUpdate({
        target: mailboxState.mailbox,
        set: {
          uidValidity: validity,
          lastUid: sql`case when ${mailboxState.uidValidity} = ${validity} then greatest(${mailboxState.lastUid}, ${lastUid}) else ${lastUid} end`,
          updatedAt: ctx.now(),
        },
      });
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
