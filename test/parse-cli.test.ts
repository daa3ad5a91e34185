import { execFile } from 'node:child_process';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { promisify } from 'node:util';

/** The `parse` command's public contract, over the shared corpus of malformed real-world mail. */

const run = promisify(execFile);
const root = path.resolve(__dirname, '..');
const corpus = path.resolve(root, '../shared/corpus/mime-fixtures');

function emlFiles(d: string): string[] {
  return fs
    .readdirSync(d, { withFileTypes: true })
    .flatMap((e) => (e.isDirectory() ? emlFiles(path.join(d, e.name)) : e.name.endsWith('.eml') ? [path.join(d, e.name)] : []));
}

async function parse(files: string[]): Promise<{ lines: Array<Record<string, unknown>>; code: number }> {
  try {
    const { stdout } = await run(path.join(root, 'node_modules/.bin/tsx'), ['src/cli.ts', 'parse', ...files], {
      cwd: root,
      maxBuffer: 64 << 20,
      timeout: 120_000,
    });
    return {
      lines: stdout
        .trim()
        .split('\n')
        .map((l) => JSON.parse(l) as Record<string, unknown>),
      code: 0,
    };
  } catch (err) {
    const e = err as { stdout: string; code: number };
    return {
      lines: e.stdout
        .trim()
        .split('\n')
        .filter(Boolean)
        .map((l) => JSON.parse(l) as Record<string, unknown>),
      code: e.code,
    };
  }
}

test('every file of the shared corpus yields one contract line, in order, and nothing hangs', async () => {
  const files = emlFiles(corpus).sort();
  expect(files.length).toBeGreaterThanOrEqual(100);
  const { lines, code } = await parse(files);
  expect(code).toBe(0);
  expect(lines.map((l) => l.file)).toEqual(files);
  for (const l of lines) {
    expect(Object.keys(l).sort()).toEqual(['autoReply', 'file', 'from', 'kind', 'messageId', 'persons', 'subject'].sort());
    expect(['notification', 'automated', 'other']).toContain(l.kind);
    expect(typeof l.subject).toBe('string');
    expect(l.autoReply).toBe(l.kind === 'notification' && (l.persons as Array<{ problems: unknown[] }>).some((p) => p.problems.length > 0));
    if (l.from !== null) expect(l.from).toBe((l.from as string).toLowerCase());
  }
  // Delivery reports are automated mail: never answered.
  const reports = lines.filter((l) => String(l.file).includes('/multipart_report_emails/'));
  expect(reports.length).toBeGreaterThanOrEqual(5);
  for (const r of reports) expect(r.kind).toBe('automated');
});

test('an unreadable file still yields a line with an error, and the exit code says so', async () => {
  const good = path.join(
    __dirname,
    'fixtures/provider',
    fs.readdirSync(path.join(__dirname, 'fixtures/provider')).find((f) => f.endsWith('.eml'))!,
  );
  const { lines, code } = await parse(['/nonexistent/missing.eml', good]);
  expect(code).toBe(1);
  expect(lines).toHaveLength(2);
  expect(lines[0]).toMatchObject({
    file: '/nonexistent/missing.eml',
    kind: 'other',
    persons: [],
    autoReply: false,
    error: { code: 'FILE_UNREADABLE' },
  });
  expect(lines[1]!.file).toBe(good);
  expect(lines[1]!.error).toBeUndefined();
});

test('hsaId is upper-cased, name collapsed, and a personnummer is never printed in full', async () => {
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'lci-parse-'));
  const file = path.join(dir, 'a.eml');
  fs.writeFileSync(
    file,
    'From: Anna <Anna@Omsorgshuset.se>\r\nTo: vardochstod@orebro.se\r\nSubject: Nya kort\r\nMessage-ID: <x1@omsorgshuset.se>\r\nContent-Type: text/plain; charset=utf-8\r\n\r\n' +
      'Namn: Lisa   Berg\r\nFunktion: Enhetschef\r\nHSA-id: se2321000016-4hk5\r\nAnvändarnamn i Treserva: lisber\r\n\r\nNamn: Erik Ek\r\nFunktion: Planerare\r\nHSA-id: 19800101-1234\r\nAnvändarnamn i Treserva: eriek\r\n',
  );
  const { lines, code } = await parse([file]);
  expect(code).toBe(0);
  expect(JSON.stringify(lines[0])).not.toContain('1234');
  expect(lines[0]).toMatchObject({
    from: 'anna@omsorgshuset.se',
    kind: 'notification',
    autoReply: true,
    persons: [
      { name: 'Lisa Berg', function: 'Enhetschef', hsaId: 'SE2321000016-4HK5', treservaUser: 'lisber', problems: [] },
      { name: 'Erik Ek', hsaId: '19800101-****', problems: [{ field: 'hsaId', code: 'invalid' }] },
    ],
  });
});
