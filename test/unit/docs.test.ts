import fs from 'node:fs';
import path from 'node:path';
import { configSchema, ENV_OUTSIDE_SCHEMA } from '../../src/config';

/**
 * README's code tour and configuration table stay true: every path the tour names exists, every
 * variable src/config.ts reads is in the table and in .env.example, and the environment is read
 * nowhere but src/config.ts.
 */

const root = path.join(__dirname, '../..');
const readme = fs.readFileSync(path.join(root, 'README.md'), 'utf8');
const envExample = fs.readFileSync(path.join(root, '.env.example'), 'utf8');

function section(title: string): string {
  const start = readme.indexOf(`\n## ${title}\n`);
  expect(start).toBeGreaterThan(0);
  const end = readme.indexOf('\n## ', start + 1);
  return readme.slice(start, end < 0 ? undefined : end);
}

/** Table rows of a section: the cells of each `| a | b |` line below the header. */
function rows(text: string): string[][] {
  return text
    .split('\n')
    .filter((l) => l.startsWith('|') && !/^\|\s*-/.test(l))
    .slice(1)
    .map((l) => l.split(/(?<!\\)\|/).slice(1, -1));
}

const backticked = (cell: string) => [...cell.matchAll(/`([^`]+)`/g)].map((m) => m[1]!);
const looksLikePath = (s: string) => /^[\w.-]+(\/[\w.-]*)*$/.test(s) && (s.includes('/') || /\.\w+$/.test(s));

/** `src/parse/prose.ts`, `values.ts`: a bare file name lives beside the path before it in the cell. */
function tourPaths(): string[] {
  const paths: string[] = [];
  for (const [where = '', what = ''] of rows(section('Code tour'))) {
    let dir = '';
    for (const token of backticked(where).filter(looksLikePath)) {
      const full = token.includes('/') ? token : path.posix.join(dir, token);
      dir = full.endsWith('/') ? full : path.posix.dirname(full);
      paths.push(full);
    }
    // Paths named in the description from the repository root (`rules/senders.yaml`, `test/support/`).
    paths.push(...backticked(what).filter((t) => looksLikePath(t) && /^(src|rules|test|scripts|drizzle)\//.test(t)));
  }
  return paths;
}

test('the code tour names paths that exist', () => {
  const paths = tourPaths();
  expect(paths.length).toBeGreaterThan(40);
  expect(paths.filter((p) => !fs.existsSync(path.join(root, p)))).toEqual([]);
});

test('every module under src/ is in the code tour (by its path, or by its folder)', () => {
  const named = new Set(tourPaths().map((p) => p.replace(/\/$/, '')));
  const files: string[] = [];
  const walk = (dir: string) => {
    for (const e of fs.readdirSync(path.join(root, dir), { withFileTypes: true })) {
      const p = path.posix.join(dir, e.name);
      if (e.isDirectory()) walk(p);
      else if (p.endsWith('.ts')) files.push(p);
    }
  };
  walk('src');
  const covered = (f: string) => named.has(f) || named.has(path.posix.dirname(f));
  expect(files.filter((f) => !covered(f))).toEqual([]);
});

const variables = [...Object.keys(configSchema.shape), ...ENV_OUTSIDE_SCHEMA];

test('every variable src/config.ts reads is in the README configuration table', () => {
  const documented = new Set(rows(section('Configuration')).flatMap(([name = '']) => backticked(name)));
  expect(variables.filter((v) => !documented.has(v))).toEqual([]);
  // and the table documents nothing the program does not read
  expect([...documented].filter((v) => !variables.includes(v))).toEqual([]);
});

test('every variable src/config.ts reads is in .env.example (set, or commented out)', () => {
  const listed = new Set([...envExample.matchAll(/^#?\s*([A-Z][A-Z0-9_]+)=/gm)].map((m) => m[1]!));
  expect(variables.filter((v) => !listed.has(v))).toEqual([]);
  expect([...listed].filter((v) => !variables.includes(v))).toEqual([]);
});

test('process.env is read only in src/config.ts', () => {
  const readers: string[] = [];
  const walk = (dir: string) => {
    for (const e of fs.readdirSync(path.join(root, dir), { withFileTypes: true })) {
      const p = path.posix.join(dir, e.name);
      if (e.isDirectory()) walk(p);
      else if (p.endsWith('.ts') && /process\.env\b/.test(fs.readFileSync(path.join(root, p), 'utf8'))) readers.push(p);
    }
  };
  walk('src');
  expect(readers).toEqual(['src/config.ts']);
});
