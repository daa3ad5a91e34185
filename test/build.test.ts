import { execFile } from 'node:child_process';
import fs from 'node:fs';
import path from 'node:path';
import { promisify } from 'node:util';

/** The compiled build: `npm run build` makes dist/, which runs with plain node (no tsx, no dev dependencies needed at run time). */

const run = promisify(execFile);
const ROOT = path.join(__dirname, '..');

test('npm run build compiles to dist/ and the CLI runs from it with node', async () => {
  const pkg = JSON.parse(fs.readFileSync(path.join(ROOT, 'package.json'), 'utf8')) as {
    scripts: Record<string, string>;
    dependencies: Record<string, string>;
  };
  expect(pkg.scripts.start).toBe('npm run --silent build && node --max-semi-space-size=4 --max-old-space-size=512 dist/cli.js worker');
  expect(pkg.dependencies.tsx).toBeUndefined();

  await run('npm', ['run', '--silent', 'build'], { cwd: ROOT, timeout: 180_000 });
  for (const f of ['dist/cli.js', 'dist/web/views/layout.eta', 'dist/web/views/admin-users.eta', 'dist/web/static/app.css'])
    expect(fs.existsSync(path.join(ROOT, f))).toBe(true);
  const env = { ...process.env, NODE_OPTIONS: '', LOG_LEVEL: 'silent' };
  const check = await run(process.execPath, ['dist/cli.js', 'check-config'], { cwd: ROOT, env });
  expect(check.stdout).toBe('configuration and rules are valid\n');
  const fixture = 'test/fixtures/provider/033-multi-blocks-personnummer-in-hsa.eml';
  const parsed = await run(process.execPath, ['dist/cli.js', 'parse', fixture], { cwd: ROOT, env });
  expect(JSON.parse(parsed.stdout)).toMatchObject({ file: fixture, kind: 'notification' });
  // nothing in dist/ loads tsx
  const js = fs.readdirSync(path.join(ROOT, 'dist'), { recursive: true, encoding: 'utf8' }).filter((f) => f.endsWith('.js'));
  for (const f of js) expect(fs.readFileSync(path.join(ROOT, 'dist', f), 'utf8')).not.toMatch(/require\("tsx|from "tsx/);
}, 240_000);
