/** The embedded database: a fresh folder is made in a child process; its settings are initdb's, not PGlite's bare list. */
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { sql } from 'drizzle-orm';
import { openDatabase } from '../src/db/client';
import { cases } from '../src/db/schema';

jest.setTimeout(120_000);

test('a fresh folder opens with UTC and initdb’s text search, and keeps its rows when reopened', async () => {
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'lci-pglite-open-'));
  try {
    const first = await openDatabase({ pgliteDir: dir });
    expect(fs.existsSync(path.join(dir, 'PG_VERSION'))).toBe(true);
    const show = async (db: typeof first.db, name: string) => {
      const res = await db.execute(sql.raw(`show ${name}`));
      return Object.values((res as { rows: Array<Record<string, string>> }).rows[0]!)[0];
    };
    expect(await show(first.db, 'timezone')).toBe('UTC');
    expect(await show(first.db, 'default_text_search_config')).toBe('pg_catalog.english');
    expect(await show(first.db, 'shared_buffers')).toBe('16MB');
    await first.db.execute(sql`insert into case_counters (year, last) values (1999, 7)`);
    await first.close();

    const again = await openDatabase({ pgliteDir: dir });
    const res = await again.db.execute(sql`select last from case_counters where year = 1999`);
    expect((res as { rows: Array<{ last: number }> }).rows[0]!.last).toBe(7);
    expect(await again.db.select().from(cases)).toEqual([]);
    await again.close();
  } finally {
    fs.rmSync(dir, { recursive: true, force: true });
  }
});
