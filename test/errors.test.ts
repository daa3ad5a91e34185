import { sql } from 'drizzle-orm';
import { openDatabase } from '../src/db/client';
import { AppError, errorCode, errorMessage } from '../src/errors';

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
