/**
 * Parser benchmark: parses the shared MIME corpus and the provider fixtures in-process,
 * several rounds, and prints time per mail and heap use. Also times the `parse` command
 * end to end (process start included) on the whole shared corpus.
 *   npx tsx scripts/bench-parse.ts [rounds]
 */
import { execFileSync } from 'node:child_process';
import fs from 'node:fs';
import path from 'node:path';
import { parseMail } from '../src/parse';
import { DEFAULT_RULES_DIR, loadRules } from '../src/rules/load';

const root = path.resolve(__dirname, '..');
const corpus = path.resolve(root, '../shared/corpus/mime-fixtures');
const fixtures = path.join(root, 'test/fixtures/provider');

function emlFiles(d: string): string[] {
  if (!fs.existsSync(d)) return [];
  return fs
    .readdirSync(d, { withFileTypes: true })
    .flatMap((e) => (e.isDirectory() ? emlFiles(path.join(d, e.name)) : e.name.endsWith('.eml') ? [path.join(d, e.name)] : []));
}

async function main(): Promise<void> {
  const rounds = Number(process.argv[2] ?? 5);
  const rules = loadRules(DEFAULT_RULES_DIR);
  for (const [label, files] of [
    ['shared corpus', emlFiles(corpus)],
    ['provider fixtures', emlFiles(fixtures)],
  ] as const) {
    const raws = files.map((f) => fs.readFileSync(f));
    const bytes = raws.reduce((n, r) => n + r.length, 0);
    for (const r of raws) await parseMail(r, rules); // warm-up
    const t0 = process.hrtime.bigint();
    for (let i = 0; i < rounds; i++) for (const r of raws) await parseMail(r, rules);
    const ms = Number(process.hrtime.bigint() - t0) / 1e6;
    const per = ms / (rounds * raws.length);
    console.log(
      `${label}: ${raws.length} mails, ${(bytes / 1024).toFixed(0)} KiB; ${rounds} rounds in ${ms.toFixed(0)} ms → ${per.toFixed(2)} ms/mail, ${(1000 / per).toFixed(0)} mails/s`,
    );
  }
  console.log(
    `heap used: ${(process.memoryUsage().heapUsed / 1048576).toFixed(1)} MiB, rss: ${(process.memoryUsage().rss / 1048576).toFixed(1)} MiB`,
  );

  const files = emlFiles(corpus);
  const t1 = Date.now();
  execFileSync(path.join(root, 'node_modules/.bin/tsx'), ['src/cli.ts', 'parse', ...files], {
    cwd: root,
    stdio: ['ignore', 'ignore', 'inherit'],
  });
  console.log(`parse command on the whole shared corpus (${files.length} files, process start included): ${Date.now() - t1} ms`);
}

void main();
