/**
 * Close the loop (issue 9, mail side), through the real per-message pipeline, staff actions and the
 * outbox sender on PostgreSQL, with an injected clock: replies per case (one receipt however the
 * case completes, one done confirmation for a 5-person case), answers to mail without data,
 * rate limits only on automatic answers, "Skicka ändå", bounces, rejection and reopening,
 * reminders after working days across Swedish public holidays. Every mail the provider gets is
 * written by the folder transport and read back as sent.
 */
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { and, asc, eq } from 'drizzle-orm';
import { simpleParser } from 'mailparser';
import { correctPerson } from '../src/cases/persons';
import { receiptAfterStaffAction } from '../src/cases/replies';
import { runReminders, workingDaysBetween } from '../src/cases/reminders';
import type { AppContext } from '../src/context';
import { cases, messages, outbox, persons, tasks } from '../src/db/schema';
import { ingestRaw } from '../src/intake/process';
import { isOwnLine, takeOwnWords } from '../src/parse/own-words';
import { htmlOf } from '../src/replies/html';
import { sendAnyway } from '../src/replies/requeue';
import { OutboxSender } from '../src/replies/sender';
import { FolderTransport } from '../src/replies/transport';
import { finishTask, rejectCase, reopenCase } from '../src/tasks/actions';
import { reviewQueueCount } from '../src/web/queries';
import { openTestDatabase, testContext, type TestDatabase } from './support/db';
import { buildMail, hsaIdFor, msgId, personBlock, type Person } from './support/mails';

const AUTHSERV = 'mx.orebro.se';
const pass = `Authentication-Results: ${AUTHSERV}; spf=pass smtp.mailfrom=attendo.se; dkim=pass header.d=attendo.se; dmarc=pass action=none header.from=attendo.se`;
const FROM = 'lena.ek@attendo.se';

let tdb: TestDatabase;
let clock = new Date('2026-11-23T09:00:00+01:00');
let outDir: string;
const contexts: AppContext[] = [];
const db = () => tdb.database.db;

function makeCtx(env: Record<string, string> = {}): AppContext {
  const ctx = testContext(
    tdb.database,
    {
      DATA_DIR: outDir,
      MAIL_TRUSTED_AUTHSERV_ID: AUTHSERV,
      REPLY_MAX_PER_CASE_PER_DAY: '3',
      REPLY_MAX_PER_RECIPIENT_PER_HOUR: '1000',
      REMINDER_AFTER_DAYS: '2',
      REMINDER_MAX: '1',
      ...env,
    },
    { now: () => clock },
  );
  contexts.push(ctx);
  return ctx;
}
let ctx: AppContext;

beforeAll(async () => {
  tdb = await openTestDatabase('postgres');
  outDir = fs.mkdtempSync(path.join(os.tmpdir(), 'lci-loop-'));
  ctx = makeCtx();
});
afterAll(async () => {
  await tdb?.cleanup();
  fs.rmSync(outDir, { recursive: true, force: true });
});

const at = (iso: string) => {
  clock = new Date(iso);
};
const later = (minutes: number) => {
  clock = new Date(clock.getTime() + minutes * 60_000);
};

/** Sends what is due now through the folder transport; returns the mails sent, parsed. */
async function sendDue(c: AppContext = ctx) {
  const sender = new OutboxSender(c, new FolderTransport(c.config, path.join(outDir, 'sent')));
  const before = new Set(fs.existsSync(path.join(outDir, 'sent')) ? fs.readdirSync(path.join(outDir, 'sent')) : []);
  await sender.runOnce();
  const files = fs.existsSync(path.join(outDir, 'sent')) ? fs.readdirSync(path.join(outDir, 'sent')).filter((f) => !before.has(f)) : [];
  return Promise.all(files.sort().map(async (f) => simpleParser(fs.readFileSync(path.join(outDir, 'sent', f)))));
}

/** Everything the provider of a case got, in order: subject and the first line after "Hej!". */
const log: Record<string, string[]> = {};
async function record(label: string, sent: Awaited<ReturnType<typeof sendDue>>) {
  for (const m of sent) {
    const first = (m.text ?? '').split('\n').find((l) => l.trim() && !/^Hej!/.test(l)) ?? '';
    (log[label] ??= []).push(`${m.subject}\n    ${first}`);
  }
}

async function provider(subject: string, body: string, opts: { inReplyTo?: string; references?: string[] } = {}) {
  const messageId = msgId('p', 'attendo.se');
  const out = await ingestRaw(ctx, Buffer.from(buildMail({ from: FROM, subject, messageId, body, headers: [pass], ...opts })), {
    kind: 'ingest',
  });
  return { ...out, messageId };
}

const repliesOf = (caseId: number) => db().select().from(outbox).where(eq(outbox.caseId, caseId)).orderBy(asc(outbox.id));
const tasksOf = (caseId: number) => db().select().from(tasks).where(eq(tasks.caseId, caseId)).orderBy(asc(tasks.id));
const quote = (text: string) =>
  text
    .split('\n')
    .map((l) => `> ${l}`)
    .join('\n');

const five: Person[] = ['Anna Berg', 'Bo Lind', 'Cecilia Holm', 'David Ek', 'Eva Sjö'].map((name, i) => ({
  name,
  function: i === 0 ? 'Enhetschef' : 'Undersköterska',
  hsaId: hsaIdFor(9100 + i),
  user: `u${9100 + i}`,
}));

test('working days skip weekends, Swedish public holidays and julafton, midsommarafton, nyårsafton', () => {
  const d = (s: string) => new Date(`${s}T10:00:00+01:00`);
  expect(workingDaysBetween(d('2026-12-23'), d('2026-12-28'))).toBe(1); // 24, 25, 26, 27 are off
  expect(workingDaysBetween(d('2026-12-29'), d('2027-01-04'))).toBe(2); // 30 and 4: 31 Dec and 1 Jan are off
  expect(workingDaysBetween(d('2026-06-18'), d('2026-06-22'))).toBe(1); // midsommarafton 19 June
  expect(workingDaysBetween(d('2026-11-23'), d('2026-11-30'))).toBe(5);
});

test('a 5-person case: one receipt, then one done confirmation naming all five (UI and CLI, close together), not eaten by the rate limit', async () => {
  // One automatic reply per case per day: the staff-triggered confirmation must still go.
  const strict = makeCtx({ REPLY_MAX_PER_CASE_PER_DAY: '1' });
  at('2026-11-23T09:00:00+01:00');
  const messageId = msgId('five', 'attendo.se');
  const out = await ingestRaw(
    strict,
    Buffer.from(
      buildMail({
        from: FROM,
        subject: 'Behörighet för 5 personer',
        messageId,
        body: `Hej!\n\nHär kommer fem nya.\n\n${five.map(personBlock).join('\n\n')}\n\nMvh Lena`,
        headers: [pass],
      }),
    ),
    { kind: 'ingest' },
  );
  const caseId = out.caseId!;
  const receipt = await sendDue(strict);
  await record('five', receipt);
  expect(receipt.map((m) => m.subject)).toEqual([expect.stringMatching(/^Vi har tagit emot uppgifterna \[LSP-/)]);
  expect(receipt[0]!.text).toContain('för 5 personer:');
  for (const p of five) expect(receipt[0]!.text).toContain(`${p.name}, ${p.function}`);
  // The template's paragraphs are single lines, with an HTML alternative, escaped.
  expect(receipt[0]!.text).toMatch(/Ni behöver inte göra något mer\. Ni får ett nytt besked när behörigheten är klar\./);
  expect(receipt[0]!.html).toContain('<li>Anna Berg, Enhetschef</li>');
  expect(receipt[0]!.headers.get('auto-submitted')).toBe('auto-replied');

  const ts = await tasksOf(caseId);
  expect(ts).toHaveLength(5);
  later(5);
  for (const t of ts.slice(0, 3))
    await finishTask(db(), strict.config, strict.rules, t.id, 'user:anna', t.id === ts[0]!.id ? 'Välkommen!' : null, clock);
  // Not yet: the confirmation waits for more tasks of the case.
  later(2);
  expect(await sendDue(strict)).toEqual([]);
  for (const t of ts.slice(3)) await finishTask(db(), strict.config, strict.rules, t.id, 'cli:erik', null, clock);
  const rows = (await repliesOf(caseId)).filter((r) => r.kind === 'done_confirmation');
  expect(rows).toHaveLength(1);
  expect(rows[0]!.status).toBe('pending');
  later(20);
  const done = await sendDue(strict);
  await record('five', done);
  expect(done).toHaveLength(1);
  expect(done[0]!.subject).toMatch(/^Behörighet till Lifecare SP klar för 5 personer \[LSP-/);
  for (const p of five) expect(done[0]!.text).toContain(p.name);
  expect(done[0]!.text).toContain('Meddelande från IT-avdelningen: Välkommen!');
  expect(done[0]!.inReplyTo).toBe(messageId);
  expect((await db().select().from(cases).where(eq(cases.id, caseId)))[0]!.status).toBe('done');
  expect((await repliesOf(caseId)).map((r) => [r.kind, r.status])).toEqual([
    ['receipt', 'sent'],
    ['done_confirmation', 'sent'],
  ]);
});

test('a mixed case: who is accepted and who needs what (wrong value shown, personnummer masked), answers to a reply that adds nothing and to a question, a receipt after an IT correction', async () => {
  at('2026-11-24T09:00:00+01:00');
  const people: Person[] = [
    ...five.slice(0, 3).map((p, i) => ({ ...p, hsaId: hsaIdFor(9200 + i), user: `m${9200 + i}` })),
    { name: 'Fredrik Ny', function: 'Sjuksköterska', hsaId: 'SE2321000017-AB1', user: 'frny' },
    { name: 'Greta Ny', function: 'Undersköterska', hsaId: '19800101-1234', user: 'grny' },
  ];
  const first = await provider('Nya behörigheter', `Hej!\n\n${people.map(personBlock).join('\n\n')}\n\nMvh Lena`);
  const caseId = first.caseId!;
  const [ask] = await sendDue();
  await record('mixed', [ask!]);
  expect(ask!.subject).toMatch(/^Komplettering behövs \[LSP-/);
  const text = ask!.text!;
  expect(text).toContain('Uppgifterna är kompletta för följande personer');
  for (const p of people.slice(0, 3)) expect(text).toContain(`  - ${p.name}, ${p.function}`);
  expect(text).toContain('Fredrik Ny, Sjuksköterska:');
  expect(text).toContain('Ni skrev: SE2321000017-AB1');
  expect(text).toContain('Ni skrev: ********-****');
  expect(text).not.toContain('800101');
  expect(text).not.toContain('1234');
  expect(text).not.toContain('Vi har gett den ärendenummer');
  expect(text).toContain('Har ni frågor? Svara på det här mejlet');
  const [askRow] = (await repliesOf(caseId)).filter((r) => r.kind === 'missing_info');

  // A reply that adds nothing (our form quoted, untouched): what is still missing.
  later(60);
  await provider(`SV: ${ask!.subject}`, `Se nedan.\n\n${quote(askRow!.bodyText)}`, {
    inReplyTo: askRow!.messageId,
    references: [askRow!.messageId],
  });
  const [still] = await sendDue();
  await record('mixed', [still!]);
  expect(still!.subject).toMatch(/^Uppgifter saknas fortfarande \[LSP-/);
  expect(still!.text).toContain('Greta Ny, Undersköterska:');
  // Nothing of ours was read as data: still two persons waiting.
  expect(
    await db()
      .select()
      .from(persons)
      .where(and(eq(persons.caseId, caseId), eq(persons.status, 'incomplete'))),
  ).toHaveLength(2);

  // A question on the case: an acknowledgement, and the message waits in Att granska on the case.
  later(60);
  const before = await reviewQueueCount(db());
  const q = await provider(`SV: ${ask!.subject}`, 'Hej!\n\nZeynep börjar på måndag – hur går det med behörigheterna?\n\nMvh Lena', {
    inReplyTo: askRow!.messageId,
  });
  expect(q.caseId).toBe(caseId);
  const [ack] = await sendDue();
  await record('mixed', [ack!]);
  expect(ack!.subject).toMatch(/^Vi har tagit emot ert meddelande \[LSP-/);
  expect(await reviewQueueCount(db())).toBe(before + 1);

  // The fourth automatic answer within a day is held back by the per-case limit; staff send it anyway.
  later(60);
  await provider(`SV: ${ask!.subject}`, 'Hej!\n\nVi återkommer.\n\nMvh Lena', { inReplyTo: askRow!.messageId });
  const limited = (await repliesOf(caseId)).at(-1)!;
  expect(limited).toMatchObject({ status: 'suppressed', suppressReason: 'rate-limit-case', kind: 'still_missing' });
  await sendAnyway(db(), limited.id, 'user:anna', clock, caseId);
  const anyway = await sendDue();
  expect(anyway).toHaveLength(1);
  await record('mixed', anyway);

  // Next day the provider fills in one HSA-id in our quoted form: still one missing.
  at('2026-11-25T14:00:00+01:00');
  const fredrik = hsaIdFor(9300);
  const typed = quote(askRow!.bodyText).replace(/^> HSA-id: *$/m, `> HSA-id: ${fredrik}`);
  await provider(`SV: ${ask!.subject}`, `Här är Fredriks.\n\n${typed}`, { inReplyTo: askRow!.messageId });
  const [again] = await sendDue();
  await record('mixed', [again!]);
  expect(again!.subject).toMatch(/^Komplettering behövs/);
  expect(again!.text).toContain('  - Fredrik Ny, Sjuksköterska');
  expect(again!.text).toContain('Greta Ny, Undersköterska:');

  // IT staff phone the provider and correct Greta: the case is complete, one receipt naming all five.
  later(30);
  const greta = (
    await db()
      .select()
      .from(persons)
      .where(and(eq(persons.caseId, caseId), eq(persons.name, 'Greta Ny')))
  )[0]!;
  await correctPerson(db(), ctx.rules, greta.id, { hsaId: hsaIdFor(9301) }, 'user:anna', clock, { caseId });
  await db().transaction((tx) => receiptAfterStaffAction(tx, ctx, caseId, clock));
  const [receipt] = await sendDue();
  await record('mixed', [receipt!]);
  expect(receipt!.subject).toMatch(/^Vi har tagit emot uppgifterna \[LSP-/);
  expect(receipt!.text).toContain('för 5 personer:');
  for (const p of people) expect(receipt!.text).toContain(p.name!);
  // Once only: another staff action names nobody again.
  await db().transaction((tx) => receiptAfterStaffAction(tx, ctx, caseId, clock));
  expect((await repliesOf(caseId)).filter((r) => r.kind === 'receipt')).toHaveLength(1);

  // Tasks done on two days: one confirmation a day, each naming those finished since the last.
  const ts = await tasksOf(caseId);
  later(60);
  for (const t of ts.slice(0, 4)) await finishTask(db(), ctx.config, ctx.rules, t.id, 'user:anna', null, clock);
  later(16);
  const [d1] = await sendDue();
  await record('mixed', [d1!]);
  expect(d1!.subject).toMatch(/klar för 4 personer/);
  later(60);
  await finishTask(db(), ctx.config, ctx.rules, ts[4]!.id, 'user:anna', null, clock);
  later(16);
  expect(await sendDue()).toEqual([]); // not within a day of the last one
  at('2026-11-26T16:00:00+01:00');
  const [d2] = await sendDue();
  await record('mixed', [d2!]);
  expect(d2!.subject).toMatch(/klar för 1 person \[/);
  expect(d2!.text).toContain(ts[4]!.name);
  expect(d2!.text).not.toContain(ts[0]!.name);
});

test('a reminder after N working days crosses Christmas; after REMINDER_MAX the case is flagged, and a provider mail lifts the flag', async () => {
  at('2026-12-23T10:00:00+01:00');
  const first = await provider(
    'SITHS-kort Hanna',
    `Hej!\n\n${personBlock({ name: 'Hanna Lund', function: 'Enhetschef', user: 'halu' })}\n`,
  );
  const caseId = first.caseId!;
  await sendDue();
  // Two working days: not on 24, 25, 26, 27 nor 28 December (one working day), but on the 29th.
  for (const day of ['2026-12-24', '2026-12-25', '2026-12-28']) {
    at(`${day}T10:00:00+01:00`);
    expect(await runReminders(ctx)).toEqual({ reminded: 0, flagged: 0 });
  }
  at('2026-12-29T10:00:00+01:00');
  expect(await runReminders(ctx)).toEqual({ reminded: 1, flagged: 0 });
  const [reminder] = await sendDue();
  (log.reminder ??= []).push(`${reminder!.subject}\n    ${reminder!.text!.split('\n')[2]}`);
  expect(reminder!.subject).toMatch(/^Påminnelse: uppgifter saknas \[LSP-/);
  expect(reminder!.text).toContain('Den 23 december 2026 bad vi om fler uppgifter');
  expect(reminder!.text).toContain('Hanna Lund, Enhetschef:');
  expect(await runReminders(ctx)).toEqual({ reminded: 0, flagged: 0 }); // the same day again: nothing
  // REMINDER_MAX=1: two more working days (30 Dec, 4 Jan; 31 Dec and 1 Jan are off) and it is flagged.
  at('2027-01-01T10:00:00+01:00');
  expect(await runReminders(ctx)).toEqual({ reminded: 0, flagged: 0 });
  at('2027-01-04T10:00:00+01:00');
  expect(await runReminders(ctx)).toEqual({ reminded: 0, flagged: 1 });
  const [c] = await db().select().from(cases).where(eq(cases.id, caseId));
  expect(c).toMatchObject({ status: 'waiting', remindersSent: 1 });
  expect(c!.providerSilentSince).toEqual(clock);
  expect(await sendDue()).toEqual([]);
  // The provider answers: the flag is lifted and the count starts again.
  later(60);
  const r = (await repliesOf(caseId)).find((x) => x.kind === 'reminder')!;
  await provider(`SV: ${r.subject}`, 'Hej!\n\nHanna har inte fått sitt kort än.\n\nMvh Lena', { inReplyTo: r.messageId });
  const [after] = await db().select().from(cases).where(eq(cases.id, caseId));
  expect(after).toMatchObject({ providerSilentSince: null, remindersSent: 0 });
});

test('a bounce of our reply is shown on it and waits in Att granska on its case', async () => {
  at('2026-12-01T09:00:00+01:00');
  const first = await provider('SITHS-kort Ivar', `Hej!\n\n${personBlock({ name: 'Ivar Ek', function: 'Enhetschef', user: 'ivek' })}\n`);
  await sendDue();
  const [ask] = await repliesOf(first.caseId!);
  const before = await reviewQueueCount(db());
  const dsn = [
    'From: Mail Delivery System <MAILER-DAEMON@mx.orebro.se>',
    'To: vardochstod@orebro.se',
    'Subject: Undelivered Mail Returned to Sender',
    `Message-ID: ${msgId('dsn', 'mx.orebro.se')}`,
    'Auto-Submitted: auto-replied',
    'MIME-Version: 1.0',
    'Content-Type: multipart/report; report-type=delivery-status; boundary="B"',
    '',
    '--B',
    'Content-Type: text/plain; charset=utf-8',
    '',
    'Your message could not be delivered.',
    '--B',
    'Content-Type: message/delivery-status',
    '',
    'Reporting-MTA: dns; mx.orebro.se',
    '',
    `Final-Recipient: rfc822; ${FROM}`,
    'Action: failed',
    'Status: 5.1.1',
    'Diagnostic-Code: smtp; 550 5.1.1 <lena.ek@attendo.se>: Recipient address rejected: User unknown',
    '--B',
    'Content-Type: message/rfc822',
    '',
    `From: vardochstod@orebro.se`,
    `To: ${FROM}`,
    `Subject: ${ask!.subject.replace(/[^\x20-\x7e]/g, '?')}`,
    `Message-ID: ${ask!.messageId}`,
    '',
    'Hej!',
    '--B--',
    '',
  ].join('\r\n');
  const out = await ingestRaw(ctx, Buffer.from(dsn), { kind: 'ingest' });
  expect(out.caseId).toBe(first.caseId);
  const [row] = await db().select().from(outbox).where(eq(outbox.id, ask!.id));
  expect(row!.bounce).toBe('550 5.1.1 <lena.ek@attendo.se>: Recipient address rejected: User unknown');
  const [m] = await db().select().from(messages).where(eq(messages.id, out.messageRowId!));
  expect(m).toMatchObject({ status: 'review', caseId: first.caseId });
  expect(await reviewQueueCount(db())).toBe(before + 1);
  // Never answered.
  expect((await repliesOf(first.caseId!)).filter((r) => r.triggerKey === `message:${out.messageRowId}`)).toEqual([]);
});

test('a rejected case tells the provider why, and can be reopened (audited) with its tasks open again', async () => {
  at('2026-12-02T09:00:00+01:00');
  const p = { name: 'Jonas Berg', function: 'Enhetschef', hsaId: hsaIdFor(9400), user: 'jobe' };
  const first = await provider('SITHS-kort Jonas', `Hej!\n\n${personBlock(p)}\n`);
  const caseId = first.caseId!;
  await sendDue();
  later(10);
  await rejectCase(db(), caseId, 'Personen är inte anställd hos er enligt vårt avtal.', 'user:anna', clock, ctx);
  const [rejection] = await sendDue();
  (log.rejection ??= []).push(`${rejection!.subject}\n    ${rejection!.text!.split('\n')[2]}`);
  expect(rejection!.subject).toMatch(/^Ärendet är avslutat utan behörighet \[LSP-/);
  expect(rejection!.text).toContain('Anledning: Personen är inte anställd hos er enligt vårt avtal.');
  expect((await tasksOf(caseId))[0]!.status).toBe('cancelled');
  later(10);
  expect(await reopenCase(db(), caseId, 'user:anna', clock)).toBe('complete');
  expect((await tasksOf(caseId))[0]!.status).toBe('open');
  const [c] = await db().select().from(cases).where(eq(cases.id, caseId));
  expect(c).toMatchObject({ status: 'complete', rejectReason: null });
  await expect(reopenCase(db(), caseId, 'user:anna', clock)).rejects.toMatchObject({ code: 'CONFLICT' });
});

test('an out-of-office answer without headers to a waiting case gets no answer', async () => {
  at('2026-12-03T09:00:00+01:00');
  const first = await provider('SITHS-kort Karl', `Hej!\n\n${personBlock({ name: 'Karl Ny', function: 'Enhetschef', user: 'kany' })}\n`);
  await sendDue();
  const [ask] = await repliesOf(first.caseId!);
  later(5);
  await provider(`SV: ${ask!.subject}`, `Tack för ditt mejl. Jag är ledig till och med 7 december.\n\n${quote(ask!.bodyText)}`, {
    inReplyTo: ask!.messageId,
  });
  expect((await repliesOf(first.caseId!)).map((r) => r.kind)).toEqual(['missing_info']);
});

afterAll(() => {
  // The mails each provider got, for the report (subjects and first lines).
  const out = Object.entries(log)
    .map(([k, v]) => `## ${k}\n${v.map((x, i) => `${i + 1}. ${x}`).join('\n')}`)
    .join('\n\n');
  fs.writeFileSync(path.join(os.tmpdir(), 'lci-loop-mails.md'), `${out}\n`);
});

test('our own words: the sentences of the new templates and of the texts we sent before are both recognised, quoted and rewrapped', () => {
  const rules = ctx.rules;
  const ours = [
    // new, one paragraph a line, as a mail client quotes it after wrapping
    '> Tack för ert mejl om behörighet till Lifecare SP. Ärendet har nummer LSP-2026-0042.',
    '> Svara på det här mejlet och fyll i uppgifterna nedan efter kolonet. Låt',
    '> ärendenumret LSP-2026-0042 stå kvar i ämnesraden, så kopplas svaret till rätt ärende.',
    'Uppgifterna är kompletta för följande personer, och för dem beställer vi behörighet redan nu:',
    '> Vi har tagit emot ert meddelande. Ärendet har nummer LSP-2026-0042. En handläggare på IT-avdelningen',
    // earlier texts, still in providers' mailboxes
    '> Tack för er anmälan om behörighet till Lifecare SP. Vi har gett den ärendenummer LSP-2026-0042.',
    '> Svara på det här mejlet och fyll i uppgifterna nedan (skriv efter kolonet). Behåll',
    '> Personen loggar in i Lifecare SP med sitt SITHS-kort. Ärendenummer: LSP-2026-0042.',
  ];
  for (const line of ours) expect([line, isOwnLine(line, rules)]).toEqual([line, true]);
  for (const line of ['Zeynep börjar på måndag, hur går det med behörigheten?', 'Namn på behörig: Lisa Berg'])
    expect(isOwnLine(line, rules)).toBe(false);
  // The value shown back under a problem is ours too, never data.
  const { rest } = takeOwnWords(
    [
      '> Tack för ert mejl om behörighet till Lifecare SP. Ärendet har nummer LSP-2026-0042.',
      '> Fredrik Ny, Sjuksköterska:',
      '>   - HSA-id innehåller ett organisationsnummer som inte stämmer (kontrollsiffran är fel). Kontrollera siffrorna mot följesedeln till SITHS-kortet.',
      '>     Ni skrev: SE2321000017-AB1',
    ],
    rules,
  );
  expect(rest.join('\n')).not.toContain('SE2321000017-AB1');
});

test('the HTML alternative: paragraphs, lists, everything escaped', () => {
  const html = htmlOf(
    'Hej!\n\nEn lång rad utan radbrytning.\n\nFredrik <b>Ny</b>:\n  - HSA-id har fel form.\n    Ni skrev: <script>x</script>\n',
  );
  expect(html).toContain('<p>En lång rad utan radbrytning.</p>');
  expect(html).toContain('<li>HSA-id har fel form.<br>\nNi skrev: &lt;script&gt;x&lt;/script&gt;</li>');
  expect(html).toContain('Fredrik &lt;b&gt;Ny&lt;/b&gt;:');
  expect(html).not.toMatch(/<script|<b>/);
});
