import { execFile } from 'node:child_process';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { promisify } from 'node:util';

/**
 * Personal data stays out of logs: the real CLI ingests provider mails and sends the replies at
 * the most verbose log level; no name, HSA-id or username of those mails appears in what it prints.
 */

const run = promisify(execFile);
const root = path.resolve(__dirname, '..');
const fixtures = path.join(__dirname, 'fixtures/provider');

test('ingest and poll at log level trace print no names, HSA-ids or usernames', async () => {
  const dataDir = fs.mkdtempSync(path.join(os.tmpdir(), 'lci-logs-'));
  const picked = fs
    .readdirSync(fixtures)
    .filter((f) => f.endsWith('.expected.json'))
    .map((f) => ({
      f,
      e: JSON.parse(fs.readFileSync(path.join(fixtures, f), 'utf8')) as { kind: string; persons: Array<Record<string, string | null>> },
    }))
    .filter(({ e }) => e.kind === 'notification')
    .slice(0, 12);
  const files = picked.map(({ f }) => path.join(fixtures, f.replace('.expected.json', '.eml')));
  const secrets = [
    ...new Set(
      picked.flatMap(({ e }) =>
        e.persons.flatMap((p) => [p.name, p.hsaId, p.treservaUser]).filter((v): v is string => !!v && v.length >= 4),
      ),
    ),
  ];
  expect(secrets.length).toBeGreaterThan(20);

  const env = { ...process.env, DATA_DIR: dataDir, LOG_LEVEL: 'trace', DATABASE_URL: '', IMAP_HOST: '', SMTP_HOST: '' };
  const tsx = path.join(root, 'node_modules/.bin/tsx');
  const ingest = await run(tsx, ['src/cli.ts', 'ingest', ...files], { cwd: root, env, maxBuffer: 32 << 20 });
  const poll = await run(tsx, ['src/cli.ts', 'poll'], { cwd: root, env, maxBuffer: 32 << 20 });
  const printed = [ingest.stdout, ingest.stderr, poll.stdout, poll.stderr].join('\n');
  // The logs did say something about each mail and reply…
  expect(printed).toMatch(/"msg":"message processed"/);
  expect(printed).toMatch(/"msg":"reply sent"/);
  // …and the replies were written, with the personal data in them where it belongs.
  const outbox = fs.readdirSync(path.join(dataDir, 'outbox'));
  expect(outbox.length).toBeGreaterThan(5);
  for (const s of secrets) expect({ value: s, inLogs: printed.includes(s) }).toEqual({ value: s, inLogs: false });
  fs.rmSync(dataDir, { recursive: true, force: true });
}, 120_000);
