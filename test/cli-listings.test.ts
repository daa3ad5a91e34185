import { execFile } from 'node:child_process';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { promisify } from 'node:util';
import { openDatabase } from '../src/db/client';
import { cases, persons, tasks } from '../src/db/schema';

/**
 * `cases` and `tasks` through the real CLI (embedded database): a listing stops at 200 cases or 500
 * tasks unless `--limit N` or `--all` says otherwise, and a cut listing says so on stderr.
 */

const run = promisify(execFile);
const root = path.resolve(__dirname, '..');
const TSX = path.join(root, 'node_modules/.bin/tsx');
const CASES = 203;
const TASKS = 505;
let dataDir: string;

beforeAll(async () => {
  dataDir = fs.mkdtempSync(path.join(os.tmpdir(), 'lci-listings-'));
  const database = await openDatabase({ pgliteDir: path.join(dataDir, 'pglite') });
  try {
    const now = Date.now();
    const cs = await database.db
      .insert(cases)
      .values(
        Array.from({ length: CASES }, (_, i): typeof cases.$inferInsert => ({
          ref: `LSP-2026-${String(i + 1).padStart(4, '0')}`,
          status: 'complete',
          sender: `c${i}@listbolaget.se`,
          subject: `Lista ${i}`,
          updatedAt: new Date(now - i * 1000),
        })),
      )
      .returning();
    const ps = await database.db
      .insert(persons)
      .values(
        Array.from({ length: TASKS }, (_, i): typeof persons.$inferInsert => ({
          caseId: cs[i % CASES]!.id,
          name: `Person ${i}`,
          function: 'Undersköterska',
          hsaId: `SE2321000016-L${i}`,
          treservaUser: `user${i}`,
          status: 'task_created',
        })),
      )
      .returning();
    await database.db.insert(tasks).values(
      ps.map((p, i): typeof tasks.$inferInsert => ({
        personId: p.id,
        caseId: p.caseId,
        caseRef: cs[i % CASES]!.ref,
        name: p.name!,
        function: p.function!,
        hsaId: p.hsaId!,
        treservaUser: p.treservaUser!,
      })),
    );
  } finally {
    await database.close();
  }
});
afterAll(() => fs.rmSync(dataDir, { recursive: true, force: true }));

async function cli(...args: string[]): Promise<{ code: number; lines: string[]; stderr: string }> {
  const env = { PATH: process.env.PATH ?? '/usr/bin:/bin', HOME: os.tmpdir(), DATA_DIR: dataDir, LOG_LEVEL: 'silent', DATABASE_URL: '' };
  try {
    const r = await run(TSX, ['src/cli.ts', ...args], { cwd: root, env, maxBuffer: 64 << 20, timeout: 60_000 });
    return { code: 0, lines: r.stdout.split('\n').filter(Boolean), stderr: r.stderr };
  } catch (err) {
    const e = err as { code: number; stdout: string; stderr: string };
    return { code: e.code, lines: e.stdout.split('\n').filter(Boolean), stderr: e.stderr };
  }
}

const CUT = /only the first (\d+) shown, more exist \(--limit N or --all for more\)/;

test.each([
  [['cases', '--json'], 200, 'cases: only the first 200 shown'],
  [['cases', '--json', '--limit', '5'], 5, 'cases: only the first 5 shown'],
  [['cases', '--json', '--all'], CASES, null],
  [['tasks', '--json'], 500, 'tasks: only the first 500 shown'],
  [['tasks', '--json', '--all'], TASKS, null],
])('%j lists %d and says on stderr whether it was cut: %p', async (args, count, cutLine) => {
  const r = await cli(...args);
  expect(r.code).toBe(0);
  expect(r.lines).toHaveLength(count);
  for (const l of r.lines) expect(() => JSON.parse(l) as unknown).not.toThrow(); // stdout stays the listing only
  if (cutLine) expect(r.stderr).toContain(cutLine);
  else expect(r.stderr).not.toMatch(CUT);
});

test('the newest cases come first and the text listing is cut the same way', async () => {
  const r = await cli('cases', '--limit', '2');
  expect(r.code).toBe(0);
  expect(r.lines.filter((l) => l.startsWith('LSP-')).map((l) => l.split(' ')[0])).toEqual(['LSP-2026-0001', 'LSP-2026-0002']);
  expect(r.stderr).toMatch(CUT);
});

test.each([
  [['cases', '--limit', '0'], /--limit/],
  [['cases', '--limit', '3', '--all'], /--all.*--limit|--limit.*--all/],
])('%j is refused with a message naming the option', async (args, message) => {
  const r = await cli(...args);
  expect(r.code).not.toBe(0);
  expect(r.stderr).toMatch(message);
  expect(r.lines).toEqual([]);
});
