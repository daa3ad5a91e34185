import { sql } from 'drizzle-orm';
import { openDatabase } from '../src/db/client';
import { AppError, errorMessage, serializeError } from '../src/errors';

/** Errors as drizzle and PGlite make them (the pure parts are in test/unit/errors.test.ts). */

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
