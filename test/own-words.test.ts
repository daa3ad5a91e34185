/**
 * Our own words are never data (issue 11 item 2, issue 7 item 3), through the real per-message
 * pipeline on PostgreSQL: a provider's auto-responder that answers our request for data in the
 * forms seen in the field (quoting our reply without auto headers, our ready-to-fill form unquoted,
 * a subject without "SV:", a forwarded unfilled copy of our request) gets no further reply, and
 * nothing we wrote (the example HSA-id, our sentences) ends up as a value. A provider who types the
 * missing value into our quoted form gets it merged.
 */
import { eq } from 'drizzle-orm';
import type { AppContext } from '../src/context';
import { cases, outbox, persons, tasks } from '../src/db/schema';
import { ingestRaw } from '../src/intake/process';
import { openTestDatabase, testContext, type TestDatabase } from './support/db';
import { buildMail, hsaIdFor, msgId } from './support/mails';

const AUTHSERV = 'mx.orebro.se';
const pass = `Authentication-Results: ${AUTHSERV}; spf=pass smtp.mailfrom=attendo.se; dkim=pass header.d=attendo.se; dmarc=pass action=none header.from=attendo.se`;
const FROM = 'lena.ek@attendo.se';
// The example HSA-id of our own reply text (rules/fields.yaml): it must never become anyone's.
const EXAMPLE_HSA = 'SE2321000016-4HK5';

let tdb: TestDatabase;
let ctx: AppContext;
const db = () => tdb.database.db;

beforeAll(async () => {
  tdb = await openTestDatabase('postgres');
  // Limits far away: one reply per case must come from the design, not from the rate limiter.
  ctx = testContext(tdb.database, {
    MAIL_TRUSTED_AUTHSERV_ID: AUTHSERV,
    REPLY_MAX_PER_RECIPIENT_PER_HOUR: '1000',
    REPLY_MAX_PER_CASE_PER_DAY: '1000',
  });
});
afterAll(async () => {
  await tdb.cleanup();
});

/** A provider's mail for one person without an HSA-id: our request for data comes back. */
async function waitingCase(user: string) {
  const body = [
    'Hej!',
    '',
    'Namn på behörig: Lisa Berg',
    'Funktion: Enhetschef',
    'HSA-id:',
    `Användarnamn i Treserva/TES: ${user}`,
    '',
    'Mvh Lena',
  ].join('\n');
  const messageId = msgId('first', 'attendo.se');
  // A subject of its own: the same sender and subject would join the case still waiting.
  const out = await ingestRaw(
    ctx,
    Buffer.from(buildMail({ from: FROM, subject: `SITHS-kort ${user}`, messageId, body, headers: [pass] })),
    { kind: 'ingest' },
  );
  const [request] = await db().select().from(outbox).where(eq(outbox.caseId, out.caseId!));
  expect(request).toMatchObject({ kind: 'missing_info' });
  return { caseId: out.caseId!, request: request!, messageId };
}

const quote = (text: string) =>
  text
    .split('\n')
    .map((l) => `> ${l}`)
    .join('\n');

async function answer(subject: string, body: string, inReplyTo: string) {
  return ingestRaw(
    ctx,
    Buffer.from(
      buildMail({ from: FROM, subject, messageId: msgId('auto', 'attendo.se'), body, inReplyTo, references: [inReplyTo], headers: [pass] }),
    ),
    {
      kind: 'ingest',
    },
  );
}

test.each([
  [
    'quotes our reply without auto headers',
    (r: { subject: string; bodyText: string }) => ({
      subject: `SV: ${r.subject}`,
      body: `Tack för ditt mejl, jag är tillbaka måndag.\n\n${quote(r.bodyText)}`,
    }),
  ],
  [
    'echoes our ready-to-fill form unquoted',
    (r: { subject: string; bodyText: string }) => ({ subject: `SV: ${r.subject}`, body: `Tack för ditt mejl.\n\n${r.bodyText}` }),
  ],
  [
    'answers with a subject without "SV:"',
    (r: { subject: string; bodyText: string }) => ({ subject: r.subject, body: `Jag är ledig.\n\n${r.bodyText}` }),
  ],
  [
    'forwards our request unfilled',
    (r: { subject: string; bodyText: string }) => ({
      subject: `VB: ${r.subject}`,
      body: `Kan du ta den här?\n\n-----Ursprungligt meddelande-----\nFrån: Vård och stöd <vardochstod@orebro.se>\nÄmne: ${r.subject}\n\n${r.bodyText}`,
    }),
  ],
])('an auto-responder that %s gets no further reply, and none of our words becomes data', async (_label, form) => {
  const { caseId, request } = await waitingCase(`lisber${Math.floor(Math.random() * 1e6)}`);
  expect(request.bodyText).toContain(EXAMPLE_HSA);
  // The auto-responder answers every mail it gets, three times over.
  for (let i = 0; i < 3; i++) {
    const m = form({ subject: request.subject, bodyText: request.bodyText });
    await answer(m.subject, m.body, request.messageId);
  }
  const replies = await db().select().from(outbox).where(eq(outbox.caseId, caseId));
  expect(replies.map((r) => r.kind)).toEqual(['missing_info']);
  const all = await db().select().from(persons).where(eq(persons.caseId, caseId));
  expect(all.some((p) => p.hsaId === EXAMPLE_HSA)).toBe(false);
  expect(all.some((p) => /När uppgifterna|Svara på det här mejlet|ärendenumret/.test(`${p.name} ${p.function} ${p.treservaUser}`))).toBe(
    false,
  );
  expect((await db().select().from(tasks)).some((t) => t.hsaId === EXAMPLE_HSA)).toBe(false);
  // The case still waits for the provider: an auto-answer moves nothing.
  expect((await db().select().from(cases).where(eq(cases.id, caseId)))[0]!.status).toBe('waiting');
});

test('a value the provider types into our quoted form ("Se nedan") is merged into the case', async () => {
  const user = `lisber${Math.floor(Math.random() * 1e6)}`;
  const { caseId, request } = await waitingCase(user);
  const hsa = hsaIdFor(4711);
  const typed = quote(request.bodyText).replace(/^> HSA-id:\s*$/m, `> HSA-id: ${hsa}`);
  expect(typed).toContain(hsa);
  await answer(`SV: ${request.subject}`, `Se nedan.\n\n/Lena\n\n${typed}`, request.messageId);
  const [p] = await db().select().from(persons).where(eq(persons.caseId, caseId));
  expect(p).toMatchObject({ name: 'Lisa Berg', hsaId: hsa, treservaUser: user });
  expect((await db().select().from(tasks).where(eq(tasks.caseId, caseId))).map((t) => t.hsaId)).toEqual([hsa]);
});
