/**
 * The reply transport in its own thread (src/replies/threaded.ts), against a real SMTP server
 * (smtp-server): a reply arrives as the in-process transport sends it, SMTP's answers keep their
 * codes across the thread (5xx permanent, 4xx transient, down), an idle thread ends and the next
 * reply starts one, and without SMTP the replies are written to the outbox folder.
 */
import fsp from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import { parseConfig } from '../src/config';
import { AppError } from '../src/errors';
import { ThreadedTransport } from '../src/replies/threaded';
import { SmtpTransport, type OutboxRow } from '../src/replies/transport';
import { sleep } from './support/ports';
import { startSmtpSink, type SmtpSink } from './support/smtp';

jest.setTimeout(60_000);

let smtp: SmtpSink;
let dataDir: string;
let seq = 0;

const config = (extra: Record<string, string> = {}) =>
  parseConfig({
    DATA_DIR: dataDir,
    SMTP_HOST: '127.0.0.1',
    SMTP_PORT: String(smtp.port),
    SMTP_SECURE: 'false',
    HTTP_ENABLED: 'false',
    LOG_LEVEL: 'silent',
    ...extra,
  });

function row(over: Partial<OutboxRow> = {}): OutboxRow {
  const id = ++seq;
  return {
    id,
    caseId: 7,
    kind: 'missing_info',
    triggerKey: `t${id}`,
    toAddr: 'chef@omsorgshuset.se',
    subject: 'SV: Anmälan SITHS-kort',
    bodyText: 'Hej!\n\nHSA-id saknas för Kim Ek. Svara på detta mejl med uppgiften.\n\nVänliga hälsningar\nVård och stöd',
    messageId: `<reply-${id}@lifecare-intake.orebro.se>`,
    inReplyTo: '<prov-1@omsorgshuset.se>',
    references: ['<prov-1@omsorgshuset.se>'],
    status: 'sending',
    suppressReason: null,
    bounce: null,
    bouncedAt: null,
    attempts: 1,
    nextAttemptAt: new Date('2026-12-01T08:00:00Z'),
    lastError: null,
    claimedAt: new Date('2026-12-01T08:00:00Z'),
    claimedBy: 'test',
    createdAt: new Date('2026-12-01T08:00:00Z'),
    sentAt: null,
    ...over,
  };
}

const rejection = async (p: Promise<unknown>): Promise<AppError> => {
  const err = await p.then(
    () => null,
    (e: unknown) => e,
  );
  expect(err).toBeInstanceOf(AppError);
  return err as AppError;
};

beforeAll(async () => {
  smtp = await startSmtpSink();
  dataDir = await fsp.mkdtemp(path.join(os.tmpdir(), 'lci-threaded-'));
});

afterAll(async () => {
  await smtp?.stop();
  if (dataDir) await fsp.rm(dataDir, { recursive: true, force: true });
});

test('a reply sent from the thread arrives as the in-process transport sends it', async () => {
  smtp.clear();
  const threaded = new ThreadedTransport(config());
  const inProcess = new SmtpTransport(config());
  try {
    const a = row();
    const b = row();
    await threaded.send(a, 'VS-2026-0042');
    await inProcess.send(b, 'VS-2026-0042');
    const [x, y] = await smtp.waitFor(2);
    const header = (m: typeof x, name: string) => m!.parsed.headers.get(name);
    expect(x!.parsed.messageId).toBe(a.messageId);
    expect(y!.parsed.messageId).toBe(b.messageId);
    for (const name of [
      'from',
      'to',
      'subject',
      'in-reply-to',
      'references',
      'auto-submitted',
      'x-auto-response-suppress',
      'x-lifecare-intake',
      'date',
    ])
      expect([name, header(x, name)]).toEqual([name, header(y, name)]);
    expect(x!.parsed.text).toBe(y!.parsed.text);
    expect(x!.parsed.html).toBe(y!.parsed.html);
    expect(x!.envelope).toEqual(y!.envelope);
    expect(header(x, 'x-lifecare-intake')).toBe('VS-2026-0042; missing_info');
  } finally {
    threaded.close();
    inProcess.close();
  }
});

test("SMTP's answers keep their meaning across the thread: 5xx permanent, 4xx transient, gone is down", async () => {
  const t = new ThreadedTransport(config());
  try {
    smtp.failNext(1, 554);
    expect((await rejection(t.send(row(), 'VS-1'))).code).toBe('SMTP_PERMANENT');
    smtp.failNext(1, 451);
    const transient = await rejection(t.send(row(), 'VS-1'));
    expect(transient.code).toBe('SMTP_TRANSIENT');
    expect(transient.context.responseCode).toBe(451);
    await t.send(row(), 'VS-1'); // the next one goes through
    await t.probe();
  } finally {
    t.close();
  }
  // Nothing listens on the port: the transport is down, for a reply and for the probe.
  const down = new ThreadedTransport(config({ SMTP_PORT: '9' }));
  try {
    expect((await rejection(down.send(row(), 'VS-1'))).code).toBe('SMTP_DOWN');
    expect((await rejection(down.probe())).code).toBe('SMTP_DOWN');
  } finally {
    down.close();
  }
});

test('an idle thread ends; the next reply starts one and is sent', async () => {
  smtp.clear();
  const t = new ThreadedTransport(config(), 300);
  try {
    await t.send(row(), 'VS-2');
    expect(t.running).toBe(true);
    await sleep(800);
    expect(t.running).toBe(false);
    const r = row();
    await t.send(r, 'VS-2');
    const got = await smtp.waitFor(2);
    expect(got.map((m) => m.parsed.messageId)).toContain(r.messageId);
  } finally {
    t.close();
  }
  expect(t.running).toBe(false);
});

test('without SMTP the thread writes each reply to the outbox folder', async () => {
  const folderData = path.join(dataDir, 'folder');
  const t = new ThreadedTransport(parseConfig({ DATA_DIR: folderData, HTTP_ENABLED: 'false', LOG_LEVEL: 'silent' }));
  const outboxDir = path.join(folderData, 'outbox');
  try {
    expect(t.name).toBe('folder');
    const r = row();
    await t.send(r, 'VS-3');
    const file = path.join(outboxDir, `${String(r.id).padStart(6, '0')}-${r.kind}.eml`);
    const eml = await fsp.readFile(file, 'utf8');
    expect(eml).toContain(`Message-ID: ${r.messageId}`);
    expect(eml).toContain('X-Lifecare-Intake: VS-3; missing_info');
  } finally {
    t.close();
  }
});

test('a batch: the thread keeps each case in order and answers each reply; a refused one does not stop the rest; halted starts no more', async () => {
  smtp.clear();
  const t = new ThreadedTransport(config());
  try {
    const batch = [1, 2, 1, 2, 1, 2, 3].map((c) => ({ row: row({ caseId: c }), caseRef: `VS-${c}` }));
    smtp.failNext(1, 554); // the first DATA of all is refused for good
    const answers: Array<[number, string | null]> = [];
    await t.sendBatch(
      batch,
      async (r, err) => {
        answers.push([r.id, err === null ? null : (err as AppError).code]);
      },
      () => false,
    );
    expect(answers).toHaveLength(batch.length);
    expect(answers.filter(([, code]) => code === 'SMTP_PERMANENT')).toHaveLength(1);
    const got = await smtp.waitFor(batch.length - 1);
    for (const c of [1, 2, 3]) {
      const mine = batch.filter((b) => b.row.caseId === c).map((b) => b.row.messageId);
      const arrived = got.map((m) => m.parsed.messageId).filter((id) => mine.includes(id ?? ''));
      expect(arrived).toEqual(mine.filter((id) => arrived.includes(id))); // in the case's order
    }

    // Halted after the first answer: no further reply is started (those in hand finish).
    const more = Array.from({ length: 12 }, (_, i) => ({ row: row({ caseId: 10 + (i % 3) }), caseRef: 'VS-4' }));
    let answered = 0;
    await t.sendBatch(
      more,
      async () => {
        answered++;
      },
      () => answered >= 1,
    );
    expect(answered).toBeGreaterThanOrEqual(1);
    expect(answered).toBeLessThan(more.length);
  } finally {
    t.close();
  }
});
