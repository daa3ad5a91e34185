import { and, eq, getTableColumns, gte, inArray, sql, type SQL } from 'drizzle-orm';
import type { PgTable } from 'drizzle-orm/pg-core';
import { insertRows } from '../db/bulk';
import { inlineRaw, writeParts } from '../db/raw';
import type { DbOrTx } from '../db/client';
import { caseCounters, cases, messages, outbox, persons, tasks, type OutboxStatus } from '../db/schema';

/**
 * The case steps' view of the database inside one transaction: every row they read or write, with
 * the writes held back and sent at `flush` as one multi-row statement per table (and per set of
 * changed columns). Reads are served from the rows held; what is not held is read when first asked
 * for, or ahead for a whole batch by `load*` (one query per kind of look-up), so a batch of mails
 * costs a handful of statements, not a handful per mail. Each mail still sees what the mails
 * before it did. Rows handed out are snapshots: a change makes a new row, as a read from the
 * database would.
 */

type CaseRow = typeof cases.$inferSelect;
type PersonRow = typeof persons.$inferSelect;
type TaskRow = typeof tasks.$inferSelect;
type OutboxInsert = typeof outbox.$inferInsert & { id: number; status: OutboxStatus; messageId: string };
type MessageInsert = typeof messages.$inferInsert & { id: number };

/** Rows that count against the rate limits: automatic answers to incoming mail. */
export const AUTOMATIC_TRIGGER = 'message:%';
/** Rows whose status makes them count against the automatic-answer rate limits. */
const COUNTED: OutboxStatus[] = ['pending', 'sending', 'sent', 'held'];
export const WITHDRAWN = 'ärendet väntar inte längre på uppgifter';
/** Replies withdrawn when the case no longer waits for data. */
const REQUEST_KINDS = ['missing_info', 'still_missing', 'reminder'] as const;

/** One table's rows: the current value of each row read or written, and what is still to be written. */
class Rows<R extends { id: number }> {
  readonly byId = new Map<number, R>();
  /** Rows made in this transaction, not yet written (in the order they were made). */
  readonly fresh = new Set<number>();
  /** Rows read from the database and changed since: the columns changed. */
  readonly dirty = new Map<number, Set<string>>();

  constructor(readonly table: PgTable) {}

  /** Rows read from the database: a row already held keeps the value held (ours is newer). */
  take(rows: R[]): R[] {
    return rows.map((r) => {
      const held = this.byId.get(r.id);
      if (held) return held;
      this.byId.set(r.id, r);
      return r;
    });
  }

  add(row: R): R {
    this.byId.set(row.id, row);
    this.fresh.add(row.id);
    return row;
  }

  update(id: number, patch: Partial<R>): R {
    const row = { ...this.byId.get(id)!, ...patch };
    this.byId.set(id, row);
    if (!this.fresh.has(id)) {
      const cols = this.dirty.get(id) ?? new Set<string>();
      for (const k of Object.keys(patch)) cols.add(k);
      this.dirty.set(id, cols);
    }
    return row;
  }

  where(test: (r: R) => boolean): R[] {
    return [...this.byId.values()].filter(test).sort((a, b) => a.id - b.id);
  }
}

const key = (...parts: Array<string | number>) => parts.join('\u0000');

export class CaseStore {
  readonly cases = new Rows<CaseRow>(cases);
  readonly persons = new Rows<PersonRow>(persons);
  readonly tasks = new Rows<TaskRow>(tasks);
  private readonly replies: OutboxInsert[] = [];
  private readonly mails: MessageInsert[] = [];
  /** What has been read (or need not be): look-ups answered from the rows held. */
  private readonly loaded = {
    caseIds: new Set<number>(),
    refs: new Set<string>(),
    /** sender + thread subject: cases updated since this time are held. */
    subjects: new Map<string, number>(),
    personsOf: new Set<number>(),
    tasksOf: new Set<number>(),
    hsa: new Set<string>(),
    users: new Set<string>(),
    /** Message-ID → the cases of our replies and stored mails with it (ours first). */
    thread: new Map<string, { ours: number[]; theirs: number[] }>(),
    /** Per case: automatic answers counted since `since` (id → mailbox and time), and its requests not yet sent (ids). */
    outboxOf: new Map<number, { since: number; counted: Map<number, { to: string; at: number }>; requests: number[] }>(),
    recipients: new Map<string, { since: number; counted: number }>(),
    triggers: new Set<string>(),
  };
  /** Requests of earlier transactions withdrawn here: written at flush. */
  private readonly withdrawn = new Set<number>();
  private readonly counters = new Map<number, { start: number; last: number }>();
  private readonly ids = new Map<PgTable, number[]>();
  /** Message row ids made in this transaction: their `message:<id>` replies cannot exist yet. */
  private readonly freshMessages = new Set<number>();

  constructor(readonly tx: DbOrTx) {}

  // --- ids ------------------------------------------------------------------------------------

  /** Ids for rows to be made, from each table's sequence, in one statement. */
  async reserve(want: Partial<Record<'messages' | 'cases' | 'persons' | 'tasks' | 'outbox', number>>): Promise<void> {
    const tables = { messages, cases, persons, tasks, outbox };
    const asked = Object.entries(want).filter(([, n]) => (n ?? 0) > 0) as Array<[keyof typeof tables, number]>;
    if (asked.length === 0) return;
    const cols = asked.map(
      ([name, n]) =>
        sql`array(select nextval(pg_get_serial_sequence(${name}, 'id')) from generate_series(1, ${n}::int)) as ${sql.identifier(name)}`,
    );
    const res = await this.tx.execute<Record<string, Array<number | string> | string>>(sql`select ${sql.join(cols, sql`, `)}`);
    // postgres.js gives the rows, PGlite a result with `rows`; an array may come back as its text form.
    const row = (Array.isArray(res) ? res : (res as { rows: Array<Record<string, unknown>> }).rows)[0] as Record<string, unknown>;
    for (const [name] of asked) {
      const v = row[name];
      const list = (Array.isArray(v) ? v : String(v).replace(/[{}]/g, '').split(',')).map((x) => Number(x)).sort((a, b) => a - b);
      this.ids.set(tables[name], [...(this.ids.get(tables[name]) ?? []), ...list]);
      if (name === 'messages') for (const id of list) this.freshMessages.add(id);
    }
  }

  /** The next reserved id of a table (one more read from its sequence when none is left). */
  async nextId(table: 'messages' | 'cases' | 'persons' | 'tasks' | 'outbox'): Promise<number> {
    const t = { messages, cases, persons, tasks, outbox }[table];
    if (!this.ids.get(t)?.length) await this.reserve({ [table]: 1 });
    return this.ids.get(t)!.shift()!;
  }

  // --- reading ahead for a batch ---------------------------------------------------------------

  /** Cases and Message-IDs a batch's threading may ask for. */
  async loadThreads(p: { refs: string[]; caseRefs: string[]; subjects: Array<{ sender: string; base: string }>; since: Date }) {
    const refs = [...new Set(p.refs)].filter((r) => !this.loaded.thread.has(r));
    const ids: number[] = [];
    if (refs.length) {
      for (const r of refs) this.loaded.thread.set(r, { ours: [], theirs: [] });
      // Rows made in this transaction and not yet written come after those of the database (higher ids).
      const held = (id: string) => this.loaded.thread.get(id);
      const rows = await this.tx.execute(
        sql`select 'o' as src, ${outbox.messageId} as message_id, ${outbox.caseId} as case_id, ${outbox.id} as id from ${outbox} where ${inArray(outbox.messageId, refs)}
            union all
            select 'm', ${messages.messageId}, ${messages.caseId}, ${messages.id} from ${messages} where ${inArray(messages.messageId, refs)}
            order by id`,
      );
      for (const r of rowsOf<{ src: string; message_id: string; case_id: number | string | null }>(rows)) {
        if (r.case_id == null) continue;
        const t = this.loaded.thread.get(r.message_id)!;
        (r.src === 'o' ? t.ours : t.theirs).push(Number(r.case_id));
        ids.push(Number(r.case_id));
      }
      for (const m of this.mails)
        if (m.messageId && m.caseId != null && refs.includes(m.messageId)) held(m.messageId)!.theirs.push(m.caseId);
      for (const o of this.replies) if (refs.includes(o.messageId)) held(o.messageId)!.ours.push(o.caseId);
    }
    const conds: SQL[] = [];
    const wantIds = [...new Set(ids)].filter((id) => !this.loaded.caseIds.has(id));
    if (wantIds.length) conds.push(inArray(cases.id, wantIds));
    const caseRefs = [...new Set(p.caseRefs)].filter((r) => !this.loaded.refs.has(r));
    if (caseRefs.length) conds.push(inArray(cases.ref, caseRefs));
    const subjects = p.subjects.filter((s) => (this.loaded.subjects.get(key(s.sender, s.base)) ?? Infinity) > p.since.getTime());
    if (subjects.length)
      conds.push(
        and(
          inArray(cases.sender, [...new Set(subjects.map((s) => s.sender))]),
          inArray(cases.threadSubject, [...new Set(subjects.map((s) => s.base))]),
          gte(cases.updatedAt, p.since),
          inArray(cases.status, ['waiting', 'review']),
        )!,
      );
    if (conds.length === 0) return;
    const rows = [];
    for (const c of conds) rows.push(...(await this.tx.select().from(cases).where(c)));
    this.cases.take(rows);
    for (const id of wantIds) this.loaded.caseIds.add(id);
    for (const r of rows) this.loaded.caseIds.add(r.id);
    for (const r of caseRefs) this.loaded.refs.add(r);
    for (const s of subjects) this.loaded.subjects.set(key(s.sender, s.base), p.since.getTime());
  }

  /** Everything the steps read about these cases and HSA-ids/usernames: persons, tasks, replies. */
  async loadCases(caseIds: number[], who: { hsaIds: string[]; users: string[] }, since: { day: Date; hour: Date }, mailboxes: string[]) {
    const ids = [...new Set(caseIds)].filter((id) => !this.loaded.personsOf.has(id));
    if (ids.length) {
      this.persons.take(await this.tx.select().from(persons).where(inArray(persons.caseId, ids)).orderBy(persons.id));
      for (const id of ids) this.loaded.personsOf.add(id);
    }
    const hsa = [...new Set([...who.hsaIds, ...this.persons.where((p) => ids.includes(p.caseId)).map((p) => p.hsaId ?? '')])].filter(
      (h) => h !== '' && !this.loaded.hsa.has(h),
    );
    const users = [
      ...new Set([...who.users, ...this.persons.where((p) => ids.includes(p.caseId)).map((p) => p.treservaUser ?? '')]),
    ].filter((u) => u !== '' && !this.loaded.users.has(u));
    const taskIds = [...new Set(caseIds)].filter((id) => !this.loaded.tasksOf.has(id));
    // One statement per look-up (an OR of them would not use the indexes under a generic plan).
    if (taskIds.length) this.tasks.take(await this.tx.select().from(tasks).where(inArray(tasks.caseId, taskIds)));
    if (hsa.length) this.tasks.take(await this.tx.select().from(tasks).where(inArray(tasks.hsaId, hsa)));
    if (users.length) this.tasks.take(await this.tx.select().from(tasks).where(inArray(tasks.treservaUser, users)));
    for (const id of taskIds) this.loaded.tasksOf.add(id);
    for (const h of hsa) this.loaded.hsa.add(h);
    for (const u of users) this.loaded.users.add(u);
    await this.loadOutbox(
      [...new Set(caseIds)].filter((id) => !this.loaded.outboxOf.has(id)),
      since.day,
    );
    await this.loadRecipients(
      [...new Set(mailboxes)].filter((k) => !this.loaded.recipients.has(k)),
      since.hour,
    );
  }

  private async loadOutbox(caseIds: number[], since: Date): Promise<void> {
    if (caseIds.length === 0) return;
    for (const id of caseIds) this.loaded.outboxOf.set(id, { since: since.getTime(), counted: new Map(), requests: [] });
    const rows = await this.tx
      .select({
        id: outbox.id,
        caseId: outbox.caseId,
        kind: outbox.kind,
        status: outbox.status,
        createdAt: outbox.createdAt,
        triggerKey: outbox.triggerKey,
        mailbox: sql<string>`regexp_replace(lower(${outbox.toAddr}), '[+][^@]*@', '@')`,
      })
      .from(outbox)
      .where(
        and(
          inArray(outbox.caseId, caseIds),
          sql`((${outbox.createdAt} >= ${since.toISOString()}::timestamptz and ${outbox.status} in ('pending', 'sending', 'sent', 'held') and ${outbox.triggerKey} like ${AUTOMATIC_TRIGGER})
               or (${outbox.kind} in ('missing_info', 'still_missing', 'reminder') and ${outbox.status} in ('pending', 'held')))`,
        ),
      );
    for (const r of rows) {
      if (this.withdrawn.has(r.id)) continue;
      const o = this.loaded.outboxOf.get(r.caseId)!;
      if (r.createdAt.getTime() >= since.getTime() && COUNTED.includes(r.status) && r.triggerKey.startsWith('message:'))
        o.counted.set(r.id, { to: r.mailbox, at: r.createdAt.getTime() });
      if ((REQUEST_KINDS as readonly string[]).includes(r.kind) && (r.status === 'pending' || r.status === 'held')) o.requests.push(r.id);
    }
  }

  private async loadRecipients(keys: string[], since: Date): Promise<void> {
    if (keys.length === 0) return;
    for (const k of keys) this.loaded.recipients.set(k, { since: since.getTime(), counted: 0 });
    const mailbox = sql`regexp_replace(lower(${outbox.toAddr}), '[+][^@]*@', '@')`;
    const rows = await this.tx
      .select({ key: sql<string>`${mailbox}`, n: sql<number>`count(*)::int` })
      .from(outbox)
      .where(
        and(
          sql`${mailbox} in (${sql.join(
            keys.map((k) => sql`${k}`),
            sql`, `,
          )})`,
          sql`${outbox.status} in ('pending', 'sending', 'sent', 'held') and ${outbox.triggerKey} like ${AUTOMATIC_TRIGGER}`,
          sql`${outbox.createdAt} >= ${since.toISOString()}::timestamptz`,
        ),
      )
      .groupBy(mailbox);
    for (const r of rows) this.loaded.recipients.get(r.key)!.counted = Number(r.n);
  }

  // --- cases ----------------------------------------------------------------------------------

  async case(id: number): Promise<CaseRow | null> {
    if (!this.cases.byId.has(id) && !this.loaded.caseIds.has(id)) {
      this.cases.take(await this.tx.select().from(cases).where(eq(cases.id, id)));
      this.loaded.caseIds.add(id);
    }
    return this.cases.byId.get(id) ?? null;
  }

  async caseByRef(ref: string): Promise<CaseRow | null> {
    if (!this.loaded.refs.has(ref)) {
      this.cases.take(await this.tx.select().from(cases).where(eq(cases.ref, ref)));
      this.loaded.refs.add(ref);
    }
    return this.cases.where((c) => c.ref === ref)[0] ?? null;
  }

  /** The case still waiting (or in review) from this sender with this thread subject, updated since `since`: the oldest update first. */
  async caseBySubject(sender: string, base: string, since: Date): Promise<CaseRow | null> {
    const k = key(sender, base);
    if ((this.loaded.subjects.get(k) ?? Infinity) > since.getTime()) {
      const open = inArray(cases.status, ['waiting', 'review']);
      this.cases.take(
        await this.tx
          .select()
          .from(cases)
          .where(and(eq(cases.sender, sender), eq(cases.threadSubject, base), gte(cases.updatedAt, since), open)),
      );
      this.loaded.subjects.set(k, since.getTime());
    }
    const found = this.cases.where(
      (c) =>
        c.sender === sender &&
        c.threadSubject === base &&
        c.updatedAt.getTime() >= since.getTime() &&
        (c.status === 'waiting' || c.status === 'review'),
    );
    return found.sort((a, b) => a.updatedAt.getTime() - b.updatedAt.getTime() || a.id - b.id)[0] ?? null;
  }

  /** The case of our reply or of a stored mail with one of these Message-IDs (ours first). */
  async threadCase(refs: string[]): Promise<number | null> {
    const missing = refs.filter((r) => !this.loaded.thread.has(r));
    if (missing.length) await this.loadThreads({ refs: missing, caseRefs: [], subjects: [], since: new Date() });
    const ours = refs.flatMap((r) => this.loaded.thread.get(r)!.ours);
    if (ours.length) return ours[0]!;
    return refs.flatMap((r) => this.loaded.thread.get(r)!.theirs)[0] ?? null;
  }

  async insertCase(values: Omit<typeof cases.$inferInsert, 'id'>): Promise<CaseRow> {
    const id = await this.nextId('cases');
    const row = this.cases.add({
      knownProvider: false,
      senderVerified: false,
      refersToRef: null,
      providerName: null,
      sender: null,
      subject: '',
      threadSubject: '',
      rejectReason: null,
      remindersSent: 0,
      providerSilentSince: null,
      erasedAt: null,
      ...values,
      id,
    } as CaseRow);
    // A new case has nothing yet: no look-up needed.
    this.loaded.caseIds.add(id);
    this.loaded.refs.add(row.ref);
    this.loaded.personsOf.add(id);
    this.loaded.tasksOf.add(id);
    this.loaded.outboxOf.set(id, { since: 0, counted: new Map(), requests: [] });
    return row;
  }

  updateCase(id: number, patch: Partial<CaseRow>): CaseRow {
    return this.cases.update(id, patch);
  }

  /** The next case reference's number for the year (the counter row is locked until commit). */
  async nextCaseNumber(year: number): Promise<number> {
    let c = this.counters.get(year);
    if (!c) {
      const [row] = await this.tx
        .insert(caseCounters)
        .values({ year, last: 0 })
        .onConflictDoUpdate({ target: caseCounters.year, set: { last: sql`${caseCounters.last}` } })
        .returning({ last: caseCounters.last });
      c = { start: row!.last, last: row!.last };
      this.counters.set(year, c);
    }
    return ++c.last;
  }

  /** The texts of the replies we sent or queued on a case (our own words), once per case and batch. */
  private readonly ourTexts = new Map<number, string>();
  async ourWords(caseId: number): Promise<string> {
    let text = this.ourTexts.get(caseId);
    if (text === undefined) {
      const rows = await this.tx.select({ body: outbox.bodyText }).from(outbox).where(eq(outbox.caseId, caseId));
      text = rows.map((r) => r.body).join('\n');
      this.ourTexts.set(caseId, text);
    }
    return text;
  }

  // --- persons and tasks ----------------------------------------------------------------------

  /** A case's persons, in the order they were made. */
  async personsOf(caseId: number): Promise<PersonRow[]> {
    if (!this.loaded.personsOf.has(caseId)) {
      this.persons.take(await this.tx.select().from(persons).where(eq(persons.caseId, caseId)).orderBy(persons.id));
      this.loaded.personsOf.add(caseId);
    }
    return this.persons.where((p) => p.caseId === caseId);
  }

  async insertPerson(values: Omit<typeof persons.$inferInsert, 'id'>): Promise<PersonRow> {
    const id = await this.nextId('persons');
    return this.persons.add({
      name: null,
      function: null,
      hsaId: null,
      treservaUser: null,
      problems: [],
      intent: 'grant',
      reviewReason: null,
      hsaNote: null,
      correctedBy: [],
      sourceMessageIds: [],
      ...values,
      id,
    } as PersonRow);
  }

  updatePerson(id: number, patch: Partial<PersonRow>): PersonRow {
    return this.persons.update(id, patch);
  }

  /** Tasks with this HSA-id (any action and status). */
  async tasksByHsa(hsaId: string): Promise<TaskRow[]> {
    if (!this.loaded.hsa.has(hsaId)) {
      this.tasks.take(await this.tx.select().from(tasks).where(eq(tasks.hsaId, hsaId)));
      this.loaded.hsa.add(hsaId);
    }
    return this.tasks.where((t) => t.hsaId === hsaId);
  }

  async tasksByUser(user: string): Promise<TaskRow[]> {
    if (!this.loaded.users.has(user)) {
      this.tasks.take(await this.tx.select().from(tasks).where(eq(tasks.treservaUser, user)));
      this.loaded.users.add(user);
    }
    return this.tasks.where((t) => t.treservaUser === user);
  }

  async tasksOf(caseId: number): Promise<TaskRow[]> {
    if (!this.loaded.tasksOf.has(caseId)) {
      this.tasks.take(await this.tx.select().from(tasks).where(eq(tasks.caseId, caseId)));
      this.loaded.tasksOf.add(caseId);
    }
    return this.tasks.where((t) => t.caseId === caseId);
  }

  async insertTask(values: Omit<typeof tasks.$inferInsert, 'id'>): Promise<TaskRow> {
    const id = await this.nextId('tasks');
    return this.tasks.add({
      providerName: null,
      sender: null,
      senderVerified: false,
      hsaNote: null,
      correctedBy: [],
      sourceMessageIds: [],
      status: 'open',
      assignee: null,
      doneBy: null,
      confirmedBy: null,
      note: null,
      receiptReplyId: null,
      doneReplyId: null,
      takenAt: null,
      doneAt: null,
      action: 'grant',
      ...values,
      id,
    } as TaskRow);
  }

  updateTask(id: number, patch: Partial<TaskRow>): TaskRow {
    return this.tasks.update(id, patch);
  }

  // --- replies --------------------------------------------------------------------------------

  /** Automatic answers counted against the limits: this case's in the last day, this mailbox's in the last hour. */
  async replyCounts(caseId: number, k: string, now: Date): Promise<{ perCase: number; perRecipient: number }> {
    const day = new Date(now.getTime() - 86_400_000);
    const hour = new Date(now.getTime() - 3_600_000);
    const o = this.loaded.outboxOf.get(caseId);
    if (!o || o.since > day.getTime()) {
      this.loaded.outboxOf.delete(caseId);
      await this.loadOutbox([caseId], day);
    }
    const r = this.loaded.recipients.get(k);
    if (!r || r.since > hour.getTime()) {
      this.loaded.recipients.delete(k);
      await this.loadRecipients([k], hour);
    }
    const since = day.getTime();
    const perCase = [...this.loaded.outboxOf.get(caseId)!.counted.values()].filter((c) => c.at >= since).length;
    return { perCase, perRecipient: this.loaded.recipients.get(k)!.counted };
  }

  /** Whether a reply of this kind already answers this trigger (never answer twice). */
  async triggerTaken(kind: string, triggerKey: string): Promise<boolean> {
    const k = key(kind, triggerKey);
    if (this.loaded.triggers.has(k)) return true;
    const m = /^message:(\d+)$/.exec(triggerKey);
    if (m && this.freshMessages.has(Number(m[1]))) return false;
    const [row] = await this.tx
      .select({ id: outbox.id })
      .from(outbox)
      .where(and(eq(outbox.kind, kind as OutboxInsert['kind']), eq(outbox.triggerKey, triggerKey)))
      .limit(1);
    if (row) this.loaded.triggers.add(k);
    return !!row;
  }

  /** A reply row (written at flush); `mailbox` is its recipient's mailbox key. */
  async insertReply(values: Omit<OutboxInsert, 'id'>, mailbox: string, now: Date): Promise<{ id: number; status: OutboxStatus }> {
    const id = await this.nextId('outbox');
    this.replies.push({ ...values, id });
    this.loaded.triggers.add(key(values.kind, values.triggerKey));
    if (COUNTED.includes(values.status) && values.triggerKey.startsWith('message:')) {
      this.loaded.outboxOf.get(values.caseId)?.counted.set(id, { to: mailbox, at: now.getTime() });
      const r = this.loaded.recipients.get(mailbox);
      if (r) r.counted++;
    }
    if ((REQUEST_KINDS as readonly string[]).includes(values.kind) && (values.status === 'pending' || values.status === 'held'))
      this.loaded.outboxOf.get(values.caseId)?.requests.push(id);
    for (const ref of [values.messageId]) this.loaded.thread.get(ref)?.ours.push(values.caseId);
    return { id, status: values.status };
  }

  /** Requests for data (and reminders) of the case not yet sent are withdrawn (kept, not sent; no longer counted). */
  async withdrawRequests(caseId: number): Promise<void> {
    if (!this.loaded.outboxOf.has(caseId)) await this.loadOutbox([caseId], new Date());
    const o = this.loaded.outboxOf.get(caseId)!;
    for (const id of o.requests) {
      const c = o.counted.get(id);
      if (c) {
        o.counted.delete(id);
        const r = this.loaded.recipients.get(c.to);
        if (r && c.at >= r.since) r.counted--;
      }
      const mine = this.replies.find((r) => r.id === id);
      if (mine) Object.assign(mine, { status: 'suppressed', suppressReason: WITHDRAWN });
      else this.withdrawn.add(id);
    }
    o.requests = [];
  }

  // --- messages -------------------------------------------------------------------------------

  /** A stored mail's row (written at flush); later mails of the batch thread to it. */
  insertMessage(values: MessageInsert): void {
    this.mails.push(values);
    if (values.messageId && values.caseId != null) this.loaded.thread.get(values.messageId)?.theirs.push(values.caseId);
  }

  // --- writing --------------------------------------------------------------------------------

  /** Writes what is held back: changes to rows read first, then new rows in the order of their references. */
  async flush(): Promise<void> {
    for (const rows of [this.cases, this.persons, this.tasks] as Array<Rows<{ id: number }>>) await this.writeChanges(rows);
    if (this.withdrawn.size) {
      await this.tx
        .update(outbox)
        .set({ status: 'suppressed', suppressReason: WITHDRAWN })
        .where(and(inArray(outbox.id, [...this.withdrawn]), inArray(outbox.status, ['pending', 'held'])));
      this.withdrawn.clear();
    }
    for (const [year, c] of this.counters)
      if (c.last > c.start) {
        await this.tx.update(caseCounters).set({ last: c.last }).where(eq(caseCounters.year, year));
        c.start = c.last;
      }
    for (const rows of [this.cases, this.persons, this.tasks] as Array<Rows<{ id: number }>>) {
      const fresh = [...rows.fresh].map((id) => rows.byId.get(id)!);
      rows.fresh.clear();
      await insertRows(this.tx, rows.table, fresh);
    }
    if (this.replies.length) {
      const list = this.replies.splice(0);
      const done = await insertRows(this.tx, outbox, list, [outbox.kind, outbox.triggerKey]);
      // Taken by another transaction meanwhile: this one fails (and is tried again) rather than answer twice.
      if (done !== list.length) throw new Error('a reply of this kind already answers this mail');
    }
    const mails = this.mails.splice(0);
    await insertRows(
      this.tx,
      messages,
      mails.map((m) => ({ ...m, raw: inlineRaw(m.raw) })),
    );
    for (const m of mails) await writeParts(this.tx, m.id, m.raw);
  }

  /** Changed rows in one statement per set of changed columns: an upsert on the id that sets only those columns. */
  private async writeChanges(rows: Rows<{ id: number }>): Promise<void> {
    const groups = new Map<string, Array<{ id: number }>>();
    for (const [id, cols] of rows.dirty) {
      const k = [...cols].sort().join(',');
      groups.set(k, [...(groups.get(k) ?? []), rows.byId.get(id)!]);
    }
    rows.dirty.clear();
    const columns = getTableColumns(rows.table);
    for (const [k, list] of groups) {
      const set = Object.fromEntries(k.split(',').map((c) => [c, sql.raw(`excluded."${columns[c]!.name}"`)]));
      for (let i = 0; i < list.length; i += 500)
        await this.tx
          .insert(rows.table)
          .values(list.slice(i, i + 500))
          .onConflictDoUpdate({ target: columns['id']!, set: set });
    }
  }
}

function rowsOf<T>(res: unknown): T[] {
  // postgres.js gives the rows, PGlite a result with `rows`.
  return Array.isArray(res) ? (res as T[]) : (res as { rows: T[] }).rows;
}

/** Runs `fn` over a store of its own on `tx` and writes what it did before returning (callers outside intake's batches). */
export async function withStore<T>(db: DbOrTx | CaseStore, fn: (s: CaseStore) => Promise<T>): Promise<T> {
  if (db instanceof CaseStore) return fn(db);
  const s = new CaseStore(db);
  const out = await fn(s);
  await s.flush();
  return out;
}
