import fs from 'node:fs';
import path from 'node:path';
import { parseMail } from '../src/parse';
import { DEFAULT_RULES_DIR, loadRules } from '../src/rules/load';

/**
 * Table-driven: every fixture's parse result equals its .expected.json (see each folder's README).
 * `provider/` is the main corpus; `heldout/` and `blind-NN/` were written without sight of the
 * parser and scored once before joining (first-run figures: fixtures/README.md). Files listed in
 * `known-misses.json` are checked to still differ, so the list stays true.
 */

const rules = loadRules(DEFAULT_RULES_DIR);
const root = path.join(__dirname, 'fixtures');
const dirs = fs
  .readdirSync(root)
  .filter((d) => d === 'provider' || d === 'heldout' || /^blind-\d\d$/.test(d))
  .sort();
const knownMisses = JSON.parse(fs.readFileSync(path.join(root, 'known-misses.json'), 'utf8')) as Record<string, string[] | string>;
const missed = new Set(
  Object.entries(knownMisses).flatMap(([dir, files]) => (Array.isArray(files) ? files.map((f) => `${dir}/${f}`) : [])),
);
const fixtures = dirs.flatMap((d) =>
  fs
    .readdirSync(path.join(root, d))
    .filter((f) => f.endsWith('.eml'))
    .sort()
    .map((f) => `${d}/${f}`),
);

interface Expected {
  covers: string;
  kind: string;
  autoReply: boolean;
  persons: Array<{
    name: string | null;
    function: string | null;
    hsaId: string | null;
    treservaUser: string | null;
    intent?: string;
    problems: Array<{ field: string; code: string }>;
  }>;
}

const norm = (v: string | null) => (v == null ? null : v.replace(/\s+/g, ' ').trim().toLowerCase());
// A common abbreviation and its full form are both right (../shared/blind-corpus.md).
const ABBREVIATIONS: Record<string, string> = { usk: 'undersköterska', ssk: 'sjuksköterska', ec: 'enhetschef' };
const fn = (v: string | null) => (v == null ? null : (ABBREVIATIONS[norm(v)!] ?? norm(v)));

/** What is compared: values as written (case and spacing folded for names, functions and HSA-ids), problem codes, intent. */
function shape(kind: string, autoReply: boolean, persons: Expected['persons']) {
  return {
    kind,
    autoReply,
    persons: persons.map((p) => ({
      name: norm(p.name),
      function: fn(p.function),
      hsaId: norm(p.hsaId),
      treservaUser: p.treservaUser,
      intent: p.intent ?? 'grant',
      problems: p.problems.map(({ field, code }) => `${field}:${code}`).sort(),
    })),
  };
}

function strict(kind: string, autoReply: boolean, persons: Expected['persons']) {
  return {
    kind,
    autoReply,
    persons: persons.map((p) => ({ ...p, intent: p.intent ?? 'grant', problems: p.problems.map(({ field, code }) => ({ field, code })) })),
  };
}

test('the corpus has its sets: provider, held-out and at least 10 blind batches of 50', () => {
  expect(fixtures.filter((f) => f.startsWith('blind-')).length).toBeGreaterThanOrEqual(500);
  expect(dirs).toEqual(expect.arrayContaining(['provider', 'heldout']));
});

test('every known miss names a fixture that exists', () => {
  for (const f of missed) expect(fixtures).toContain(f);
});

describe.each(fixtures)('%s', (name) => {
  const file = path.join(root, name);
  const expected = JSON.parse(fs.readFileSync(file.replace(/\.eml$/, '.expected.json'), 'utf8')) as Expected;

  test(expected.covers.slice(0, 200), async () => {
    const { result } = await parseMail(fs.readFileSync(file), rules);
    // The first sets were written to the letter (function capitalised); blind batches by the blind-corpus rules.
    const exact = !name.startsWith('blind-');
    const got = exact ? strict(result.kind, result.autoReply, result.persons) : shape(result.kind, result.autoReply, result.persons);
    const want = exact
      ? strict(expected.kind, expected.autoReply, expected.persons)
      : shape(expected.kind, expected.autoReply, expected.persons);
    if (missed.has(name)) expect(got).not.toEqual(want);
    else expect(got).toEqual(want);
    // Every problem carries a Swedish message fit to send, and never a personnummer.
    for (const p of result.persons) {
      for (const problem of p.problems) {
        expect(problem.message.length).toBeGreaterThan(20);
        expect(problem.message).not.toMatch(/(?<![\w-])\d{6,8}[-+]\d{4}\b/);
      }
    }
  });
});
