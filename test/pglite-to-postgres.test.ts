import { sql } from 'drizzle-orm';
import { copyDatabase } from '../scripts/pglite-to-postgres';
import { parseConfig } from '../src/config';
import type { AppContext } from '../src/context';
import type { PgTable } from 'drizzle-orm/pg-core';
import { openDatabase, type Database } from '../src/db/client';
import { cases, messages, outbox, persons, tasks, users } from '../src/db/schema';
import { ingestRaw } from '../src/intake/process';
import { logger } from '../src/log';
import { DEFAULT_RULES_DIR, loadRules } from '../src/rules/load';
import { createSession } from '../src/web/auth';
import { createUser } from '../src/users';
import { freshPgliteDir, freshPostgres } from './support/db';
import { hsaIdFor, notification } from './support/mails';

/** Moving from the embedded database to PostgreSQL: every row, raw mail bytes intact, sequences past the copied ids. */
test('scripts/pglite-to-postgres copies every table into a migrated PostgreSQL database', async () => {
  const dir = await freshPgliteDir();
  const pg = await freshPostgres();
  const from = await openDatabase({ pgliteDir: dir.dir });
  const to = await openDatabase({ url: pg.url });
  try {
    const ctx: AppContext = {
      config: parseConfig({ DATA_DIR: dir.dir }),
      rules: loadRules(DEFAULT_RULES_DIR),
      database: from,
      log: logger('test').child({}, { level: 'silent' }),
      now: () => new Date(),
    };
    for (let i = 0; i < 3; i++) {
      const persons = [
        {
          name: ['Lisa Berg', 'Omar Said', 'Eva Ek'][i]!,
          function: 'Enhetschef',
          hsaId: hsaIdFor(i),
          ...(i === 1 ? {} : { user: `lisber${i}` }),
        },
      ];
      await ingestRaw(
        ctx,
        Buffer.from(notification({ from: `chef@attendo${i}.se`, fromName: 'Chef', subject: `Anmälan ${i}`, persons }).raw),
        { kind: 'ingest' },
      );
    }
    const u = await createUser(from.db, 'karin.it', 'ett-långt-lösenord');
    await createSession(from.db, u.id, new Date());
    const count = async (db: Database, t: PgTable) => (await db.db.select({ n: sql<number>`count(*)::int` }).from(t))[0]!.n;
    const before = {
      messages: await count(from, messages),
      cases: await count(from, cases),
      persons: await count(from, persons),
      tasks: await count(from, tasks),
      outbox: await count(from, outbox),
    };
    expect(before.messages).toBe(3);
    expect(before.tasks).toBe(2);

    const counts = await copyDatabase(from, to);
    expect(counts).toMatchObject({ messages: 3, cases: 3, tasks: 2, users: 1, sessions: 1 });
    expect({
      messages: await count(to, messages),
      cases: await count(to, cases),
      persons: await count(to, persons),
      tasks: await count(to, tasks),
      outbox: await count(to, outbox),
    }).toEqual(before);
    const [a] = await from.db.select({ raw: messages.raw }).from(messages).orderBy(messages.id).limit(1);
    const [b] = await to.db.select({ raw: messages.raw }).from(messages).orderBy(messages.id).limit(1);
    expect(Buffer.compare(a!.raw, b!.raw)).toBe(0);
    // a new row gets the next id, not a clash
    const [next] = await to.db.insert(users).values({ username: 'ny.person', passwordHash: null }).returning({ id: users.id });
    expect(next!.id).toBe(u.id + 1);
    // a second copy into a database that now holds data is refused
    await expect(copyDatabase(from, to)).rejects.toThrow(/not empty/);
  } finally {
    await from.close();
    await to.close();
    await dir.cleanup();
    await pg.drop();
  }
});
