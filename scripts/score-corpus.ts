/**
 * Scores the parser on a folder of `.eml` + `.expected.json` pairs by the rules in
 * ../shared/blind-corpus.md: per expected person, each of the four fields (value and its problem
 * codes) and `intent` count one; an extra person counts four wrong; `kind` and `autoReply` per file.
 *
 *   npx tsx scripts/score-corpus.ts DIR [DIR ...] [--details]
 *
 * With several folders, each folder's figures are printed before the total.
 */
import fs from 'node:fs';
import path from 'node:path';
import { parseMail } from '../src/parse';
import { DEFAULT_RULES_DIR, loadRules } from '../src/rules/load';
import { FIELDS, type FieldName, type PersonRecord } from '../src/parse/types';

interface ExpectedPerson {
  name: string | null;
  function: string | null;
  hsaId: string | null;
  treservaUser: string | null;
  intent?: string;
  problems: Array<{ field: string; code: string }>;
}
interface Expected {
  kind: string;
  autoReply: boolean;
  persons: ExpectedPerson[];
}

const norm = (v: string | null | undefined) => (v == null ? null : v.replace(/\s+/g, ' ').trim().toLowerCase());
// A common abbreviation and its full form are both right.
const FUNCTION_ABBREVIATIONS: Record<string, string> = {
  usk: 'undersköterska',
  ssk: 'sjuksköterska',
  ec: 'enhetschef',
  sjuksk: 'sjuksköterska',
};
const normFunction = (v: string | null | undefined) => {
  const n = norm(v);
  return n == null ? null : (FUNCTION_ABBREVIATIONS[n.replace(/\.$/, '')] ?? n);
};

function fieldRight(e: ExpectedPerson, g: PersonRecord, f: FieldName): boolean {
  const codes = (ps: Array<{ field: string; code: string }>) =>
    ps
      .filter((p) => p.field === f)
      .map((p) => p.code)
      .sort()
      .join(',');
  const value =
    f === 'function'
      ? normFunction(e[f]) === normFunction(g[f])
      : f === 'hsaId'
        ? norm(e[f]) === norm(g[f])
        : (e[f] ?? null) === (g[f] ?? null) || norm(e[f]) === norm(g[f]);
  return value && codes(e.problems) === codes(g.problems);
}

function personScore(e: ExpectedPerson, g: PersonRecord): number {
  return FIELDS.filter((f) => fieldRight(e, g, f)).length + ((e.intent ?? 'grant') === g.intent ? 1 : 0);
}

/** Aligns expected and parsed persons in order (an LCS over the per-pair score) and returns the points. */
function align(exp: ExpectedPerson[], got: PersonRecord[]): number {
  const n = exp.length;
  const m = got.length;
  const best: number[][] = Array.from({ length: n + 1 }, () => new Array<number>(m + 1).fill(0));
  for (let i = n - 1; i >= 0; i--) {
    for (let j = m - 1; j >= 0; j--) {
      best[i]![j] = Math.max(best[i + 1]![j]!, best[i]![j + 1]!, personScore(exp[i]!, got[j]!) + best[i + 1]![j + 1]!);
    }
  }
  return best[0]![0]!;
}

async function main(): Promise<void> {
  const args = process.argv.slice(2);
  const details = args.includes('--details');
  const dirs = args.filter((a) => !a.startsWith('--'));
  const rules = loadRules(process.env.RULES_DIR ?? DEFAULT_RULES_DIR);
  let right = 0;
  let total = 0;
  let kinds = 0;
  let autos = 0;
  let files = 0;
  const pct = (a: number, b: number) => (b === 0 ? '-' : ((100 * a) / b).toFixed(1) + ' %');
  const line = (r: number, t: number, k: number, a: number, n: number) =>
    `fields ${r}/${t} = ${pct(r, t)}; kind ${k}/${n}; autoReply ${a}/${n}`;
  for (const dir of dirs) {
    const before = [right, total, kinds, autos, files] as const;
    for (const f of fs
      .readdirSync(dir)
      .filter((x) => x.endsWith('.eml'))
      .sort()) {
      const exp = JSON.parse(fs.readFileSync(path.join(dir, f.replace(/\.eml$/, '.expected.json')), 'utf8')) as Expected;
      const { result } = await parseMail(fs.readFileSync(path.join(dir, f)), rules);
      const points = align(exp.persons, result.persons);
      const extra = Math.max(0, result.persons.length - exp.persons.length);
      const possible = exp.persons.length * 5 + extra * 4;
      right += points;
      total += possible;
      files++;
      const kindOk = result.kind === exp.kind;
      const autoOk = result.autoReply === exp.autoReply;
      kinds += kindOk ? 1 : 0;
      autos += autoOk ? 1 : 0;
      if (details && (points < possible || !kindOk || !autoOk)) {
        console.log(
          `\n## ${path.join(dir, f)}  ${points}/${possible}  kind ${result.kind}${kindOk ? '' : ` (want ${exp.kind})`}  autoReply ${result.autoReply}${autoOk ? '' : ' (wrong)'}`,
        );
        console.log('  want:', JSON.stringify(exp.persons.map((p) => ({ ...p, intent: p.intent ?? 'grant' }))));
        console.log(
          '  got: ',
          JSON.stringify(result.persons.map((p) => ({ ...p, problems: p.problems.map((x) => ({ field: x.field, code: x.code })) }))),
        );
      }
    }
    if (dirs.length > 1) {
      const [r, t, k, a, n] = before;
      console.log(`${path.basename(dir)}: ${line(right - r, total - t, kinds - k, autos - a, files - n)}`);
    }
  }
  console.log(line(right, total, kinds, autos, files));
}

void main();
