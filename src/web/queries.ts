import { and, asc, count, desc, eq, inArray, isNull, ne, sql, type SQL } from 'drizzle-orm';
import { maskPersonnummerInText } from '../cases/sanitize';
import type { Db } from '../db/client';
import { auditEvents, cases, messages, outbox, persons, tasks, type CaseStatus, type TaskStatus } from '../db/schema';
import type { ParseResult } from '../parse/types';

/** Read side of the review UI: small, index-friendly queries. */

export const PAGE_SIZE = 50;

/** `%`, `_` and `\` typed by the user are matched literally. */
export function likePattern(q: string): string {
  return `%${q.replace(/[\\%_]/g, (c) => `\\${c}`)}%`;
}

export interface CaseListQuery {
  status: CaseStatus | null;
  q: string;
  page: number;
}

export interface CaseListRow {
  id: number;
  ref: string;
  status: CaseStatus;
  providerName: string | null;
  knownProvider: boolean;
  senderVerified: boolean;
  refersToRef: string | null;
  sender: string | null;
  subject: string;
  updatedAt: Date;
  persons: Array<{ name: string | null; hsaId: string | null; status: string }>;
}

const listColumns = {
  id: cases.id,
  ref: cases.ref,
  status: cases.status,
  providerName: cases.providerName,
  knownProvider: cases.knownProvider,
  senderVerified: cases.senderVerified,
  refersToRef: cases.refersToRef,
  sender: cases.sender,
  subject: cases.subject,
  updatedAt: cases.updatedAt,
};

/**
 * One page of cases, most recently changed first. A search matches, case-insensitively and
 * anywhere in the text, the reference, provider and sender of the case and the name and HSA-id of
 * its persons. Each side is one `lower(a || '\n' || b) like` per row, and a search is a single
 * query (its total comes from `count(*) over()`): at 10,000 cases this is a few tens of ms.
 */
export async function listCases(
  db: Db,
  query: CaseListQuery,
): Promise<{ rows: CaseListRow[]; total: number; pages: number; page: number }> {
  const conds: SQL[] = [];
  if (query.status) conds.push(eq(cases.status, query.status));
  const q = query.q.replace(/[\u0000-\u001f]/g, ' ').trim();
  if (q) {
    const pat = likePattern(q.toLowerCase());
    const caseText = sql`lower(${cases.ref} || chr(10) || coalesce(${cases.providerName}, '') || chr(10) || coalesce(${cases.sender}, ''))`;
    const personText = sql`lower(coalesce(${persons.name}, '') || chr(10) || coalesce(${persons.hsaId}, ''))`;
    conds.push(sql`(${caseText} like ${pat} or ${cases.id} in (select ${persons.caseId} from ${persons} where ${personText} like ${pat}))`);
  }
  const where = conds.length ? and(...conds) : undefined;
  const order = [desc(cases.updatedAt), desc(cases.id)];

  let page = Math.max(1, query.page);
  let total: number;
  let rows: Array<Omit<CaseListRow, 'persons'>>;
  if (q) {
    const windowed = () =>
      db
        .select({ ...listColumns, total: sql<number>`count(*) over()`.mapWith(Number) })
        .from(cases)
        .where(where)
        .orderBy(...order)
        .limit(PAGE_SIZE)
        .offset((page - 1) * PAGE_SIZE);
    let found = await windowed();
    if (found.length === 0 && page > 1) {
      // past the end: count, then show the last page
      const [{ n } = { n: 0 }] = await db.select({ n: count() }).from(cases).where(where);
      page = Math.max(1, Math.ceil(n / PAGE_SIZE));
      found = n > 0 ? await windowed() : [];
    }
    total = found[0]?.total ?? 0;
    rows = found;
  } else {
    const [{ n } = { n: 0 }] = await db.select({ n: count() }).from(cases).where(where);
    total = n;
    page = Math.min(page, Math.max(1, Math.ceil(n / PAGE_SIZE)));
    rows = await db
      .select(listColumns)
      .from(cases)
      .where(where)
      .orderBy(...order)
      .limit(PAGE_SIZE)
      .offset((page - 1) * PAGE_SIZE);
  }
  const pages = Math.max(1, Math.ceil(total / PAGE_SIZE));
  const ids = rows.map((r) => r.id);
  const ps = ids.length
    ? await db
        .select({ caseId: persons.caseId, name: persons.name, hsaId: persons.hsaId, status: persons.status })
        .from(persons)
        .where(inArray(persons.caseId, ids))
        .orderBy(asc(persons.id))
    : [];
  const byCase = new Map<number, CaseListRow['persons']>();
  for (const p of ps) {
    const list = byCase.get(p.caseId) ?? [];
    list.push({ name: p.name, hsaId: p.hsaId, status: p.status });
    byCase.set(p.caseId, list);
  }
  return {
    rows: rows.map((r) => ({
      id: r.id,
      ref: r.ref,
      status: r.status,
      providerName: r.providerName,
      knownProvider: r.knownProvider,
      senderVerified: r.senderVerified,
      refersToRef: r.refersToRef,
      sender: r.sender,
      subject: r.subject,
      updatedAt: r.updatedAt,
      persons: byCase.get(r.id) ?? [],
    })),
    total,
    pages,
    page,
  };
}

export async function caseStatusCounts(db: Db): Promise<Record<CaseStatus | 'all', number>> {
  const rows = await db.select({ status: cases.status, n: count() }).from(cases).groupBy(cases.status);
  const out: Record<CaseStatus | 'all', number> = { all: 0, waiting: 0, complete: 0, review: 0, done: 0, rejected: 0 };
  for (const r of rows) {
    out[r.status] = r.n;
    out.all += r.n;
  }
  return out;
}

/** Messages in the review queue: went to review and belong to no case. */
export function reviewQueueWhere(): SQL {
  return and(eq(messages.status, 'review'), isNull(messages.caseId))!;
}

export async function reviewQueueCount(db: Db): Promise<number> {
  const [r] = await db.select({ n: count() }).from(messages).where(reviewQueueWhere());
  return r?.n ?? 0;
}

const messageColumns = {
  id: messages.id,
  source: messages.source,
  fromAddr: messages.fromAddr,
  subject: messages.subject,
  sentAt: messages.sentAt,
  receivedAt: messages.receivedAt,
  kind: messages.kind,
  status: messages.status,
  reviewReason: messages.reviewReason,
  errorCode: messages.errorCode,
  size: messages.size,
  bodyText: messages.bodyText,
  parsed: messages.parsed,
  authVerdict: messages.authVerdict,
  authDetail: messages.authDetail,
  caseId: messages.caseId,
};

export type MessageView = Omit<Awaited<ReturnType<typeof loadMessages>>[number], 'parsed'> & { parsed: ParseResult | null };

/** Mail text is shown with every personnummer masked (also text stored before masking at intake). */
function loadMessages(db: Db, where: SQL, limit = 500) {
  return db.select(messageColumns).from(messages).where(where).orderBy(asc(messages.receivedAt), asc(messages.id)).limit(limit);
}

function asParsed(v: unknown): ParseResult | null {
  return v && typeof v === 'object' && Array.isArray((v as ParseResult).persons) ? (v as ParseResult) : null;
}

export async function reviewQueue(db: Db, limit = 200): Promise<MessageView[]> {
  const rows = await loadMessages(db, reviewQueueWhere(), limit);
  return rows.map((m) => ({ ...m, bodyText: maskPersonnummerInText(m.bodyText), parsed: asParsed(m.parsed) }));
}

export async function caseDetail(db: Db, caseId: number) {
  const [c] = await db.select().from(cases).where(eq(cases.id, caseId));
  if (!c) return null;
  const [ps, ts, ms, replies, events] = await Promise.all([
    db.select().from(persons).where(eq(persons.caseId, caseId)).orderBy(asc(persons.id)),
    db.select().from(tasks).where(eq(tasks.caseId, caseId)).orderBy(asc(tasks.id)),
    loadMessages(db, eq(messages.caseId, caseId)),
    db.select().from(outbox).where(eq(outbox.caseId, caseId)).orderBy(asc(outbox.createdAt), asc(outbox.id)),
    db.select().from(auditEvents).where(eq(auditEvents.caseId, caseId)).orderBy(desc(auditEvents.at), desc(auditEvents.id)).limit(500),
  ]);
  return {
    case: c,
    persons: ps,
    tasks: ts,
    messages: ms.map((m) => ({ ...m, bodyText: maskPersonnummerInText(m.bodyText), parsed: asParsed(m.parsed) })),
    replies,
    events,
  };
}

/** The board: the oldest open and started tasks (they wait longest), the latest done ones; at most `perColumn` each. */
/**
 * The board: removals first and apart (open and started, oldest first), then the grants' open and
 * started columns (they wait longest first) and the latest done tasks; at most `perColumn` each.
 */
export async function taskBoard(db: Db, perColumn = 100) {
  const column = (status: TaskStatus, action?: 'grant') =>
    db
      .select()
      .from(tasks)
      .where(action ? and(eq(tasks.status, status), eq(tasks.action, action)) : eq(tasks.status, status))
      .orderBy(...(status === 'done' ? [desc(tasks.doneAt), desc(tasks.id)] : [asc(tasks.createdAt), asc(tasks.id)]))
      .limit(perColumn);
  const removalsQuery = db
    .select()
    .from(tasks)
    .where(and(eq(tasks.action, 'revoke'), inArray(tasks.status, ['open', 'in_progress'])))
    .orderBy(asc(tasks.createdAt), asc(tasks.id))
    .limit(perColumn);
  const [removals, open, inProgress, done] = await Promise.all([
    removalsQuery,
    column('open', 'grant'),
    column('in_progress', 'grant'),
    column('done'),
  ]);
  const [counts] = await db
    .select({
      removals: sql<number>`count(*) filter (where ${tasks.action} = 'revoke' and ${tasks.status} in ('open', 'in_progress'))::int`,
      open: sql<number>`count(*) filter (where ${tasks.status} = 'open' and ${tasks.action} = 'grant')::int`,
      inProgress: sql<number>`count(*) filter (where ${tasks.status} = 'in_progress' and ${tasks.action} = 'grant')::int`,
      done: sql<number>`count(*) filter (where ${tasks.status} = 'done')::int`,
    })
    .from(tasks)
    .where(ne(tasks.status, 'cancelled'));
  return { removals, open, inProgress, done, counts: counts ?? { removals: 0, open: 0, inProgress: 0, done: 0 } };
}

export async function tasksForExport(db: Db, status: TaskStatus | null) {
  return db
    .select()
    .from(tasks)
    .where(status ? eq(tasks.status, status) : undefined)
    .orderBy(asc(tasks.id));
}
