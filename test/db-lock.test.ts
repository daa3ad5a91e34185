import { spawnSync } from 'node:child_process';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { openDatabase } from '../src/db/client';

/** The embedded PGlite database is one process's: a second process is refused with a clear error. */

const root = path.resolve(__dirname, '..');

test('a second process is refused while the embedded database is open; a stale lock is taken over', async () => {
  const dataDir = fs.mkdtempSync(path.join(os.tmpdir(), 'lci-lock-'));
  const pgliteDir = path.join(dataDir, 'pglite');
  const held = await openDatabase({ pgliteDir });
  try {
    const r = spawnSync(path.join(root, 'node_modules/.bin/tsx'), ['src/cli.ts', 'cases'], {
      cwd: root,
      env: { ...process.env, DATA_DIR: dataDir, DATABASE_URL: '', LOG_LEVEL: 'silent' },
      encoding: 'utf8',
    });
    expect(r.status).toBe(1);
    expect(r.stderr).toContain(`is in use by process ${process.pid}`);
    expect(r.stderr).toContain('DATABASE_URL');
  } finally {
    await held.close();
  }
  expect(fs.existsSync(path.join(pgliteDir, 'lifecare-intake.lock'))).toBe(false);

  // A lock left by a process that no longer runs does not block.
  fs.writeFileSync(path.join(pgliteDir, 'lifecare-intake.lock'), '2147483646');
  const again = await openDatabase({ pgliteDir });
  expect(fs.readFileSync(path.join(pgliteDir, 'lifecare-intake.lock'), 'utf8')).toBe(String(process.pid));
  await again.close();
  fs.rmSync(dataDir, { recursive: true, force: true });
});
