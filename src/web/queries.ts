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

export const CASE_SORTS = ['ref', 'status', 'provider', 'persons', 'subject', 'received', 'age', 'updated'] as const;
export type CaseSort = (typeof CASE_SORTS)[number];

export interface CaseListQuery {
  status: CaseStatus | null;
  q: string;
  page: number;
  /** Column to sort by (default: updated, newest first). */
  sort?: CaseSort;
  dir?: 'asc' | 'desc';
  /** Received (case created) on or after / before this instant. */
  from?: Date | null;
  to?: Date | null;
  /** Only cases with a task taken by or done by this staff member ("mina uppdrag"). */
  mine?: string | null;
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
  createdAt: Date;
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
  createdAt: cases.createdAt,
};

const personCount = sql`(select count(*) from ${persons} where ${persons.caseId} = ${cases.id})`;

/** ORDER BY for a sort column; `age` is the received date reversed (oldest = greatest age). */
function caseOrder(sort: CaseSort, dir: 'asc' | 'desc'): SQL[] {
  const by = (col: SQL | typeof cases.ref, d: 'asc' | 'desc') => (d === 'asc' ? sql`${col} asc nulls last` : sql`${col} desc nulls last`);
  const flip = dir === 'asc' ? 'desc' : 'asc';
  const tie = dir === 'asc' ? asc(cases.id) : desc(cases.id);
  switch (sort) {
    case 'ref':
      return [by(sql`${cases.ref}`, dir), tie];
    case 'status':
      return [by(sql`${cases.status}`, dir), desc(cases.updatedAt), tie];
    case 'provider':
      return [by(sql`lower(coalesce(${cases.providerName}, ${cases.sender}))`, dir), tie];
    case 'persons':
      return [by(personCount, dir), tie];
    case 'subject':
      return [by(sql`lower(${cases.subject})`, dir), tie];
    case 'received':
      return [by(sql`${cases.createdAt}`, dir), tie];
    case 'age':
      return [by(sql`${cases.createdAt}`, flip), tie];
    default:
      return [by(sql`${cases.updatedAt}`, dir), tie];
  }
}

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
    const personText = sql`lower(coalesce(${persons.name}, '') || chr(10) || coalesce(${persons.hsaId}, '') || chr(10) || coalesce(${persons.treservaUser}, ''))`;
    conds.push(
      sql`(${caseText} like ${pat} or ${cases.id} in (select ${persons.caseId} from ${persons} where ${personText} like ${pat}) or ${cases.id} in (select ${messages.caseId} from ${messages} where ${messages.caseId} is not null and lower(${messages.subject} || chr(10) || ${messages.bodyText}) like ${pat}))`,
    );
  }
  if (query.from) conds.push(sql`${cases.createdAt} >= ${query.from.toISOString()}`);
  if (query.to) conds.push(sql`${cases.createdAt} < ${query.to.toISOString()}`);
  if (query.mine)
    conds.push(
      sql`${cases.id} in (select ${tasks.caseId} from ${tasks} where ${tasks.assignee} = ${query.mine} or ${tasks.doneBy} = ${query.mine})`,
    );
  const where = conds.length ? and(...conds) : undefined;
  const order = caseOrder(query.sort ?? 'updated', query.dir ?? 'desc');

  let page = Math.max(1, query.page);
  let total: number;
  let rows: Array<Omit<CaseListRow, 'persons'>>;
  if (q || query.mine) {
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
      createdAt: r.createdAt,
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

export type CaseDetail = NonNullable<Awaited<ReturnType<typeof caseDetail>>>;

export interface BoardFilter {
  status?: TaskStatus | null;
  action?: 'grant' | 'revoke' | null;
  /** Provider name as shown on the card (or the sender when there is none). */
  provider?: string | null;
  /** Only tasks taken or done by this staff member. */
  mine?: string | null;
}

function boardWhere(f: BoardFilter): SQL[] {
  const conds: SQL[] = [];
  if (f.status) conds.push(eq(tasks.status, f.status));
  if (f.action) conds.push(eq(tasks.action, f.action));
  if (f.provider) conds.push(sql`coalesce(${tasks.providerName}, ${tasks.sender}, '') = ${f.provider}`);
  if (f.mine) conds.push(sql`(${tasks.assignee} = ${f.mine} or ${tasks.doneBy} = ${f.mine})`);
  return conds;
}

/**
 * The board: removals first and apart (open and started, oldest first), then the grants' open and
 * started columns (they wait longest first) and the latest done tasks; at most `perColumn` each.
 * The filter narrows every column.
 */
export async function taskBoard(db: Db, perColumn = 100, filter: BoardFilter = {}) {
  const extra = boardWhere(filter);
  const column = (status: TaskStatus, action?: 'grant') =>
    db
      .select()
      .from(tasks)
      .where(and(eq(tasks.status, status), ...(action ? [eq(tasks.action, action)] : []), ...extra))
      .orderBy(...(status === 'done' ? [desc(tasks.doneAt), desc(tasks.id)] : [asc(tasks.createdAt), asc(tasks.id)]))
      .limit(perColumn);
  const removalsQuery = db
    .select()
    .from(tasks)
    .where(and(eq(tasks.action, 'revoke'), inArray(tasks.status, ['open', 'in_progress']), ...extra))
    .orderBy(asc(tasks.createdAt), asc(tasks.id))
    .limit(perColumn);
  const [removals, open, inProgress, done, providerRows] = await Promise.all([
    removalsQuery,
    column('open', 'grant'),
    column('in_progress', 'grant'),
    column('done'),
    db
      .selectDistinct({ provider: sql<string>`coalesce(${tasks.providerName}, ${tasks.sender}, '')` })
      .from(tasks)
      .where(ne(tasks.status, 'cancelled'))
      .orderBy(sql`1`)
      .limit(500),
  ]);
  const [counts] = await db
    .select({
      removals: sql<number>`count(*) filter (where ${tasks.action} = 'revoke' and ${tasks.status} in ('open', 'in_progress'))::int`,
      open: sql<number>`count(*) filter (where ${tasks.status} = 'open' and ${tasks.action} = 'grant')::int`,
      inProgress: sql<number>`count(*) filter (where ${tasks.status} = 'in_progress' and ${tasks.action} = 'grant')::int`,
      done: sql<number>`count(*) filter (where ${tasks.status} = 'done')::int`,
    })
    .from(tasks)
    .where(and(ne(tasks.status, 'cancelled'), ...extra));
  return {
    removals,
    open,
    inProgress,
    done,
    counts: counts ?? { removals: 0, open: 0, inProgress: 0, done: 0 },
    providers: providerRows.map((r) => r.provider).filter((p) => p !== ''),
  };
}

export type TaskRowView = Awaited<ReturnType<typeof taskBoard>>['open'][number];

/** Tasks in board order, grouped by case (a case's group sits where its first task would). */
export function groupByCase<T extends { caseId: number; caseRef: string; providerName: string | null; sender: string | null }>(
  list: T[],
): Array<{ caseId: number; caseRef: string; provider: string; tasks: T[] }> {
  const groups = new Map<number, { caseId: number; caseRef: string; provider: string; tasks: T[] }>();
  for (const t of list) {
    let g = groups.get(t.caseId);
    if (!g) {
      g = { caseId: t.caseId, caseRef: t.caseRef, provider: t.providerName || t.sender || '–', tasks: [] };
      groups.set(t.caseId, g);
    }
    g.tasks.push(t);
  }
  return [...groups.values()];
}

export async function tasksForExport(
  db: Db,
  status: TaskStatus | null,
  range: { from: Date | null; to: Date | null } = { from: null, to: null },
) {
  const conds: SQL[] = [];
  if (status) conds.push(eq(tasks.status, status));
  if (range.from) conds.push(sql`${tasks.createdAt} >= ${range.from.toISOString()}`);
  if (range.to) conds.push(sql`${tasks.createdAt} < ${range.to.toISOString()}`);
  return db
    .select()
    .from(tasks)
    .where(conds.length ? and(...conds) : undefined)
    .orderBy(asc(tasks.id));
}
