/**
 * The embedded default, end to end: no IMAP, no SMTP, no DATABASE_URL. createContext opens PGlite
 * in DATA_DIR/pglite; .eml files in DATA_DIR/maildrop are taken in by pollOnce (and by the Worker's
 * folder watch) and moved to maildrop/processed|review|ignored; replies are written as .eml files to
 * DATA_DIR/outbox. The CLI (ingest, poll, cases --json, tasks --json) runs as a child process
 * against its own DATA_DIR.
 */
import { execFile } from 'node:child_process';
import fs from 'node:fs';
import fsp from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import { promisify } from 'node:util';
import { eq, sql } from 'drizzle-orm';
import { simpleParser, type ParsedMail } from 'mailparser';
import { createContext } from '../src/app';
import { parseConfig } from '../src/config';
import type { AppContext } from '../src/context';
import { cases, messages, outbox, persons, tasks } from '../src/db/schema';
import { Worker, pollOnce } from '../src/worker';
import { sleep } from './support/ports';
import { OUR_ADDRESS, buildMail, hsaIdFor, msgId, notification, type Person } from './support/mails';

jest.setTimeout(60_000);

const run = promisify(execFile);
const ROOT = path.resolve(__dirname, '..');
const TSX = path.join(ROOT, 'node_modules/.bin/tsx');

// ---------------------------------------------------------------------------------------------
// Test mail (same shape as a provider's plain-text notification)

// ---------------------------------------------------------------------------------------------

const count = (c: AppContext, table: typeof messages | typeof outbox | typeof tasks | typeof cases | typeof persons) =>
  c.database.db
    .select({ n: sql<number>`count(*)::int` })
    .from(table)
    .then((r) => r[0]?.n ?? 0);

/** Puts a finished mail file in a folder: written beside it, dated a minute back, renamed in. */
async function drop(dir: string, name: string, content: string): Promise<void> {
  const tmp = path.join(dir, '..', `.${name}.${process.pid}.tmp`);
  await fsp.writeFile(tmp, content);
  const past = new Date(Date.now() - 60_000);
  await fsp.utimes(tmp, past, past);
  await fsp.rename(tmp, path.join(dir, name));
}

const emlIn = async (dir: string) => (await fsp.readdir(dir).catch(() => [] as string[])).filter((f) => f.endsWith('.eml')).sort();

async function readOutbox(dir: string): Promise<Array<{ file: string; mail: ParsedMail }>> {
  const files = await emlIn(dir);
  return Promise.all(files.map(async (file) => ({ file, mail: await simpleParser(await fsp.readFile(path.join(dir, file))) })));
}

const header = (m: ParsedMail, key: string): string => {
  const v = m.headers.get(key);
  return typeof v === 'string' ? v : v == null ? '' : JSON.stringify(v);
};
const refsOf = (m: ParsedMail): string[] => (Array.isArray(m.references) ? m.references : m.references ? m.references.split(/\s+/) : []);

function expectAutoReply(m: ParsedMail, a: { to: string; answers: string; ref: string; kind: string; messageId: string }): void {
  expect(m.from?.value[0]?.address).toBe(OUR_ADDRESS);
  const to = Array.isArray(m.to) ? m.to[0] : m.to;
  expect(to?.value[0]?.address).toBe(a.to);
  expect(m.messageId).toBe(a.messageId);
  expect(m.inReplyTo).toBe(a.answers);
  expect(refsOf(m)).toContain(a.answers);
  expect(header(m, 'auto-submitted')).toBe('auto-replied');
  expect(header(m, 'x-auto-response-suppress')).toBe('All');
  expect(header(m, 'x-lifecare-intake')).toBe(`${a.ref}; ${a.kind}`);
  expect(m.subject).toContain(`[${a.ref}]`);
}

describe('embedded mode: PGlite, maildrop folder, outbox folder', () => {
  let dataDir: string;
  let ctx: AppContext;
  let maildrop: string;
  let outboxDir: string;

  const karin = { from: 'karin.holm@omsorgshuset.se', fromName: 'Karin Holm' };
  const anna = { from: 'anna.ek@hemtjanstnarke.se', fromName: 'Anna Ek' };
  const lisa: Person = { name: 'Lisa Berg', function: 'Enhetschef', hsaId: hsaIdFor(1), user: 'lisber' };
  const erik: Person = { name: 'Erik Ek', function: 'Undersköterska', hsaId: hsaIdFor(2), user: 'eriek' };
  let complete: { raw: string; messageId: string };
  let incomplete: { raw: string; messageId: string };
  let missingInfo: ParsedMail;

  beforeAll(async () => {
    dataDir = await fsp.mkdtemp(path.join(os.tmpdir(), 'lci-we-'));
    // No DATABASE_URL, IMAP_HOST or SMTP_HOST: PGlite in DATA_DIR/pglite, maildrop, outbox folder.
    ctx = await createContext(
      parseConfig({
        DATA_DIR: dataDir,
        REPLY_PERSONAL_DATA: 'all',
        LOG_LEVEL: process.env.LCI_TEST_LOG_LEVEL ?? 'silent',
        POLL_CRON: '0 0 1 1 *',
      }),
    );
    maildrop = ctx.config.maildropDir;
    outboxDir = ctx.config.outboxDir;
    await fsp.mkdir(maildrop, { recursive: true });
  });

  afterAll(async () => {
    await ctx?.database.close().catch(() => {});
    if (dataDir) await fsp.rm(dataDir, { recursive: true, force: true });
  });

  it('uses PGlite in DATA_DIR/pglite and the maildrop and outbox folders in DATA_DIR', () => {
    expect(ctx.database.kind).toBe('pglite');
    expect(ctx.config.imap).toBeUndefined();
    expect(ctx.config.smtp).toBeUndefined();
    expect(maildrop).toBe(path.join(dataDir, 'maildrop'));
    expect(outboxDir).toBe(path.join(dataDir, 'outbox'));
    expect(fs.existsSync(path.join(dataDir, 'pglite', 'PG_VERSION'))).toBe(true);
  });

  it('processes dropped .eml files, files them and writes threaded replies to the outbox folder', async () => {
    complete = notification({ ...karin, subject: 'Anmälan SITHS-kort Lisa Berg', persons: [lisa] });
    incomplete = notification({
      ...anna,
      subject: 'Ny behörighet Lifecare SP',
      persons: [{ name: erik.name, function: erik.function, user: erik.user }],
    });
    const oof = buildMail({
      ...anna,
      subject: 'Automatiskt svar: Ny behörighet Lifecare SP',
      messageId: msgId('oof', 'hemtjanstnarke.se'),
      headers: ['Auto-Submitted: auto-replied'],
      body: 'Jag är ledig till och med den 1 december.',
    });
    const question = buildMail({
      from: 'maria.falk@vardaga.se',
      fromName: 'Maria Falk',
      subject: 'Fråga om kort',
      messageId: msgId('q', 'vardaga.se'),
      body: 'Hej!\r\n\r\nHur lång tid tar det?\r\n\r\nMvh Maria',
    });
    await drop(maildrop, '001-complete.eml', complete.raw);
    await drop(maildrop, '002-incomplete.eml', incomplete.raw);
    await drop(maildrop, '003-oof.eml', oof);
    await drop(maildrop, '004-question.eml', question);
    await fsp.writeFile(path.join(maildrop, 'notes.txt'), 'not a mail'); // left alone

    const { sent } = await pollOnce(ctx);
    expect(sent).toBe(2);

    expect(await emlIn(maildrop)).toEqual([]);
    expect(fs.existsSync(path.join(maildrop, 'notes.txt'))).toBe(true);
    expect(await emlIn(path.join(maildrop, 'processed'))).toEqual(['001-complete.eml', '002-incomplete.eml']);
    expect(await emlIn(path.join(maildrop, 'ignored'))).toEqual(['003-oof.eml']);
    expect(await emlIn(path.join(maildrop, 'review'))).toEqual(['004-question.eml']);

    const rows = await ctx.database.db.select().from(messages).orderBy(messages.id);
    expect(rows.map((r) => [r.source, r.subject, r.kind, r.status])).toEqual([
      ['maildrop', 'Anmälan SITHS-kort Lisa Berg', 'notification', 'processed'],
      ['maildrop', 'Ny behörighet Lifecare SP', 'notification', 'processed'],
      ['maildrop', 'Automatiskt svar: Ny behörighet Lifecare SP', 'automated', 'ignored'],
      ['maildrop', 'Fråga om kort', 'other', 'review'],
    ]);
    const [caseK] = await ctx.database.db.select().from(cases).where(eq(cases.sender, karin.from));
    const [caseA] = await ctx.database.db.select().from(cases).where(eq(cases.sender, anna.from));
    expect(caseK?.status).toBe('complete');
    expect(caseA?.status).toBe('waiting');
    const tk = await ctx.database.db.select().from(tasks);
    expect(tk.map((t) => [t.caseRef, t.name, t.function, t.hsaId, t.treservaUser, t.status])).toEqual([
      [caseK!.ref, lisa.name, lisa.function, lisa.hsaId, lisa.user, 'open'],
    ]);

    const ob = await ctx.database.db.select().from(outbox).orderBy(outbox.id);
    expect(ob.map((o) => [o.kind, o.toAddr, o.status])).toEqual([
      ['receipt', karin.from, 'sent'],
      ['missing_info', anna.from, 'sent'],
    ]);
    const files = await readOutbox(outboxDir);
    expect(files.map((f) => f.file)).toEqual([
      `${String(ob[0]!.id).padStart(6, '0')}-receipt.eml`,
      `${String(ob[1]!.id).padStart(6, '0')}-missing_info.eml`,
    ]);
    expect(fs.readdirSync(outboxDir).filter((f) => f.endsWith('.tmp'))).toEqual([]);

    const receipt = files[0]!.mail;
    expectAutoReply(receipt, {
      to: karin.from,
      answers: complete.messageId,
      ref: caseK!.ref,
      kind: 'receipt',
      messageId: ob[0]!.messageId,
    });
    expect(receipt.subject).toBe(`Vi har tagit emot uppgifterna [${caseK!.ref}] Anmälan SITHS-kort Lisa Berg`);
    expect(receipt.text).toContain('Lisa Berg, Enhetschef');

    missingInfo = files[1]!.mail;
    expectAutoReply(missingInfo, {
      to: anna.from,
      answers: incomplete.messageId,
      ref: caseA!.ref,
      kind: 'missing_info',
      messageId: ob[1]!.messageId,
    });
    expect(missingInfo.subject).toBe(`Komplettering behövs [${caseA!.ref}] Ny behörighet Lifecare SP`);
    expect(missingInfo.text).toContain('HSA-id saknas.');
    expect(missingInfo.text).not.toContain('Namn saknas');
    expect(missingInfo.text).not.toContain('Funktion saknas');
    expect(missingInfo.text).not.toContain('Användarnamn i Treserva/TES saknas');
    expect(missingInfo.text).toMatch(/Namn på behörig: Erik Ek\nFunktion: Undersköterska\nHSA-id:\nAnvändarnamn i Treserva\/TES: eriek\n/);
  });

  it('a follow-up file completes the case; running pollOnce again does nothing new', async () => {
    expect(missingInfo).toBeDefined();
    const answerId = msgId('svar', 'hemtjanstnarke.se');
    const quoted = (missingInfo.text ?? '')
      .split('\n')
      .map((l) => `> ${l}`)
      .join('\r\n');
    const answer = buildMail({
      ...anna,
      subject: `SV: ${missingInfo.subject ?? ''}`,
      messageId: answerId,
      inReplyTo: missingInfo.messageId!,
      references: [incomplete.messageId, missingInfo.messageId!],
      body: `Hej,\r\n\r\nHSA-id: ${erik.hsaId!}\r\n\r\nMvh Anna\r\n\r\nDen 1 dec. 2026 skrev ${OUR_ADDRESS}:\r\n${quoted}`,
    });
    await drop(maildrop, '005-answer.eml', answer);
    expect((await pollOnce(ctx)).sent).toBe(1);

    const [caseA] = await ctx.database.db.select().from(cases).where(eq(cases.sender, anna.from));
    expect(caseA?.status).toBe('complete');
    const ta = await ctx.database.db.select().from(tasks).where(eq(tasks.caseId, caseA!.id));
    expect(ta.map((t) => [t.name, t.function, t.hsaId, t.treservaUser])).toEqual([[erik.name, erik.function, erik.hsaId, erik.user]]);
    const [row] = await ctx.database.db.select().from(messages).where(eq(messages.messageId, answerId));
    expect(row).toMatchObject({ caseId: caseA!.id, status: 'processed' });
    expect(await emlIn(path.join(maildrop, 'processed'))).toEqual(['001-complete.eml', '002-incomplete.eml', '005-answer.eml']);

    const files = await readOutbox(outboxDir);
    expect(files).toHaveLength(3);
    const receipt = files[2]!.mail;
    expect(files[2]!.file).toMatch(/-receipt\.eml$/);
    const [ob] = await ctx.database.db.select().from(outbox).where(eq(outbox.messageId, receipt.messageId!));
    expectAutoReply(receipt, { to: anna.from, answers: answerId, ref: caseA!.ref, kind: 'receipt', messageId: ob!.messageId });
    expect(refsOf(receipt)).toEqual(expect.arrayContaining([incomplete.messageId, missingInfo.messageId!, answerId]));

    // Again: nothing new. Also a byte-identical copy of an already processed mail is not taken in twice.
    const snapshot = async () => ({
      messages: await count(ctx, messages),
      cases: await count(ctx, cases),
      persons: await count(ctx, persons),
      tasks: await count(ctx, tasks),
      outbox: await count(ctx, outbox),
      outboxFiles: (await emlIn(outboxDir)).join(','),
    });
    const before = await snapshot();
    expect((await pollOnce(ctx)).sent).toBe(0);
    expect(await snapshot()).toEqual(before);
    await drop(maildrop, '006-copy-of-001.eml', complete.raw);
    expect((await pollOnce(ctx)).sent).toBe(0);
    expect(await snapshot()).toEqual(before);
    expect(await emlIn(maildrop)).toEqual([]);
    expect(await emlIn(path.join(maildrop, 'processed'))).toContain('006-copy-of-001.eml');
  });

  it('the Worker takes a dropped file in at once (folder watch) and writes its reply', async () => {
    const worker = new Worker(ctx);
    try {
      await worker.start();
      const m = notification({
        from: 'bo.ny@attendo.se',
        fromName: 'Bo Ny',
        subject: 'Anmälan via mappen',
        persons: [{ name: 'Bo Ny', function: 'Enhetschef', hsaId: hsaIdFor(9), user: 'bony' }],
      });
      // Written beside the folder, then renamed in: the file appears whole.
      const t0 = Date.now();
      await drop(maildrop, '007-watched.eml', m.raw);
      const deadline = Date.now() + 5_000;
      while (!fs.existsSync(path.join(maildrop, 'processed', '007-watched.eml')) && Date.now() < deadline) await sleep(25);
      expect(fs.existsSync(path.join(maildrop, 'processed', '007-watched.eml'))).toBe(true);
      const latency = Date.now() - t0;
      while ((await emlIn(outboxDir)).length < 4 && Date.now() < deadline) await sleep(25);
      const files = await readOutbox(outboxDir);
      expect(files).toHaveLength(4);
      expect(files[3]!.mail.inReplyTo).toBe(m.messageId);
      console.log(`maildrop watch latency (rename → moved to processed/): ${latency} ms`);
      expect(latency).toBeLessThan(2_000);
    } finally {
      await worker.stop();
    }
  });

  it('a file still being written when the Worker sees it is not taken in half-written', async () => {
    // Fails until src/intake/maildrop.ts leaves files alone that are still being written.
    // A writer that creates the file and writes it in two steps (as a copy over a network share,
    // or a program writing line by line, does). The folder watch fires on the create. Correct:
    // the mail is taken in with all its bytes — not the first half, which lacks the HSA-id and the
    // username and would make the worker ask the provider again for data it sent.
    const worker = new Worker(ctx);
    try {
      await worker.start();
      const m = notification({
        from: 'lena.lang@vardaga.se',
        fromName: 'Lena Lång',
        subject: 'Anmälan skrivs långsamt',
        persons: [{ name: 'Lena Lång', function: 'Enhetschef', hsaId: hsaIdFor(30), user: 'lenlan' }],
      });
      const [last] = await ctx.database.db.select({ id: sql<number>`coalesce(max(${messages.id}), 0)::int` }).from(messages);
      const lastId = last?.id ?? 0;
      const cut = m.raw.indexOf('HSA-id:');
      const file = path.join(maildrop, '008-slow.eml');
      const fh = await fsp.open(file, 'w');
      try {
        await fh.write(m.raw.slice(0, cut));
        await sleep(500);
        await fh.write(m.raw.slice(cut));
      } finally {
        await fh.close();
      }
      // Wait until the worker has taken the file in and moved it (to whichever folder).
      const deadline = Date.now() + 10_000;
      const movedTo = () => ['processed', 'review', 'ignored'].find((d) => fs.existsSync(path.join(maildrop, d, '008-slow.eml')));
      while (!movedTo() && Date.now() < deadline) await sleep(50);
      await sleep(300);
      const fresh = await ctx.database.db
        .select()
        .from(messages)
        .where(sql`${messages.id} > ${lastId}`);
      expect({
        folder: movedTo(),
        rows: fresh.map((r) => ({ messageId: r.messageId, size: r.size, kind: r.kind, status: r.status, reason: r.reviewReason })),
      }).toEqual({
        folder: 'processed',
        rows: [{ messageId: m.messageId, size: Buffer.byteLength(m.raw), kind: 'notification', status: 'processed', reason: null }],
      });
      const [c] = await ctx.database.db.select().from(cases).where(eq(cases.sender, 'lena.lang@vardaga.se'));
      expect(c?.status).toBe('complete');
      const ob = await ctx.database.db.select({ kind: outbox.kind }).from(outbox).where(eq(outbox.caseId, c!.id));
      expect(ob.map((o) => o.kind)).toEqual(['receipt']);
    } finally {
      await worker.stop();
    }
  });

  it('CLI: ingest, poll, cases --json and tasks --json as child processes', async () => {
    const cliDir = await fsp.mkdtemp(path.join(os.tmpdir(), 'lci-we-cli-'));
    try {
      // Empty values guard against a .env in the working directory (the environment wins).
      const childEnv = {
        PATH: process.env.PATH ?? '/usr/bin:/bin',
        HOME: process.env.HOME ?? os.tmpdir(),
        DATA_DIR: cliDir,
        LOG_LEVEL: 'silent',
        DATABASE_URL: '',
        IMAP_HOST: '',
        SMTP_HOST: '',
        REPLY_PERSONAL_DATA: 'all',
      };
      const cli = (...args: string[]) => run(TSX, ['src/cli.ts', ...args], { cwd: ROOT, env: childEnv, timeout: 120_000 });
      const ok = notification({
        from: 'sven.dahl@vardaga.se',
        fromName: 'Sven Dahl',
        subject: 'Anmälan Lifecare SP Sven',
        persons: [{ name: 'Åsa Öberg', function: 'Sjuksköterska', hsaId: hsaIdFor(20), user: 'asaobe' }],
      });
      const missing = notification({
        from: 'ulla.berg@attendo.se',
        fromName: 'Ulla Berg',
        subject: 'Anmälan Lifecare SP Ulla',
        persons: [{ name: 'Ulla Berg', hsaId: hsaIdFor(21), user: 'ullber' }],
      });
      const fileOk = path.join(cliDir, 'ok.eml');
      const fileMissing = path.join(cliDir, 'missing.eml');
      await fsp.writeFile(fileOk, ok.raw);
      await fsp.writeFile(fileMissing, missing.raw);

      const ingest = await cli('ingest', fileOk, fileMissing);
      expect(ingest.stdout.split('\n').filter(Boolean)).toEqual(['ok.eml: processed (case 1)', 'missing.eml: processed (case 2)']);
      expect(fs.existsSync(path.join(cliDir, 'pglite', 'PG_VERSION'))).toBe(true);
      // ingest only queues the replies; poll sends them (to the outbox folder here).
      expect(await emlIn(path.join(cliDir, 'outbox'))).toEqual([]);
      const again = await cli('ingest', fileOk);
      expect(again.stdout.trim()).toBe('ok.eml: duplicate (case 1)');
      const poll = await cli('poll');
      expect(poll.stdout.trim()).toBe('poll done; replies sent: 2');
      const replies = await readOutbox(path.join(cliDir, 'outbox'));
      expect(replies.map((r) => [r.file.replace(/^\d+-/, ''), r.mail.inReplyTo])).toEqual([
        ['receipt.eml', ok.messageId],
        ['missing_info.eml', missing.messageId],
      ]);
      expect(replies[1]!.mail.text).toContain('Funktion saknas.');

      const casesOut = await cli('cases', '--json');
      const caseLines = casesOut.stdout
        .split('\n')
        .filter(Boolean)
        .map((l) => JSON.parse(l) as Record<string, unknown>);
      expect(caseLines).toHaveLength(2);
      const byFrom = new Map(caseLines.map((c) => [c.from, c]));
      expect(byFrom.get('sven.dahl@vardaga.se')).toMatchObject({
        status: 'complete',
        provider: 'Vardaga',
        knownProvider: true,
        // An unsigned mail and no trusted Authentication-Results: not verified (issue 8).
        senderVerified: false,
        subject: 'Anmälan Lifecare SP Sven',
        persons: [
          {
            name: 'Åsa Öberg',
            function: 'Sjuksköterska',
            hsaId: hsaIdFor(20),
            treservaUser: 'asaobe',
            status: 'task_created',
            problems: [],
          },
        ],
      });
      expect(byFrom.get('ulla.berg@attendo.se')).toMatchObject({
        status: 'waiting',
        persons: [
          {
            name: 'Ulla Berg',
            function: null,
            hsaId: hsaIdFor(21),
            treservaUser: 'ullber',
            status: 'incomplete',
            problems: [{ field: 'function', code: 'missing' }],
          },
        ],
      });
      for (const c of caseLines) expect(String(c.ref)).toMatch(/^LSP-\d{4}-\d{4}$/);

      const tasksOut = await cli('tasks', '--json');
      const taskLines = tasksOut.stdout
        .split('\n')
        .filter(Boolean)
        .map((l) => JSON.parse(l) as Record<string, unknown>);
      expect(taskLines).toEqual([
        expect.objectContaining({
          action: 'grant',
          senderVerified: false,
          status: 'open',
          name: 'Åsa Öberg',
          function: 'Sjuksköterska',
          hsaId: hsaIdFor(20),
          treservaUser: 'asaobe',
          provider: 'Vardaga',
          from: 'sven.dahl@vardaga.se',
        }),
      ]);
      expect(taskLines[0]!.caseRef).toBe(byFrom.get('sven.dahl@vardaga.se')!.ref);

      // Issue 8: a stranger quoting Ulla's case reference opens a case of his own, marked; Ulla's is unchanged.
      const ullaRef = String(byFrom.get('ulla.berg@attendo.se')!.ref);
      const fileHijack = path.join(cliDir, 'hijack.eml');
      await fsp.writeFile(
        fileHijack,
        buildMail({
          from: 'eve@evil.example',
          subject: `SV: Komplettering [${ullaRef}]`,
          messageId: msgId('h', 'evil.example'),
          body: 'Namn på behörig: Ulla Berg\nFunktion: Chef\n',
        }),
      );
      expect((await cli('ingest', fileHijack)).stdout.trim()).toBe('hijack.eml: processed (case 3)');
      const after = new Map(
        (await cli('cases', '--json')).stdout
          .split('\n')
          .filter(Boolean)
          .map((l) => JSON.parse(l) as Record<string, unknown>)
          .map((c) => [c.from, c]),
      );
      expect(after.get('eve@evil.example')).toMatchObject({
        refersTo: ullaRef,
        senderVerified: false,
        persons: [{ name: 'Ulla Berg', status: 'needs_review' }],
      });
      expect(after.get('ulla.berg@attendo.se')).toMatchObject({ persons: [{ name: 'Ulla Berg', function: null, status: 'incomplete' }] });
    } finally {
      await fsp.rm(cliDir, { recursive: true, force: true });
    }
  }, 600_000); // eight CLI child processes (tsx start and PGlite open each): slow on a loaded machine
});
