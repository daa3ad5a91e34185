import fs from 'node:fs';
import path from 'node:path';
import { sql } from 'drizzle-orm';
import type { AppContext } from '../src/context';
import { messages } from '../src/db/schema';
import { ingestRaw } from '../src/intake/process';
import { openTestDatabase, testContext, type TestDatabase } from './support/db';

/** The whole pipeline survives the shared corpus of malformed real-world mail: every mail is stored, none lost. */

const corpus = path.resolve(__dirname, '../../shared/corpus/mime-fixtures');
function emlFiles(d: string): string[] {
  return fs
    .readdirSync(d, { withFileTypes: true })
    .flatMap((e) => (e.isDirectory() ? emlFiles(path.join(d, e.name)) : e.name.endsWith('.eml') ? [path.join(d, e.name)] : []));
}

let tdb: TestDatabase;
let ctx: AppContext;
beforeAll(async () => {
  tdb = await openTestDatabase('postgres');
  ctx = testContext(tdb.database, { REPLY_PERSONAL_DATA: 'all' });
});
afterAll(async () => tdb?.cleanup());

test('every corpus mail is stored once, with a status; delivery reports are ignored; bytes with NUL are no obstacle', async () => {
  const files = emlFiles(corpus).sort();
  const extra = Buffer.concat([
    Buffer.from(
      'From: a@omsorgshuset.se\r\nSubject: nul\0byte\r\nContent-Type: text/plain\r\n\r\nNamn: Lisa\0 Berg\r\nHSA-id: SE2321000016-4HK5\0\r\n',
    ),
  ]);
  const outcomes = [];
  for (const f of files) outcomes.push({ f, o: await ingestRaw(ctx, fs.readFileSync(f), { kind: 'ingest' }) });
  const nul = await ingestRaw(ctx, extra, { kind: 'ingest' });
  expect(nul.messageRowId).not.toBeNull();

  // Each file is a stored message, or a duplicate (same bytes, or same Message-ID and sender: the
  // corpus reuses some) pointing at one.
  const rows = await tdb.database.db.select({ id: messages.id }).from(messages);
  const ids = new Set(rows.map((r) => r.id));
  const fresh = outcomes.filter(({ o }) => o.status !== 'duplicate');
  expect(rows.length).toBe(fresh.length + 1);
  for (const { f, o } of outcomes) {
    expect(ids.has(o.messageRowId!)).toBe(true);
    if (f.includes('/multipart_report_emails/')) expect(o.folder).toBe('ignored');
  }
  expect(fresh.length).toBeGreaterThan(files.length / 2);
  const byFolder = outcomes.reduce<Record<string, number>>((acc, { o }) => ({ ...acc, [o.folder]: (acc[o.folder] ?? 0) + 1 }), {});
  console.log(`shared corpus through the pipeline: ${files.length} files → ${JSON.stringify(byFolder)}`);
});

test('a mail that cannot be stored as parsed is kept raw for review, and the mail behind it goes through', async () => {
  const db = tdb.database.db;
  // A fault injected in the real database: storing this person fails.
  await db.execute(
    sql.raw(`
    create function lci_test_fault() returns trigger language plpgsql as $$
    begin if new.name = 'Krasch Provsson' then raise exception 'injected fault'; end if; return new; end $$;
    create trigger lci_test_fault before insert on persons for each row execute function lci_test_fault();`),
  );
  const mk = (id: string, name: string) =>
    Buffer.from(
      `From: a@omsorgshuset.se\r\nTo: vardochstod@orebro.se\r\nSubject: Anmälan ${id}\r\nMessage-ID: <${id}@omsorgshuset.se>\r\nContent-Type: text/plain; charset=utf-8\r\n\r\nNamn: ${name}\r\nFunktion: Planerare\r\n`,
    );
  const bad = await ingestRaw(ctx, mk('fault-1', 'Krasch Provsson'), { kind: 'ingest' });
  const good = await ingestRaw(ctx, mk('fault-2', 'Vanlig Person'), { kind: 'ingest' });
  expect(bad).toMatchObject({ status: 'review', folder: 'review', caseId: null });
  const [row] = await db
    .select()
    .from(messages)
    .where(sql`${messages.id} = ${bad.messageRowId}`);
  expect(row!.reviewReason).toMatch(/^kunde inte sparas/);
  expect(row!.raw.toString()).toContain('Krasch Provsson');
  expect(good).toMatchObject({ status: 'processed' });
  expect(good.caseId).not.toBeNull();
});
