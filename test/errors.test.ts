import fs from 'node:fs';
import path from 'node:path';
import { sql } from 'drizzle-orm';
import { openDatabase } from '../src/db/client';
import { AppError, ERROR_CODES, errorCode, errorMessage, serializeError } from '../src/errors';

test('a failed database query is logged without its parameters (personal data)', async () => {
  const database = await openDatabase({ pgliteDir: 'memory://', migrate: false });
  try {
    await database.db.execute(sql`create table t (a text unique)`);
    await database.db.execute(sql`insert into t values (${'Lisa Berg SE2321000016-4HK5'})`);
    const err = await database.db.execute(sql`insert into t values (${'Lisa Berg SE2321000016-4HK5'})`).then(
      () => null,
      (e: unknown) => e,
    );
    expect(err).toBeInstanceOf(Error);
    expect((err as Error).message).toContain('Lisa Berg'); // what drizzle puts in its message
    const logged = errorMessage(err);
    expect(logged).toMatch(/^database query failed: duplicate key value violates unique constraint/);
    expect(logged).not.toContain('Lisa');
    expect(logged).not.toContain('SE2321000016');
  } finally {
    await database.close();
  }
});

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
  walk(path.join(__dirname, '../src'));
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

test('the err serializer keeps type, code, message and stack, never query parameters', async () => {
  const database = await openDatabase({ pgliteDir: 'memory://', migrate: false });
  try {
    await database.db.execute(sql`create table t (a text unique)`);
    await database.db.execute(sql`insert into t values (${'Lisa Berg SE2321000016-4HK5'})`);
    const err = await database.db.execute(sql`insert into t values (${'Lisa Berg SE2321000016-4HK5'})`).then(
      () => null,
      (e: unknown) => e,
    );
    const s = serializeError(err);
    expect(JSON.stringify(s)).not.toContain('Lisa');
    expect(JSON.stringify(s)).not.toContain('SE2321000016');
    expect(s.message).toMatch(/^database query failed: duplicate key/);
    expect(String(s.stack)).toMatch(/^\s+at /);
    const wrapped = serializeError(
      new AppError(
        'SMTP_DOWN',
        'connect failed',
        { responseCode: 535, to: 'lisa@x.se' },
        Object.assign(new Error('Invalid login'), { code: 'EAUTH', responseCode: 535 }),
      ),
    );
    expect(wrapped).toMatchObject({
      type: 'AppError',
      code: 'SMTP_DOWN',
      message: 'connect failed',
      cause: { code: 'EAUTH', responseCode: 535, message: 'Invalid login' },
    });
    expect(JSON.stringify(wrapped)).not.toContain('lisa@x.se'); // context values are not serialized
  } finally {
    await database.close();
  }
});
