import { eq } from 'drizzle-orm';
import type { AppContext } from '../src/context';
import { cases, outbox, persons, tasks } from '../src/db/schema';
import { ingestRaw } from '../src/intake/process';
import { parseMail } from '../src/parse';
import type { PersonRecord } from '../src/parse/types';
import { hsaTokens, markUnsure } from '../src/parse/unsure';
import { DEFAULT_RULES_DIR, loadRules } from '../src/rules/load';
import { openTestDatabase, testContext, type TestDatabase } from './support/db';
import { annaMail } from './support/mails';

/** Issue 7, item 5: where the reader is unsure, IT staff see the candidates; the provider is not told "saknas". */

const rules = loadRules(DEFAULT_RULES_DIR);

const mail = (id: string, body: string) => annaMail(id, 'Nya SITHS-kort', body);

// Two persons; the second card's HSA-id stands in a line of its own that names nobody.
const UNPLACED =
  'Hej!\r\n\r\nNamn: Anna Berg\r\nFunktion: usk\r\nAnvändarnamn: annber\r\n\r\n' +
  'Namn: Bo Ek\r\nFunktion: usk\r\nHSA-id: SE5562716042-BE1\r\nAnvändarnamn: boek\r\n\r\n' +
  'Det andra kortet som kom: SE5562716042-AB12\r\n\r\nMvh Anna\r\n';

describe('hsaTokens and markUnsure', () => {
  test.each([
    ['SE5562716042-AB12 och se 556271 6042 - ab13.', ['SE5562716042-AB12', 'SE5562716042-AB13']],
    ['HSA-ID:t:SE5562716042-AB12', ['SE5562716042-AB12']],
    ['ett kortnummer 9752270000045821 är inget HSA-id', []],
    ['XSE5562716042-AB12 is glued to a word', []],
  ])('%s', (line, want) => expect(hsaTokens([line])).toEqual(want));

  const person = (hsaId: string | null, problem: 'missing' | 'invalid' | null): PersonRecord => ({
    name: 'Anna Berg',
    function: 'usk',
    hsaId,
    treservaUser: 'annber',
    intent: 'grant' as const,
    problems: problem ? [{ field: 'hsaId' as const, code: problem, message: '' }] : [],
  });

  test.each([
    ['a missing HSA-id, one valid token nobody got', person(null, 'missing'), ['SE5562716042-AB12'], ['SE5562716042-AB12']],
    [
      'a wrong HSA-id read short ("…-BÖ12" read as "…-B"): not a candidate',
      person('SE5562716042-BÖ12', 'invalid'),
      ['SE5562716042-BÖ12'],
      null,
    ],
    ['a token failing the check digit: not a candidate', person(null, 'missing'), ['SE5562716043-AB12'], null],
    ['a complete person: nothing to doubt', person('SE5562716042-BE1', null), ['SE5562716042-AB12'], null],
  ])('%s', (_what, p, lines, want) => {
    markUnsure([p], lines);
    expect(p.unsure?.[0]?.candidates ?? null).toEqual(want);
  });

  test('parse: the unsure person is marked and the mail asks the provider for nothing', async () => {
    const { result } = await parseMail(mail('p1', UNPLACED), rules);
    expect(result.persons.map((p) => p.unsure?.[0]?.candidates ?? null)).toEqual([['SE5562716042-AB12'], null]);
    expect(result.autoReply).toBe(false);
  });
});

describe.each(['postgres', 'pglite'] as const)('an unsure person in the pipeline on %s', (kind) => {
  let tdb: TestDatabase;
  let ctx: AppContext;
  beforeAll(async () => {
    tdb = await openTestDatabase(kind);
    ctx = testContext(tdb.database, { REPLY_PERSONAL_DATA: 'all' }, { rules });
  });
  afterAll(async () => tdb?.cleanup());

  test('goes to IT staff with the candidate shown; no "saknas" reply, no task for it; the sure person gets hers', async () => {
    const o = await ingestRaw(ctx, mail('u1', UNPLACED), { kind: 'ingest' });
    const db = tdb.database.db;
    const ps = await db.select().from(persons).where(eq(persons.caseId, o.caseId!)).orderBy(persons.id);
    expect(ps.map((p) => p.status)).toEqual(['needs_review', 'task_created']);
    expect(ps[0]!.reviewReason).toContain('SE5562716042-AB12');
    const [c] = await db.select().from(cases).where(eq(cases.id, o.caseId!));
    expect(c!.status).toBe('review');
    const replies = await db.select().from(outbox).where(eq(outbox.caseId, o.caseId!));
    expect(replies.map((r) => r.kind)).not.toContain('missing_info');
    expect(await db.select().from(tasks).where(eq(tasks.caseId, o.caseId!))).toHaveLength(1);
  });
});
