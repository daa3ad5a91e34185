/**
 * End to end on real servers: a private Dovecot (IMAP, IDLE, MOVE), a fresh PostgreSQL database
 * and a real SMTP server (smtp-server). Mails are APPENDed over IMAP exactly as a provider's mail
 * would arrive; the worker's code (pollOnce, Worker, the CLI `worker` command as a child process)
 * turns them into cases, persons, tasks and replies.
 *
 * Each test has its own IMAP user (so its folders are its own) and its own senders (so rate limits
 * and case matching do not cross tests); they share one database. The SIGKILL test uses a second
 * fresh database so its counts are exact. Tests 6b, 7b and 8 assert the correct behaviour for bugs
 * found in src/ (each says which fix makes it pass).
 */
import { spawn, type ChildProcess } from 'node:child_process';
import crypto from 'node:crypto';
import fs from 'node:fs';
import fsp from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import { eq, inArray, like, sql, type SQL } from 'drizzle-orm';
import { ImapFlow } from 'imapflow';
import { createContext, createMailPieces } from '../src/app';
import { parseConfig } from '../src/config';
import type { AppContext } from '../src/context';
import { ingestRaw } from '../src/intake/process';
import { openDatabase, type Database } from '../src/db/client';
import { readRaw } from '../src/db/raw';
import { auditEvents, cases, mailboxState, messages, outbox, persons, tasks } from '../src/db/schema';
import { luhnCheckDigit, luhnValid } from '../src/parse/hsa-id';
import { Worker, pollOnce } from '../src/worker';
import { freshPostgres, type FreshPostgres } from './support/db';
import { listMailbox, startDovecot, type DovecotServer } from './support/dovecot';
import { sleep } from './support/ports';
import { startSmtpSink, type Received, type SmtpSink } from './support/smtp';
import { OUR_ADDRESS, annaMail, buildMail, hsaIdFor, msgId, notification, personBlock, withAttachment, type Person } from './support/mails';

jest.setTimeout(60_000);

const ROOT = path.resolve(__dirname, '..');
const PASS = 'secret';
const REF = /LSP-\d{4}-\d{4,}/;
/** Test mailboxes: one IMAP user per test. */
const U = {
  flow: 'flow@orebro.se',
  idle: 'idle@orebro.se',
  kill: 'kill@orebro.se',
  big: 'big@orebro.se',
  large: 'large@orebro.se',
  retry: 'retry@orebro.se',
  rate: 'rate@orebro.se',
  backlog: 'backlog@orebro.se',
} as const;
const FOLDERS = { processed: 'Behandlat', review: 'Granskas', ignored: 'Automatiskt' } as const;

// ---------------------------------------------------------------------------------------------
// Test mail

/** A provider's answer to one of our replies, with our text quoted below. */
function followUp(o: { from: string; fromName: string; reply: Received; persons: Person[]; extraRefs?: string[] }): {
  raw: string;
  messageId: string;
} {
  const messageId = msgId('svar', o.from.split('@')[1]!);
  const ours = o.reply.parsed.messageId!;
  const quoted = (o.reply.parsed.text ?? '')
    .split('\n')
    .map((l) => `> ${l}`)
    .join('\n');
  const body = [
    'Hej,',
    '',
    'här kommer det som saknades:',
    '',
    o.persons.map(personBlock).join('\n\n'),
    '',
    'Mvh',
    o.fromName,
    '',
    `Den ${new Date().toLocaleDateString('sv-SE')} skrev Örebro kommun <${OUR_ADDRESS}>:`,
    quoted,
  ].join('\n');
  return {
    raw: buildMail({
      from: o.from,
      fromName: o.fromName,
      subject: `SV: ${o.reply.parsed.subject ?? ''}`,
      messageId,
      inReplyTo: ours,
      references: [...(o.extraRefs ?? []), ours],
      body,
    }),
    messageId,
  };
}

// ---------------------------------------------------------------------------------------------
// Helpers

async function appendMany(server: DovecotServer, user: string, raws: Array<string | Buffer>): Promise<number[]> {
  const c = new ImapFlow({
    host: server.host,
    port: server.port,
    secure: false,
    logger: false,
    auth: { user, pass: PASS },
    disableAutoIdle: true,
  });
  await c.connect();
  try {
    const uids: number[] = [];
    for (const raw of raws) {
      const res = await c.append('INBOX', raw);
      if (!res) throw new Error('APPEND failed');
      uids.push(res.uid ?? -1);
    }
    return uids;
  } finally {
    await c.logout().catch(() => c.close());
  }
}

async function subjectsIn(server: DovecotServer, user: string, folder: string): Promise<string[]> {
  return (await listMailbox(server, user, PASS, folder)).map((m) => m.subject ?? '').sort();
}

function count(database: Database, table: typeof messages | typeof outbox | typeof tasks | typeof cases | typeof persons, where?: SQL) {
  return database.db
    .select({ n: sql<number>`count(*)::int` })
    .from(table)
    .where(where)
    .then((r) => r[0]?.n ?? 0);
}

async function waitUntil<T>(what: string, fn: () => Promise<T | false | null | undefined>, timeoutMs: number, everyMs = 50): Promise<T> {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    const v = await fn();
    if (v) return v;
    if (Date.now() > deadline) throw new Error(`timed out after ${timeoutMs} ms waiting for ${what}`);
    await sleep(everyMs);
  }
}

const sentTo = (smtp: SmtpSink, addr: string) => smtp.messages.filter((m) => m.envelope.to.includes(addr));
const header = (m: Received, key: string): string => {
  const v = m.parsed.headers.get(key);
  return typeof v === 'string' ? v : v == null ? '' : JSON.stringify(v);
};
const refsOf = (m: Received): string[] => {
  const r = m.parsed.references;
  return Array.isArray(r) ? r : r ? r.split(/\s+/) : [];
};

/** The headers every automatic reply of ours carries (RFC 3834 and the Microsoft suppress header). */
function expectAutoReplyHeaders(m: Received, answers: { messageId: string; ref: string; kind: string }): void {
  expect(m.envelope.from).toBe(OUR_ADDRESS);
  expect(m.parsed.from?.value[0]?.address).toBe(OUR_ADDRESS);
  expect(header(m, 'auto-submitted')).toBe('auto-replied');
  expect(header(m, 'x-auto-response-suppress')).toBe('All');
  expect(header(m, 'x-lifecare-intake')).toBe(`${answers.ref}; ${answers.kind}`);
  expect(m.parsed.inReplyTo).toBe(answers.messageId);
  expect(refsOf(m)).toContain(answers.messageId);
  expect(m.parsed.messageId).toMatch(/^<lci-[0-9a-f-]+@orebro\.se>$/);
  expect(m.parsed.subject).toContain(`[${answers.ref}]`);
}

// ---------------------------------------------------------------------------------------------
// Servers and context

let dovecot: DovecotServer;
let smtp: SmtpSink;
let pg: FreshPostgres;
let dataDir: string;
let ctx: AppContext;

function env(user: string, extra: Record<string, string> = {}): Record<string, string> {
  return {
    IMAP_HOST: '127.0.0.1',
    IMAP_PORT: String(dovecot.port),
    IMAP_SECURE: 'false',
    IMAP_USER: user,
    IMAP_PASSWORD: PASS,
    SMTP_HOST: smtp.host,
    SMTP_PORT: String(smtp.port),
    SMTP_SECURE: 'false',
    DATABASE_URL: pg.url,
    DATA_DIR: dataDir,
    LOG_LEVEL: process.env.LCI_TEST_LOG_LEVEL ?? 'silent',
    POLL_CRON: '0 0 1 1 *',
    HTTP_ENABLED: 'false',
    // These tests predate sender verification (their mails are unsigned): full replies to any sender.
    REPLY_PERSONAL_DATA: 'all',
    ...extra,
  };
}

/** Same database and rules, another mailbox (and other settings). */
function contextFor(user: string, extra: Record<string, string> = {}): AppContext {
  return { ...ctx, config: parseConfig(env(user, extra)) };
}

beforeAll(async () => {
  [dovecot, smtp, pg] = await Promise.all([
    startDovecot({ users: Object.values(U).map((user) => ({ user, password: PASS })) }),
    startSmtpSink(),
    freshPostgres(),
  ]);
  dataDir = await fsp.mkdtemp(path.join(os.tmpdir(), 'lci-wi-'));
  ctx = await createContext(parseConfig(env(U.flow)));
});

afterAll(async () => {
  await ctx?.database.close().catch(() => {});
  await Promise.allSettled([dovecot?.stop(), smtp?.stop(), pg?.drop()]);
  if (dataDir) await fsp.rm(dataDir, { recursive: true, force: true });
});

// ---------------------------------------------------------------------------------------------

describe('IMAP intake with PostgreSQL and SMTP', () => {
  // Shared by the flow tests (1-3), which follow one mailbox through a conversation.
  const karin = { from: 'karin.holm@omsorgshuset.se', fromName: 'Karin Holm' };
  const anna = { from: 'anna.ek@hemtjanstnarke.se', fromName: 'Anna Ek' };
  const per = { from: 'per.nord@attendo.se', fromName: 'Per Nord' };
  const lisa: Person = { name: 'Lisa Berg', function: 'Enhetschef', hsaId: hsaIdFor(1), user: 'lisber' };
  const omar: Person = { name: 'Omar Said', function: 'Sjuksköterska', hsaId: hsaIdFor(2), user: 'omasai' };
  const erik: Person = { name: 'Erik Ek', function: 'Undersköterska', hsaId: hsaIdFor(3), user: 'eriek' };
  const sara: Person = { name: 'Sara Lind', function: 'Samordnare', hsaId: hsaIdFor(4), user: 'sarlin' };
  let complete: { raw: string; messageId: string };
  let incomplete: { raw: string; messageId: string };
  let missingInfoToAnna: Received;
  let receiptToAnna: Received;

  it('computes valid HSA-ids for the test persons', () => {
    for (let i = 0; i < 100; i++) {
      const id = hsaIdFor(i);
      expect(id).toMatch(/^SE\d{10}-[A-Z0-9]+$/);
      expect(luhnValid(id.slice(2, 12))).toBe(true);
    }
    expect(luhnValid('2120001967')).toBe(true); // Örebro kommun, as a check of the helper's rule
    expect(luhnCheckDigit('212000196')).toBe(7);
  });

  it('1. turns appended mails into cases, persons, tasks and replies, and files them in folders', async () => {
    complete = notification({ ...karin, subject: 'Anmälan SITHS-kort Lisa Berg och Omar Said', persons: [lisa, omar] });
    incomplete = notification({ ...anna, subject: 'Ny behörighet Lifecare SP', persons: [{ name: erik.name, function: erik.function }] });
    const question = buildMail({
      from: 'maria.falk@vardaga.se',
      fromName: 'Maria Falk',
      subject: 'Fråga om SITHS-kort',
      messageId: msgId('fraga', 'vardaga.se'),
      body: 'Hej!\n\nHur lång tid tar det innan man får sitt kort?\n\nMvh Maria',
    });
    await appendMany(dovecot, U.flow, [complete.raw, incomplete.raw, question]);

    const { sent } = await pollOnce(ctx);
    expect(sent).toBe(2);

    // Rows: every mail stored once, with what the pipeline made of it.
    const rows = await ctx.database.db
      .select()
      .from(messages)
      .where(eq(messages.mailbox, `${U.flow}@127.0.0.1:${dovecot.port}/INBOX`))
      .orderBy(messages.uid);
    expect(rows.map((r) => [r.subject, r.kind, r.status])).toEqual([
      ['Anmälan SITHS-kort Lisa Berg och Omar Said', 'notification', 'processed'],
      ['Ny behörighet Lifecare SP', 'notification', 'processed'],
      ['Fråga om SITHS-kort', 'other', 'review'],
    ]);
    expect(rows[0]!.messageId).toBe(complete.messageId);
    expect(rows.every((r) => r.source === 'imap' && r.uidValidity != null && r.uid != null)).toBe(true);
    const [state] = await ctx.database.db
      .select()
      .from(mailboxState)
      .where(like(mailboxState.mailbox, `${U.flow}@%`));
    expect(state?.lastUid).toBe(rows[2]!.uid);

    // The complete notification: a complete case with one open task per person.
    const [caseK] = await ctx.database.db.select().from(cases).where(eq(cases.sender, karin.from));
    expect(caseK).toMatchObject({ status: 'complete', providerName: 'Omsorgshuset i Örebro AB', knownProvider: true });
    expect(caseK!.ref).toMatch(new RegExp(`^${REF.source}$`));
    const tk = await ctx.database.db.select().from(tasks).where(eq(tasks.caseId, caseK!.id)).orderBy(tasks.id);
    expect(tk.map((t) => [t.name, t.function, t.hsaId, t.treservaUser, t.status, t.caseRef])).toEqual([
      [lisa.name, lisa.function, lisa.hsaId, lisa.user, 'open', caseK!.ref],
      [omar.name, omar.function, omar.hsaId, omar.user, 'open', caseK!.ref],
    ]);
    expect(tk[0]!.sourceMessageIds).toEqual([rows[0]!.id]);

    // The incomplete one: a waiting case, the person incomplete, no task.
    const [caseA] = await ctx.database.db.select().from(cases).where(eq(cases.sender, anna.from));
    expect(caseA?.status).toBe('waiting');
    const pa = await ctx.database.db.select().from(persons).where(eq(persons.caseId, caseA!.id));
    expect(pa.map((p) => [p.name, p.status, p.problems.map((x) => `${x.field}:${x.code}`)])).toEqual([
      [erik.name, 'incomplete', ['hsaId:missing', 'treservaUser:missing']],
    ]);
    expect(await count(ctx.database, tasks, eq(tasks.caseId, caseA!.id))).toBe(0);
    // The question: stored for review, no case, no reply.
    expect(rows[2]!.caseId).toBeNull();
    expect(rows[2]!.reviewReason).toBe('inga uppgifter hittades');

    // Replies at the SMTP server.
    const [receipt] = sentTo(smtp, karin.from);
    expect(sentTo(smtp, karin.from)).toHaveLength(1);
    expectAutoReplyHeaders(receipt!, { messageId: complete.messageId, ref: caseK!.ref, kind: 'receipt' });
    expect(receipt!.parsed.subject).toBe(`Vi har tagit emot uppgifterna [${caseK!.ref}] Anmälan SITHS-kort Lisa Berg och Omar Said`);
    expect(receipt!.parsed.text).toContain('Lisa Berg, Enhetschef');
    expect(receipt!.parsed.text).toContain('Omar Said, Sjuksköterska');

    const toAnna = sentTo(smtp, anna.from);
    expect(toAnna).toHaveLength(1);
    missingInfoToAnna = toAnna[0]!;
    expect(missingInfoToAnna.envelope.to).toEqual([anna.from]);
    expectAutoReplyHeaders(missingInfoToAnna, { messageId: incomplete.messageId, ref: caseA!.ref, kind: 'missing_info' });
    expect(missingInfoToAnna.parsed.subject).toBe(`Komplettering behövs [${caseA!.ref}] Ny behörighet Lifecare SP`);
    const text = missingInfoToAnna.parsed.text ?? '';
    // Exactly what is missing, in Swedish: HSA-id and the Treserva/TES username; nothing else.
    expect(text).toContain('Erik Ek, Undersköterska:');
    expect(text).toContain('HSA-id saknas.');
    expect(text).toContain('Användarnamn i Treserva/TES saknas.');
    expect(text).not.toContain('Namn saknas');
    expect(text).not.toContain('Funktion saknas');
    expect(text).toContain(`Ärendet har nummer ${caseA!.ref}`);
    // The ready-to-fill block keeps what we have and leaves the missing values open.
    expect(text).toMatch(/Namn på behörig: Erik Ek\nFunktion: Undersköterska\nHSA-id:\nAnvändarnamn i Treserva\/TES:\n/);

    const ob = await ctx.database.db
      .select()
      .from(outbox)
      .where(inArray(outbox.caseId, [caseK!.id, caseA!.id]))
      .orderBy(outbox.id);
    expect(ob.map((o) => [o.kind, o.status, o.attempts])).toEqual([
      ['receipt', 'sent', 1],
      ['missing_info', 'sent', 1],
    ]);
    expect(ob[1]!.messageId).toBe(missingInfoToAnna.parsed.messageId);

    // Folders: INBOX empty, each mail where it belongs.
    expect(await subjectsIn(dovecot, U.flow, 'INBOX')).toEqual([]);
    expect(await subjectsIn(dovecot, U.flow, FOLDERS.processed)).toEqual([
      'Anmälan SITHS-kort Lisa Berg och Omar Said',
      'Ny behörighet Lifecare SP',
    ]);
    expect(await subjectsIn(dovecot, U.flow, FOLDERS.review)).toEqual(['Fråga om SITHS-kort']);
    expect(await subjectsIn(dovecot, U.flow, FOLDERS.ignored)).toEqual([]);
  });

  it('2. follow-ups thread to their case: one completes it, one that still lacks data gets one more reply', async () => {
    expect(missingInfoToAnna).toBeDefined();
    const [caseA] = await ctx.database.db.select().from(cases).where(eq(cases.sender, anna.from));
    // Anna fills in the form from our reply; Per's first mail lacks HSA-id and username.
    const annaAnswer = followUp({ ...anna, reply: missingInfoToAnna, persons: [{ ...erik }], extraRefs: [incomplete.messageId] });
    const perFirst = notification({
      ...per,
      subject: 'Behörighet Lifecare SP ny samordnare',
      persons: [{ name: sara.name, function: sara.function }],
    });
    const before = smtp.messages.length;
    await appendMany(dovecot, U.flow, [annaAnswer.raw, perFirst.raw]);
    expect((await pollOnce(ctx)).sent).toBe(2);

    // Anna's case is complete, with its task, and she gets a receipt in the same thread.
    const [caseA2] = await ctx.database.db.select().from(cases).where(eq(cases.id, caseA!.id));
    expect(caseA2?.status).toBe('complete');
    expect(await count(ctx.database, cases, eq(cases.sender, anna.from))).toBe(1);
    const ta = await ctx.database.db.select().from(tasks).where(eq(tasks.caseId, caseA!.id));
    expect(ta.map((t) => [t.name, t.function, t.hsaId, t.treservaUser])).toEqual([[erik.name, erik.function, erik.hsaId, erik.user]]);
    const [annaMsg] = await ctx.database.db.select().from(messages).where(eq(messages.messageId, annaAnswer.messageId));
    expect(annaMsg).toMatchObject({ caseId: caseA!.id, status: 'processed', inReplyTo: missingInfoToAnna.parsed.messageId });
    expect(ta[0]!.sourceMessageIds).toContain(annaMsg!.id);

    const toAnna = sentTo(smtp, anna.from);
    expect(toAnna).toHaveLength(2);
    receiptToAnna = toAnna[1]!;
    expectAutoReplyHeaders(receiptToAnna, { messageId: annaAnswer.messageId, ref: caseA!.ref, kind: 'receipt' });
    expect(refsOf(receiptToAnna)).toEqual(
      expect.arrayContaining([incomplete.messageId, missingInfoToAnna.parsed.messageId!, annaAnswer.messageId]),
    );
    expect(receiptToAnna.parsed.subject).toBe(`Vi har tagit emot uppgifterna [${caseA!.ref}] Ny behörighet Lifecare SP`);
    expect(receiptToAnna.parsed.text).toContain('Erik Ek, Undersköterska');

    // Per answers with the username only: still no HSA-id, so one more reply asking for just that.
    const [perReply] = sentTo(smtp, per.from);
    expect(perReply).toBeDefined();
    const [caseP] = await ctx.database.db.select().from(cases).where(eq(cases.sender, per.from));
    expect(caseP?.status).toBe('waiting');
    expect(perReply!.parsed.text).toContain('HSA-id saknas.');
    expect(perReply!.parsed.text).toContain('Användarnamn i Treserva/TES saknas.');
    const perAnswer = followUp({ ...per, reply: perReply!, persons: [{ user: sara.user }] });
    await appendMany(dovecot, U.flow, [perAnswer.raw]);
    expect((await pollOnce(ctx)).sent).toBe(1);

    const toPer = sentTo(smtp, per.from);
    expect(toPer).toHaveLength(2);
    const second = toPer[1]!;
    expectAutoReplyHeaders(second, { messageId: perAnswer.messageId, ref: caseP!.ref, kind: 'missing_info' });
    expect(second.parsed.subject).toBe(`Komplettering behövs [${caseP!.ref}] Behörighet Lifecare SP ny samordnare`);
    expect(second.parsed.text).toContain('HSA-id saknas.');
    expect(second.parsed.text).not.toContain('Användarnamn i Treserva/TES saknas');
    expect(second.parsed.text).toMatch(/Namn på behörig: Sara Lind\nFunktion: Samordnare\nHSA-id:\nAnvändarnamn i Treserva\/TES: sarlin\n/);
    const [pp] = await ctx.database.db.select().from(persons).where(eq(persons.caseId, caseP!.id));
    expect(pp).toMatchObject({ name: sara.name, treservaUser: sara.user, hsaId: null, status: 'incomplete' });
    expect(await count(ctx.database, persons, eq(persons.caseId, caseP!.id))).toBe(1);
    expect(await count(ctx.database, tasks, eq(tasks.caseId, caseP!.id))).toBe(0);
    expect(smtp.messages.length - before).toBe(3);

    expect(await subjectsIn(dovecot, U.flow, 'INBOX')).toEqual([]);
    expect(await subjectsIn(dovecot, U.flow, FOLDERS.processed)).toHaveLength(5);
  });

  it('3. an out-of-office and a bounce get no reply; the out-of-office lands in the ignored folder, the bounce in review (shown on our reply)', async () => {
    expect(receiptToAnna).toBeDefined();
    const [caseA] = await ctx.database.db.select().from(cases).where(eq(cases.sender, anna.from));
    const oofId = msgId('oof', 'hemtjanstnarke.se');
    // An out-of-office answering our receipt, quoting it (with field labels) — must not count as data.
    const oof = buildMail({
      ...anna,
      subject: `Automatiskt svar: ${receiptToAnna.parsed.subject ?? ''}`,
      messageId: oofId,
      inReplyTo: receiptToAnna.parsed.messageId!,
      references: [receiptToAnna.parsed.messageId!],
      headers: ['Auto-Submitted: auto-replied', 'X-Auto-Response-Suppress: All'],
      body: `Jag är ledig till och med den 1 december.\n\n${personBlock({ name: 'Erik Ek', function: 'Undersköterska' })}\n`,
    });
    const boundary = 'bnd-' + crypto.randomBytes(4).toString('hex');
    const bounceId = msgId('dsn', 'mx.hemtjanstnarke.se');
    const bounce = [
      'Return-Path: <>',
      'From: Mail Delivery System <MAILER-DAEMON@mx.hemtjanstnarke.se>',
      `To: ${OUR_ADDRESS}`,
      'Subject: Undelivered Mail Returned to Sender',
      `Date: ${new Date().toUTCString()}`,
      `Message-ID: ${bounceId}`,
      'MIME-Version: 1.0',
      `Content-Type: multipart/report; report-type=delivery-status; boundary="${boundary}"`,
      '',
      `--${boundary}`,
      'Content-Type: text/plain; charset=us-ascii',
      '',
      'This is the mail system at host mx.hemtjanstnarke.se.',
      "I'm sorry to have to inform you that your message could not be delivered.",
      '',
      `--${boundary}`,
      'Content-Type: message/delivery-status',
      '',
      'Reporting-MTA: dns; mx.hemtjanstnarke.se',
      '',
      'Final-Recipient: rfc822; anna.ek@hemtjanstnarke.se',
      'Action: failed',
      'Status: 5.1.1',
      '',
      `--${boundary}`,
      'Content-Type: text/rfc822-headers',
      '',
      `From: ${OUR_ADDRESS}`,
      `To: ${anna.from}`,
      `Subject: ${receiptToAnna.parsed.subject ?? ''}`,
      `Message-ID: ${receiptToAnna.parsed.messageId ?? ''}`,
      '',
      `--${boundary}--`,
      '',
    ].join('\r\n');
    const smtpBefore = smtp.messages.length;
    const outboxBefore = await count(ctx.database, outbox);
    await appendMany(dovecot, U.flow, [oof, bounce]);
    expect((await pollOnce(ctx)).sent).toBe(0);

    expect(smtp.messages.length).toBe(smtpBefore);
    expect(await count(ctx.database, outbox)).toBe(outboxBefore);
    const rows = await ctx.database.db
      .select()
      .from(messages)
      .where(inArray(messages.messageId, [oofId, bounceId]));
    expect(rows.map((r) => [r.messageId, r.kind, r.status]).sort()).toEqual(
      [
        [oofId, 'automated', 'ignored'],
        // A bounce of our reply waits in Att granska on its case, shown on the reply (issue 9).
        [bounceId, 'automated', 'review'],
      ].sort(),
    );
    // The out-of-office answers our receipt, so it is shown on the case; the case is unchanged.
    expect(rows.find((r) => r.messageId === oofId)?.caseId).toBe(caseA!.id);
    expect(rows.find((r) => r.messageId === bounceId)?.caseId).toBe(caseA!.id);
    const [bounced] = await ctx.database.db.select().from(outbox).where(eq(outbox.messageId, receiptToAnna.parsed.messageId!));
    expect(bounced!.bounce).toBe('5.1.1');
    const [caseAfter] = await ctx.database.db.select().from(cases).where(eq(cases.id, caseA!.id));
    expect(caseAfter?.status).toBe('complete');
    expect(await count(ctx.database, persons, eq(persons.caseId, caseA!.id))).toBe(1);

    expect(await subjectsIn(dovecot, U.flow, 'INBOX')).toEqual([]);
    expect(await subjectsIn(dovecot, U.flow, FOLDERS.ignored)).toEqual([`Automatiskt svar: ${receiptToAnna.parsed.subject ?? ''}`]);
    // The bounce waits for a person: in the review folder, as in Att granska.
    expect(await subjectsIn(dovecot, U.flow, FOLDERS.review)).toContain('Undelivered Mail Returned to Sender');
  });

  it('4. a mail appended while the Worker idles is processed within 2 s (IMAP IDLE)', async () => {
    const idleCtx = contextFor(U.idle);
    const worker = new Worker(idleCtx);
    const latencies: number[] = [];
    try {
      await worker.start();
      await sleep(1_000); // the start-up tick is done and the connection has gone into IDLE
      for (let i = 0; i < 3; i++) {
        const m = notification({
          from: `chef${i}@omsorgshuset.se`,
          fromName: `Chef ${i}`,
          subject: `Anmälan IDLE ${i}`,
          persons: [{ name: `Idle Person${'abc'[i]}`, function: 'Enhetschef', hsaId: hsaIdFor(100 + i), user: `idle${i}` }],
        });
        const t0 = Date.now();
        await appendMany(dovecot, U.idle, [m.raw]);
        await waitUntil(
          `message ${m.messageId} in the database`,
          async () =>
            (await idleCtx.database.db.select({ id: messages.id }).from(messages).where(eq(messages.messageId, m.messageId))).length > 0,
          5_000,
          50,
        );
        latencies.push(Date.now() - t0);
        await sleep(800); // back to IDLE before the next one
      }
      console.log(`IDLE latency APPEND→messages row: ${latencies.map((l) => `${l} ms`).join(', ')} (max ${Math.max(...latencies)} ms)`);
      for (const l of latencies) expect(l).toBeLessThan(2_000);
      // The worker also moved them and sent the receipts.
      await waitUntil('INBOX empty', async () => (await listMailbox(dovecot, U.idle, PASS, 'INBOX')).length === 0, 5_000, 100);
      expect(await subjectsIn(dovecot, U.idle, FOLDERS.processed)).toEqual(['Anmälan IDLE 0', 'Anmälan IDLE 1', 'Anmälan IDLE 2']);
      await waitUntil('3 receipts', async () => [0, 1, 2].every((i) => sentTo(smtp, `chef${i}@omsorgshuset.se`).length === 1), 5_000);
    } finally {
      await worker.stop();
    }
  });

  it('5. exactly once under SIGKILL: the real worker process killed mid-batch and restarted', async () => {
    const killPg = await freshPostgres();
    const killDb = await openDatabase({ url: killPg.url }); // migrated here, before the child starts
    const logFile = path.join(dataDir, 'kill-worker.log');
    let child: ChildProcess | null = null;
    try {
      const N = 40;
      const mails = Array.from({ length: N }, (_, i) => {
        const completeMail = i % 3 !== 0;
        const sender = `handlaggare${i % 8}@omsorgshuset.se`;
        const p: Person = {
          name: `Person Nummer${String.fromCharCode(65 + (i % 26))}${'xyz'[i % 3]}`,
          function: 'Undersköterska',
          user: `kill${i}`,
        };
        if (completeMail) p.hsaId = hsaIdFor(1_000 + i);
        return {
          complete: completeMail,
          sender,
          ...notification({ from: sender, fromName: `Handläggare ${i % 8}`, subject: `Anmälan SITHS-kort nummer ${i}`, persons: [p] }),
        };
      });
      const expectedTasks = mails.filter((m) => m.complete).length;
      const expectedMissing = N - expectedTasks;
      await appendMany(
        dovecot,
        U.kill,
        mails.map((m) => m.raw),
      );
      const killEnv = {
        PATH: process.env.PATH ?? '/usr/bin:/bin',
        HOME: process.env.HOME ?? os.tmpdir(),
        // Batches of 5 (one transaction each): the kill lands between committed batches and inside one.
        ...env(U.kill, { DATABASE_URL: killPg.url, LOG_LEVEL: 'info', REPLY_MAX_PER_RECIPIENT_PER_HOUR: '10000', INTAKE_BATCH: '5' }),
      };
      const smtpBefore = smtp.messages.length;
      const start = (): ChildProcess => {
        const out = fs.openSync(logFile, 'a');
        try {
          // Own process group: tsx runs node in a child process, and the kill must hit both.
          return spawn(path.join(ROOT, 'node_modules/.bin/tsx'), ['src/cli.ts', 'worker'], {
            cwd: ROOT,
            env: killEnv,
            detached: true,
            stdio: ['ignore', out, out],
          });
        } finally {
          fs.closeSync(out);
        }
      };
      const exited = (c: ChildProcess) =>
        c.exitCode !== null || c.signalCode !== null ? Promise.resolve() : new Promise<void>((resolve) => c.once('exit', () => resolve()));
      const rowsNow = () => count(killDb, messages);

      const logTail = () => (fs.existsSync(logFile) ? fs.readFileSync(logFile, 'utf8').split('\n').slice(-15).join('\n') : '(no log)');
      const alive = (c: ChildProcess, what: string) => {
        if (c.exitCode !== null || c.signalCode !== null)
          throw new Error(`${what} exited (${c.exitCode ?? c.signalCode}); log:\n${logTail()}`);
      };
      const sentNow = () => smtp.messages.length - smtpBefore;

      // Run 1: killed while taking in mail (after at least 5 committed rows).
      child = start();
      const first = child;
      const atKill = await waitUntil(
        '5 messages rows',
        async () => {
          alive(first, 'worker');
          const n = await rowsNow();
          return n >= 5 ? n : false;
        },
        30_000,
        10,
      );
      process.kill(-first.pid!, 'SIGKILL');
      await exited(first);
      const rowsAfterKill = await rowsNow();
      const inboxAfterKill = (await listMailbox(dovecot, U.kill, PASS, 'INBOX')).length;
      const sentAfterKill = sentNow();
      expect(rowsAfterKill).toBeLessThan(N); // really killed mid-batch

      // Run 2: killed while sending replies (after at least 5 arrived at the SMTP server).
      child = start();
      const second = child;
      const sentAtKill2 = await waitUntil(
        '5 replies at the SMTP server',
        async () => {
          alive(second, 'restarted worker');
          return sentNow() >= 5 ? sentNow() : false;
        },
        30_000,
        5,
      );
      process.kill(-second.pid!, 'SIGKILL');
      await exited(second);
      const sentAfterKill2 = sentNow();
      const [leftSending] = await killDb.db
        .select({ n: sql<number>`count(*)::int` })
        .from(outbox)
        .where(eq(outbox.status, 'sending'));

      // Run 3: to the end.
      child = start();
      const third = child;
      await waitUntil(
        'all mails processed and all replies sent',
        async () => {
          alive(third, 'restarted worker');
          if ((await rowsNow()) < N) return false;
          const open = await count(killDb, outbox, inArray(outbox.status, ['pending', 'sending']));
          if (open > 0) return false;
          return (await listMailbox(dovecot, U.kill, PASS, 'INBOX')).length === 0;
        },
        40_000,
        200,
      );
      // Graceful stop with SIGTERM: exit code 0.
      process.kill(third.pid!, 'SIGTERM');
      let timer: NodeJS.Timeout | undefined;
      const code = await Promise.race([
        exited(third).then(() => third.exitCode),
        new Promise<'timeout'>((resolve) => (timer = setTimeout(() => resolve('timeout'), 10_000))),
      ]).finally(() => clearTimeout(timer));
      if (code === 'timeout') process.kill(-third.pid!, 'SIGKILL');
      expect(code).toBe(0);
      child = null;

      const msgRows = await killDb.db.select({ messageId: messages.messageId, uid: messages.uid, status: messages.status }).from(messages);
      const taskRows = await killDb.db.select({ hsaId: tasks.hsaId }).from(tasks);
      const obRows = await killDb.db
        .select({ messageId: outbox.messageId, kind: outbox.kind, status: outbox.status, attempts: outbox.attempts })
        .from(outbox);
      const [audits] = await killDb.db
        .select({ n: sql<number>`count(*)::int` })
        .from(auditEvents)
        .where(like(auditEvents.action, 'message.%'));
      const received = smtp.messages.slice(smtpBefore).map((m) => m.parsed.messageId ?? '');
      const obIds = new Set(obRows.map((o) => o.messageId));
      const perId = new Map<string, number>();
      for (const id of received) perId.set(id, (perId.get(id) ?? 0) + 1);
      const duplicates = [...perId.values()].filter((n) => n > 1).length;
      const counts = {
        mails: N,
        rowsAtKill: atKill,
        rowsAfterKill,
        inboxAfterKill,
        repliesSentBeforeKill1: sentAfterKill,
        repliesAtKill2: sentAtKill2,
        repliesAfterKill2: sentAfterKill2,
        outboxLeftSendingByKill2: leftSending?.n ?? 0,
        messagesRows: msgRows.length,
        distinctMessageIds: new Set(msgRows.map((r) => r.messageId)).size,
        tasks: taskRows.length,
        expectedTasks,
        outboxRows: obRows.length,
        receipts: obRows.filter((o) => o.kind === 'receipt').length,
        missingInfo: obRows.filter((o) => o.kind === 'missing_info').length,
        smtpReceived: received.length,
        smtpDuplicateMessageIds: duplicates,
        resentAfterRecovery: obRows.filter((o) => o.attempts > 1).length,
      };
      console.log(`SIGKILL test counts: ${JSON.stringify(counts)}`);

      expect(counts.messagesRows).toBe(N);
      expect(counts.distinctMessageIds).toBe(N);
      expect(new Set(msgRows.map((r) => r.uid)).size).toBe(N);
      expect(msgRows.every((r) => r.status === 'processed')).toBe(true);
      expect(audits?.n).toBe(N); // one message.* audit event per mail: each committed exactly once
      expect(await count(killDb, cases)).toBe(N);
      expect(counts.tasks).toBe(expectedTasks);
      expect(new Set(taskRows.map((t) => t.hsaId)).size).toBe(expectedTasks);
      expect(counts.outboxRows).toBe(N);
      expect(counts.receipts).toBe(expectedTasks);
      expect(counts.missingInfo).toBe(expectedMissing);
      expect(obRows.every((o) => o.status === 'sent')).toBe(true);
      // Every reply reached the SMTP server; the documented window (a reply in 'sending' when the
      // process died) can send one Message-ID twice, never more.
      expect([...obIds].every((id) => perId.has(id))).toBe(true);
      expect(received.every((id) => obIds.has(id))).toBe(true);
      expect(duplicates).toBeLessThanOrEqual(1);
      expect(counts.smtpReceived).toBe(N + duplicates);
      expect(await subjectsIn(dovecot, U.kill, FOLDERS.processed)).toHaveLength(N);
      expect(await subjectsIn(dovecot, U.kill, 'INBOX')).toEqual([]);
    } finally {
      if (child?.pid && child.exitCode === null && child.signalCode === null) {
        try {
          process.kill(-child.pid, 'SIGKILL');
        } catch {
          /* gone */
        }
      }
      await killDb.close();
      await killPg.drop();
    }
  });

  it('6. a mail over MAIL_MAX_BYTES goes to Granskas with status review; the mail behind it is processed', async () => {
    // A separate context with a small limit (same database).
    const bigCtx = await createContext(parseConfig(env(U.big, { MAIL_MAX_BYTES: '20000' })));
    try {
      const filler = (kb: number) =>
        Array.from({ length: kb * 16 }, (_, i) =>
          `Rad ${String(i).padStart(5, '0')} med bifogad text som gor mejlet stort`.padEnd(63, '.'),
        ).join('\n');
      const mk = (kb: number, n: number) => {
        const m = notification({
          from: 'big@hemtjanstnarke.se',
          fromName: 'Bo Stor',
          subject: `Stor anmälan ${kb} KB`,
          persons: [{ name: 'Stor Person', function: 'Enhetschef', hsaId: hsaIdFor(200 + n), user: `stor${n}` }],
        });
        return { ...m, raw: m.raw.replace('Med vänliga hälsningar', `${filler(kb)}\n\nMed vänliga hälsningar`) };
      };
      const big50 = mk(50, 0);
      const big100 = mk(100, 1); // over the 64 KB the worker fetches of a too-large mail
      const behind = notification({
        from: 'liten@hemtjanstnarke.se',
        fromName: 'Li Ten',
        subject: 'Liten anmälan',
        persons: [{ name: 'Liten Person', function: 'Enhetschef', hsaId: hsaIdFor(210), user: 'liten' }],
      });
      expect(Buffer.byteLength(big50.raw)).toBeGreaterThan(50_000);
      expect(Buffer.byteLength(big100.raw)).toBeGreaterThan(100_000);
      await appendMany(dovecot, U.big, [big50.raw, big100.raw, behind.raw]);
      const smtpBefore = smtp.messages.length;
      expect((await pollOnce(bigCtx)).sent).toBe(1);

      for (const big of [big50, big100]) {
        const [row] = await bigCtx.database.db.select().from(messages).where(eq(messages.messageId, big.messageId));
        expect(row).toMatchObject({ status: 'review', errorCode: 'MAIL_TOO_LARGE', caseId: null });
        expect(row!.reviewReason).toMatch(/^för stort \(\d+ byte, gräns 20000\)$/);
        expect(row!.size).toBeGreaterThanOrEqual(Buffer.byteLength(big.raw));
        expect(row!.raw.length).toBeLessThan(2_000); // only the headers are kept; the original stays in Granskas
      }
      expect(await count(bigCtx.database, cases, eq(cases.sender, 'big@hemtjanstnarke.se'))).toBe(0);
      const [small] = await bigCtx.database.db.select().from(messages).where(eq(messages.messageId, behind.messageId));
      expect(small).toMatchObject({ status: 'processed', kind: 'notification' });
      expect(await count(bigCtx.database, tasks, eq(tasks.hsaId, hsaIdFor(210)))).toBe(1);
      expect(smtp.messages.slice(smtpBefore).map((m) => m.envelope.to[0])).toEqual(['liten@hemtjanstnarke.se']);

      expect(await subjectsIn(dovecot, U.big, 'INBOX')).toEqual([]);
      expect(await subjectsIn(dovecot, U.big, FOLDERS.review)).toEqual(['Stor anmälan 100 KB', 'Stor anmälan 50 KB']);
      expect(await subjectsIn(dovecot, U.big, FOLDERS.processed)).toEqual(['Liten anmälan']);
    } finally {
      await bigCtx.database.close();
    }
  });

  it('6a. a mail over a MiB is fetched a MiB at a time into shared memory: stored byte for byte and read (also one of exactly 2 MiB)', async () => {
    const largeCtx = contextFor(U.large, { MAIL_MAX_BYTES: String(8 << 20) });
    const person = (i: number, user: string) =>
      `Namn: Stor ${user}\r\nFunktion: Enhetschef\r\nHSA-id: ${hsaIdFor(i)}\r\nAnvändarnamn i Treserva: ${user}\r\n`;
    const a = Buffer.from(withAttachment(annaMail('large-a', 'Stor bilaga', person(230, 'stora')).toString(), 3));
    // Padded after the closing boundary (the epilogue, which readers skip) to exactly two pieces:
    // the last partial FETCH then answers nothing.
    const b0 = withAttachment(annaMail('large-b', 'Jämn storlek', person(231, 'storb')).toString(), 1);
    const pad = 2 * 1024 * 1024 - Buffer.byteLength(b0);
    expect(pad).toBeGreaterThan(0);
    const b = Buffer.concat([Buffer.from(b0), Buffer.from(`${'x'.repeat(76)}\r\n`.repeat(Math.floor(pad / 78)) + 'x'.repeat(pad % 78))]);
    expect(b.length).toBe(2 * 1024 * 1024);
    await appendMany(dovecot, U.large, [a, b]);
    await pollOnce(largeCtx);
    for (const [raw, user] of [
      [a, 'stora'],
      [b, 'storb'],
    ] as const) {
      const id = raw.toString('latin1').match(/^Message-ID: (<[^>]+>)/im)![1]!;
      const [row] = await largeCtx.database.db.select().from(messages).where(eq(messages.messageId, id));
      expect(row).toMatchObject({ status: 'processed', kind: 'notification', size: raw.length });
      expect((await readRaw(largeCtx.database.db, row!)).equals(raw)).toBe(true);
      expect(await count(largeCtx.database, tasks, eq(tasks.treservaUser, user))).toBe(1);
    }
    expect(await subjectsIn(dovecot, U.large, FOLDERS.processed)).toEqual(['Jämn storlek', 'Stor bilaga']);
  });

  it('6b. a mail that cannot be read (binary data, no headers) goes to Granskas with status review; the mail behind it is processed', async () => {
    // Fails until src/parse/classify.ts stops calling a mail without From automatic ('no-sender').
    // Not a mail at all: bytes of a ZIP file put in the mailbox. It has no From, Subject or
    // Message-ID. Correct: kept for IT staff to look at (review / Granskas), never silently filed
    // among automatic mail (ignored / Automatiskt), which nobody reads.
    let x = 12345;
    const junk = Buffer.from(
      Array.from({ length: 4096 }, (_, i) => {
        x = (x * 1103515245 + 12345) & 0x7fffffff;
        return i < 4 ? [0x50, 0x4b, 0x03, 0x04][i]! : (x >> 16) & 0xff;
      }),
    );
    const behind = notification({
      from: 'efter@hemtjanstnarke.se',
      fromName: 'Eva Efter',
      subject: 'Anmälan efter skräpet',
      persons: [{ name: 'Eva Efter', function: 'Enhetschef', hsaId: hsaIdFor(220), user: 'evaeft' }],
    });
    const badCtx = contextFor(U.big);
    const reviewBefore = (await listMailbox(dovecot, U.big, PASS, FOLDERS.review)).length;
    const ignoredBefore = (await listMailbox(dovecot, U.big, PASS, FOLDERS.ignored)).length;
    const [junkUid] = await appendMany(dovecot, U.big, [junk, behind.raw]);
    await pollOnce(badCtx);
    const rows = await badCtx.database.db
      .select()
      .from(messages)
      .where(eq(messages.mailbox, `${U.big}@127.0.0.1:${dovecot.port}/INBOX`))
      .orderBy(messages.uid);
    const junkRow = rows.find((r) => r.uid === junkUid); // the server may have normalised line ends, so not by bytes
    expect(junkRow).toBeDefined();
    expect({ status: junkRow!.status, kind: junkRow!.kind, reason: junkRow!.reviewReason, caseId: junkRow!.caseId }).toMatchObject({
      status: 'review',
      caseId: null,
    });
    expect(rows.find((r) => r.messageId === behind.messageId)).toMatchObject({ status: 'processed', kind: 'notification' });
    expect(await subjectsIn(dovecot, U.big, 'INBOX')).toEqual([]);
    expect((await listMailbox(dovecot, U.big, PASS, FOLDERS.ignored)).length).toBe(ignoredBefore);
    expect((await listMailbox(dovecot, U.big, PASS, FOLDERS.review)).length).toBe(reviewBefore + 1);
  });

  it('7. a transient SMTP failure (451) is retried and the reply is sent exactly once', async () => {
    const retryCtx = contextFor(U.retry);
    const lena = 'lena.sjo@vardaga.se';
    const m = notification({
      from: lena,
      fromName: 'Lena Sjö',
      subject: 'Anmälan Lifecare',
      persons: [{ name: 'Nils Sjö', function: 'Enhetschef', user: 'nilsjo' }],
    });
    await appendMany(dovecot, U.retry, [m.raw]);
    smtp.failNext(1);
    const t0 = Date.now();
    expect((await pollOnce(retryCtx)).sent).toBe(0);
    expect(sentTo(smtp, lena)).toHaveLength(0);
    const [row] = await retryCtx.database.db.select().from(outbox).where(eq(outbox.toAddr, lena));
    expect(row).toMatchObject({ kind: 'missing_info', status: 'pending', attempts: 1 });
    expect(row!.lastError).toMatch(/451/);
    expect(row!.nextAttemptAt.getTime()).toBeGreaterThan(t0 + 10_000); // backoff: 30 s ± 50 %

    // Not due yet with the real clock.
    const pieces = createMailPieces(retryCtx);
    try {
      expect(await pieces.sender.runOnce()).toBe(0);
    } finally {
      pieces.transport.close();
    }
    // With the clock two hours on, it is due: sent once.
    const later: AppContext = { ...retryCtx, now: () => new Date(Date.now() + 2 * 3_600_000) };
    const laterPieces = createMailPieces(later);
    try {
      expect(await laterPieces.sender.runOnce()).toBe(1);
      expect(await laterPieces.sender.runOnce()).toBe(0);
    } finally {
      laterPieces.transport.close();
    }
    const [after] = await retryCtx.database.db.select().from(outbox).where(eq(outbox.id, row!.id));
    expect(after).toMatchObject({ status: 'sent', attempts: 2, lastError: null });
    const got = sentTo(smtp, lena);
    expect(got).toHaveLength(1);
    expect(got[0]!.parsed.messageId).toBe(row!.messageId);
    const [caseL] = await retryCtx.database.db.select().from(cases).where(eq(cases.sender, lena));
    expectAutoReplyHeaders(got[0]!, { messageId: m.messageId, ref: caseL!.ref, kind: 'missing_info' });
    expect(await subjectsIn(dovecot, U.retry, FOLDERS.processed)).toEqual(['Anmälan Lifecare']);
  });

  it('8. a backlog of more than 100 due replies is sent by one worker tick, not 100 per 15 s', async () => {
    // Fails until src/worker.ts tick() goes round again while replies are still due.
    // 105 replies due when the worker starts (as after an SMTP outage). Its start-up tick should
    // send them all; today it sends 100 and the rest wait for the 15 s timer (100 more per 15 s).
    const N = 105;
    const backlogCtx = contextFor(U.backlog, { REPLY_MAX_PER_RECIPIENT_PER_HOUR: '10000' });
    for (let i = 0; i < N; i++) {
      const m = notification({
        from: `ko${i % 5}@attendo.se`,
        fromName: 'Kö',
        subject: `Anmälan i kö ${i}`,
        persons: [{ name: 'Kim Kö', function: 'Enhetschef', hsaId: hsaIdFor(3_000 + i), user: `ko${i}` }],
      });
      await ingestRaw(backlogCtx, Buffer.from(m.raw), { kind: 'ingest' });
    }
    const due = await count(backlogCtx.database, outbox, sql`${outbox.status} = 'pending' and ${outbox.toAddr} like 'ko%@attendo.se'`);
    expect(due).toBe(N);
    const smtpBefore = smtp.messages.length;
    const worker = new Worker(backlogCtx);
    try {
      const t0 = Date.now();
      await worker.start(); // returns when the start-up tick (intake, then sending) is done
      const sent = smtp.messages.length - smtpBefore;
      console.log(`backlog of ${N} due replies: ${sent} sent by the start-up tick (${Date.now() - t0} ms)`);
      expect(sent).toBe(N);
    } finally {
      await worker.stop();
      // Whatever the outcome, leave nothing due for the tests after this one.
      const pieces = createMailPieces(backlogCtx);
      await pieces.sender.runOnce(1_000);
      pieces.transport.close();
    }
  });

  it('rate limit: 7 incomplete mails from one sender → 5 replies sent, 2 suppressed (default 5 per hour)', async () => {
    const rateCtx = contextFor(U.rate);
    expect(rateCtx.config.replies.maxPerRecipientPerHour).toBe(5);
    const maja = 'maja.lind@omsorgshuset.se';
    const mails = Array.from({ length: 7 }, (_, i) =>
      notification({
        from: maja,
        fromName: 'Maja Lind',
        subject: `Anmälan ${i + 1} av 7`,
        persons: [{ name: `Kim Nummer${'ABCDEFG'[i]}`, function: 'Undersköterska' }],
      }),
    );
    await appendMany(
      dovecot,
      U.rate,
      mails.map((m) => m.raw),
    );
    await pollOnce(rateCtx);
    const rows = await rateCtx.database.db.select().from(outbox).where(eq(outbox.toAddr, maja)).orderBy(outbox.id);
    expect(rows).toHaveLength(7);
    expect(rows.map((r) => r.status)).toEqual(['sent', 'sent', 'sent', 'sent', 'sent', 'suppressed', 'suppressed']);
    expect(rows.slice(5).map((r) => r.suppressReason)).toEqual(['rate-limit-recipient', 'rate-limit-recipient']);
    expect(sentTo(smtp, maja)).toHaveLength(5);
    expect(await count(rateCtx.database, cases, eq(cases.sender, maja))).toBe(7);
    // Suppressed replies are never sent later.
    const pieces = createMailPieces({ ...rateCtx, now: () => new Date(Date.now() + 3 * 3_600_000) });
    try {
      expect(await pieces.sender.runOnce()).toBe(0);
    } finally {
      pieces.transport.close();
    }
    expect(sentTo(smtp, maja)).toHaveLength(5);
    expect(await subjectsIn(dovecot, U.rate, FOLDERS.processed)).toHaveLength(7);
  });
});
