import fs from 'node:fs';
import path from 'node:path';
import { parseMail } from '../src/parse';
import { DEFAULT_RULES_DIR, loadRules } from '../src/rules/load';

/**
 * Table-driven: every fixture's parse result equals its .expected.json (see each folder's README).
 * `provider/` is the main corpus; `heldout/` was written later without sight of the parser.
 */

const rules = loadRules(DEFAULT_RULES_DIR);
const dirs = ['provider', 'heldout'].map((d) => path.join(__dirname, 'fixtures', d));
const fixtures = dirs.flatMap((dir) => fs.readdirSync(dir).filter((f) => f.endsWith('.eml')).sort().map((f) => path.join(dir, f)));

interface Expected {
  covers: string;
  kind: string;
  autoReply: boolean;
  persons: Array<{ name: string | null; function: string | null; hsaId: string | null; treservaUser: string | null; intent?: string; problems: Array<{ field: string; code: string }> }>;
}

test('the corpus has at least 60 fixtures', () => {
  expect(fixtures.length).toBeGreaterThanOrEqual(60);
});

describe.each(fixtures.map((f) => [path.relative(path.join(__dirname, 'fixtures'), f), f]))('%s', (_name, file) => {
  const expected = JSON.parse(fs.readFileSync(file.replace(/\.eml$/, '.expected.json'), 'utf8')) as Expected;

  test(expected.covers, async () => {
    const { result } = await parseMail(fs.readFileSync(file), rules);
    expect({
      kind: result.kind,
      autoReply: result.autoReply,
      persons: result.persons.map((p) => ({ ...p, problems: p.problems.map(({ field, code }) => ({ field, code })) })),
    }).toEqual({ kind: expected.kind, autoReply: expected.autoReply, persons: expected.persons.map((p) => ({ ...p, intent: p.intent ?? 'grant' })) });
    // Every problem carries a Swedish message fit to send, and never a personnummer.
    for (const p of result.persons) {
      for (const problem of p.problems) {
        expect(problem.message.length).toBeGreaterThan(20);
        expect(problem.message).not.toMatch(/(?<![\w-])\d{6,8}[-+]\d{4}\b/);
      }
    }
  });
});
