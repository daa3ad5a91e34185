import fs from 'node:fs';
import path from 'node:path';
import { AppError, ERROR_CODES, errorCode } from '../../src/errors';

/** The error-code registry and coded errors (no database: see test/errors.test.ts for drizzle's errors). */

test('errors carry a code and context', () => {
  const cause = new Error('socket hang up');
  const e = new AppError('SMTP_TRANSIENT', 'send failed', { responseCode: 451 }, cause);
  expect(errorCode(e)).toBe('SMTP_TRANSIENT');
  expect(e.context).toEqual({ responseCode: 451 });
  expect(e.cause).toBe(cause);
  expect(errorCode(Object.assign(new Error('x'), { code: 'ECONNREFUSED' }))).toBe('ECONNREFUSED');
  expect(errorCode('plain')).toBe('UNEXPECTED');
});

test('every error code used in src/ is in the one registry, and every registered code is used', () => {
  const files: string[] = [];
  const walk = (dir: string) => {
    for (const e of fs.readdirSync(dir, { withFileTypes: true })) {
      const p = path.join(dir, e.name);
      if (e.isDirectory()) walk(p);
      else if (p.endsWith('.ts') && !p.endsWith(path.join('src', 'errors.ts'))) files.push(p);
    }
  };
  walk(path.join(__dirname, '../../src'));
  const used = new Set<string>();
  const patterns = [
    /new AppError\(\s*'([A-Z_]+)'/g,
    /\bcode: '([A-Z][A-Z0-9_]+)'/g,
    /unparsed\([^,]+,\s*'([A-Z_]+)'/g,
    /'(PARSE_[A-Z]+|SMTP_[A-Z]+)'/g,
    /errorCode: [^\n]*?'([A-Z][A-Z_]+)'/g,
  ];
  for (const f of files) {
    const text = fs.readFileSync(f, 'utf8');
    for (const re of patterns) for (const m of text.matchAll(re)) used.add(m[1]!);
  }
  const registered = new Set(Object.keys(ERROR_CODES));
  expect([...used].filter((c) => !registered.has(c))).toEqual([]);
  // Codes only ever produced at run time (errorCode's fallback) are exempt from "used".
  const runtime = new Set(['UNEXPECTED']);
  expect([...registered].filter((c) => !used.has(c) && !runtime.has(c))).toEqual([]);
});
