/**
 * The batched path changes nothing in what mail becomes: the whole fixture corpus (provider,
 * held-out and two blind sets, in file order, 100 also sent again as a follow-up "SV:" to make
 * threading and merging work) is ingested once mail by mail (batches of one) and once in batches of
 * 50 (parsed in parallel, stored in one transaction), each into its own PostgreSQL database. The
 * messages, cases, persons, tasks, replies and audit actions must be the same, field by field
 * (ids, Message-IDs and times aside).
 */
import fs from 'node:fs';
import path from 'node:path';
import { asc } from 'drizzle-orm';
import { parseConfig } from '../src/config';
import type { AppContext } from '../src/context';
import { auditEvents, cases, messages, outbox, persons, tasks } from '../src/db/schema';
import { ingestBatch, parseAhead, type IntakeItem } from '../src/intake/process';
import { logger } from '../src/log';
import { DEFAULT_RULES_DIR, loadRules } from '../src/rules/load';
import { openTestDatabase, type TestDatabase } from './support/db';

jest.setTimeout(1_200_000);

const FIXTURES = path.resolve(__dirname, 'fixtures');
const NOW = new Date('2026-11-02T09:00:00Z');

function corpus(): Buffer[] {
  const dirs = fs
    .readdirSync(FIXTURES, { withFileTypes: true })
    .filter((d) => d.isDirectory() && /^(provider|heldout|blind-0[12])$/.test(d.name))
    .map((d) => d.name)
    .sort();
  const raws = dirs.flatMap((d) =>
    fs
      .readdirSync(path.join(FIXTURES, d))
      .filter((f) => f.endsWith('.eml'))
      .sort()
      .map((f) => fs.readFileSync(path.join(FIXTURES, d, f))),
  );
  // Each mail once more as a reply to itself with its subject prefixed (threading, merge into the case, our rate limits).
  const again = raws.slice(0, 100).map((raw, i) => {
    const text = raw.toString('latin1');
    const id = /^Message-ID:\s*(<[^>\r\n]+>)/im.exec(text)?.[1];
    const replaced = text
      .replace(/^Message-ID:[^\r\n]*/im, `Message-ID: <again.${i}@fixtures.example>`)
      .replace(/^Subject:\s*/im, 'Subject: SV: ');
    const head = id ? `In-Reply-To: ${id}\r\n` : '';
    return Buffer.from(head + replaced, 'latin1');
  });
  // And exact copies: one later in the corpus, one right behind its original (the same batch).
  return [...raws.slice(0, 40), raws[3]!, ...raws.slice(40), ...again, raws[0]!, raws[1]!];
}

const noDns = async (name: string, rrtype: string): Promise<never> => {
  throw Object.assign(new Error(`no ${rrtype} for ${name}`), { code: 'ENOTFOUND' });
};

async function run(tdb: TestDatabase, raws: Buffer[], batch: number) {
  const ctx: AppContext = {
    config: parseConfig({ DATA_DIR: '/tmp/lci-unused', REPLY_PERSONAL_DATA: 'all', MAIL_AUTH_TIMEOUT_MS: '2000' }),
    rules: loadRules(DEFAULT_RULES_DIR),
    database: tdb.database,
    log: logger('test').child({}, { level: 'silent' }),
    now: () => NOW,
    resolver: noDns,
  };
  const items: IntakeItem[] = raws.map((raw, i) => ({
    raw,
    source: { kind: 'imap', mailbox: 'imap:fixtures', uidValidity: 1, uid: i + 1 },
  }));
  const outcomes = [];
  // Batched as IMAP intake does it: the next batch is parsed while the one before it is stored.
  const slice = (i: number) => items.slice(i, i + batch);
  let ahead = batch > 1 ? parseAhead(ctx, slice(0)) : undefined;
  for (let i = 0; i < items.length; i += batch) {
    const next = batch > 1 && i + batch < items.length ? parseAhead(ctx, slice(i + batch)) : undefined;
    const got = await ingestBatch(ctx, slice(i), ahead);
    ahead = next;
    for (const r of got) {
      if (!r.ok) throw r.error;
      outcomes.push({ status: r.outcome.status, folder: r.outcome.folder, hasCase: r.outcome.caseId !== null });
    }
  }
  const db = tdb.database.db;
  const caseRef = new Map((await db.select({ id: cases.id, ref: cases.ref }).from(cases)).map((c) => [c.id, c.ref]));
  const ref = (id: number | null) => (id == null ? null : (caseRef.get(id) ?? `?${id}`));
  const msgUid = new Map((await db.select({ id: messages.id, uid: messages.uid }).from(messages)).map((m) => [m.id, m.uid]));
  const uidsOf = (ids: number[]) => ids.map((id) => msgUid.get(id));
  // Ids of tasks and replies (reserved ahead by a batch, so numbered with gaps) as what they are: a task by its case and person, a reply by its case, kind and trigger.
  const taskOf = new Map(
    (await db.select({ id: tasks.id, caseId: tasks.caseId, name: tasks.name }).from(tasks)).map((t) => [
      t.id,
      `${ref(t.caseId)}/${t.name}`,
    ]),
  );
  const trigger = (key: string) => (key.startsWith('message:') ? `uid:${msgUid.get(Number(key.slice(8)))}` : key);
  const replyOf = new Map(
    (await db.select({ id: outbox.id, caseId: outbox.caseId, kind: outbox.kind, triggerKey: outbox.triggerKey }).from(outbox)).map((o) => [
      o.id,
      `${ref(o.caseId)}/${o.kind}/${trigger(o.triggerKey)}`,
    ]),
  );
  const reply = (id: number | null) => (id == null || id === 0 ? id : (replyOf.get(id) ?? `?${id}`));
  const namedTask = (text: string | null) =>
    text?.replace(/uppgift (\d+)/g, (_, id: string) => `uppgift ${taskOf.get(Number(id)) ?? `?${id}`}`) ?? null;
  // Rows in a content order: a case's complete persons get their tasks in the order the database returns them (no order asked).
  const byContent = <T>(rows: T[]) =>
    rows.sort((a, b) => (JSON.stringify(a) < JSON.stringify(b) ? -1 : JSON.stringify(a) > JSON.stringify(b) ? 1 : 0));
  return {
    outcomes,
    messages: (await db.select().from(messages).orderBy(asc(messages.uid))).map((m) => ({
      uid: m.uid,
      kind: m.kind,
      status: m.status,
      reviewReason: m.reviewReason,
      errorCode: m.errorCode,
      case: ref(m.caseId),
      from: m.fromAddr,
      subject: m.subject,
      auth: m.authVerdict,
      parsed: m.parsed,
    })),
    cases: (await db.select().from(cases).orderBy(asc(cases.ref))).map(({ id: _id, createdAt: _c, updatedAt: _u, ...c }) => c),
    persons: (await db.select().from(persons).orderBy(asc(persons.id))).map(
      ({ id: _id, caseId, createdAt: _c, updatedAt: _u, sourceMessageIds, ...p }) => ({
        ...p,
        reviewReason: namedTask(p.reviewReason),
        case: ref(caseId),
        from: uidsOf(sourceMessageIds),
      }),
    ),
    tasks: byContent(
      (await db.select().from(tasks).orderBy(asc(tasks.id))).map(
        ({ id: _id, personId: _p, caseId, createdAt: _c, sourceMessageIds, ...t }) => ({
          ...t,
          receiptReplyId: reply(t.receiptReplyId),
          doneReplyId: reply(t.doneReplyId),
          case: ref(caseId),
          from: uidsOf(sourceMessageIds),
        }),
      ),
    ),
    replies: (await db.select().from(outbox).orderBy(asc(outbox.id))).map((o) => ({
      case: ref(o.caseId),
      kind: o.kind,
      trigger: trigger(o.triggerKey),
      to: o.toAddr,
      subject: o.subject,
      body: o.bodyText,
      status: o.status,
      suppressReason: o.suppressReason,
      inReplyTo: o.inReplyTo,
    })),
    audit: byContent(
      (await db.select().from(auditEvents).orderBy(asc(auditEvents.id))).map((a) => ({
        action: a.action,
        case: ref(a.caseId),
        message: a.messageRowId == null ? null : msgUid.get(a.messageRowId),
      })),
    ),
  };
}

let one: TestDatabase;
let many: TestDatabase;
beforeAll(async () => {
  [one, many] = await Promise.all([openTestDatabase('postgres'), openTestDatabase('postgres')]);
});
afterAll(async () => {
  await Promise.allSettled([one?.cleanup(), many?.cleanup()]);
});

test('the fixture corpus in batches of 50, each parsed while the one before it is stored, gives the same messages, cases, persons, tasks, replies and audit as mail by mail', async () => {
  const raws = corpus();
  expect(raws.length).toBeGreaterThan(300);
  const single = await run(one, raws, 1);
  const batched = await run(many, raws, 50);
  // Something to compare: cases, tasks and replies of every kind the corpus brings.
  expect(single.cases.length).toBeGreaterThan(150);
  expect(single.tasks.length).toBeGreaterThan(100);
  expect(new Set(single.replies.map((r) => r.kind)).size).toBeGreaterThanOrEqual(3);
  expect(single.outcomes.filter((o) => o.status === 'duplicate').length).toBeGreaterThanOrEqual(3);
  console.log(
    `batch outcomes: ${raws.length} mails, ${single.cases.length} cases, ${single.persons.length} persons, ${single.tasks.length} tasks, ${single.replies.length} replies`,
  );
  for (const k of ['outcomes', 'messages', 'cases', 'persons', 'tasks', 'replies', 'audit'] as const) {
    expect({ [k]: batched[k] }).toEqual({ [k]: single[k] });
  }
});
