/** A large mail's source is stored in pieces (never whole as one statement's text), read back whole, erased whole. */
import { eq } from 'drizzle-orm';
import { reprocess } from '../src/cases/reprocess';
import type { AppContext } from '../src/context';
import { INLINE_MAX, readRaw } from '../src/db/raw';
import { cases, messageParts, messages, tasks } from '../src/db/schema';
import { ingestRaw } from '../src/intake/process';
import { applyRetention } from '../src/retention';
import { openTestDatabase, testContext, type TestDatabase } from './support/db';
import { annaMail, withAttachment } from './support/mails';

const LISA = 'Namn: Lisa Berg\r\nFunktion: Enhetschef\r\nHSA-id: SE2321000016-4HK5\r\nAnvändarnamn i Treserva: lisber\r\n';

/** Lisa's notification with `mb` MiB of random bytes attached (base64). */
const withBytes = (mb: number) => Buffer.from(withAttachment(annaMail('large1', 'Nytt SITHS-kort', LISA).toString(), mb));

describe.each(['postgres', 'pglite'] as const)('a large mail on %s', (kind) => {
  let tdb: TestDatabase;
  let ctx: AppContext;
  beforeAll(async () => {
    tdb = await openTestDatabase(kind);
    ctx = testContext(tdb.database, { RETENTION_DAYS: '30' });
  });
  afterAll(async () => tdb?.cleanup());

  test('stored in pieces, read back byte for byte, parsed and reprocessed from them, erased with its case', async () => {
    const db = tdb.database.db;
    const raw = withBytes(3);
    expect(raw.length).toBeGreaterThan(INLINE_MAX);
    const o = await ingestRaw(ctx, raw, { kind: 'ingest' });
    expect(o.caseId).not.toBeNull();
    const [row] = await db.select().from(messages).where(eq(messages.id, o.messageRowId!));
    expect(row!.raw.length).toBe(0);
    expect(row!.size).toBe(raw.length);
    const parts = await db.select().from(messageParts).where(eq(messageParts.messageId, row!.id));
    expect(parts.length).toBe(Math.ceil(raw.length / (256 * 1024)));
    expect((await readRaw(db, row!)).equals(raw)).toBe(true);
    expect((await db.select().from(tasks).where(eq(tasks.caseId, o.caseId!))).map((t) => t.treservaUser)).toEqual(['lisber']);

    // Reprocessing reads the pieces: the reader finds Lisa again (nothing to change).
    const [again] = await reprocess(ctx, { messageId: row!.id }, { dryRun: true, actor: 'cli' });
    expect(again!.after).toMatchObject({ kind: 'notification', persons: 1 });

    // The same mail again is a duplicate (its hash), not a second row.
    expect((await ingestRaw(ctx, raw, { kind: 'ingest' })).status).toBe('duplicate');
    expect(await db.select({ id: messages.id }).from(messages).where(eq(messages.contentHash, row!.contentHash))).toHaveLength(1);

    await db
      .update(cases)
      .set({ status: 'done', updatedAt: new Date(Date.now() - 40 * 86_400_000) })
      .where(eq(cases.id, o.caseId!));
    expect((await applyRetention(ctx)).cases).toBe(1);
    expect(await db.select().from(messageParts).where(eq(messageParts.messageId, row!.id))).toHaveLength(0);
  });

  test('a mail under the limit stays in its row', async () => {
    const db = tdb.database.db;
    const raw = annaMail('small1', 'Nytt SITHS-kort', LISA);
    const o = await ingestRaw(ctx, raw, { kind: 'ingest' });
    const [row] = await db.select().from(messages).where(eq(messages.id, o.messageRowId!));
    expect(row!.raw.equals(raw)).toBe(true);
    expect(await db.select().from(messageParts).where(eq(messageParts.messageId, row!.id))).toHaveLength(0);
  });
});
