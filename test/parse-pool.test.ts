/** The parse pool starts only as many threads as there are mails waiting, up to its size. */
import { logger } from '../src/log';
import { ParsePool } from '../src/parse-pool';
import { DEFAULT_RULES_DIR, loadRules } from '../src/rules/load';
import { hsaIdFor, notification } from './support/mails';

jest.setTimeout(60_000);

/** Mail `i`: one complete person, Lisa Berg<i>. */
const mail = (i: number) =>
  Buffer.from(
    notification({
      from: `a${i}@omsorgshuset.se`,
      fromName: 'A',
      subject: `Nytt kort ${i}`,
      persons: [{ name: `Lisa Berg${i}`, function: 'Undersköterska', hsaId: hsaIdFor(i), user: `lisab${i}` }],
    }).raw,
  );

const threads = (pool: ParsePool) => (pool as unknown as { slots: Array<{ worker: unknown }> }).slots.filter((s) => s.worker).length;

test('one mail starts one thread, two mails at most two, of four', async () => {
  const pool = new ParsePool(
    loadRules(DEFAULT_RULES_DIR),
    { timeoutMs: 30_000, memoryMb: 128 },
    logger('test').child({}, { level: 'silent' }),
    4,
  );
  try {
    const one = pool.parse(mail(0));
    expect(threads(pool)).toBe(1);
    expect((await one).result.persons).toHaveLength(1);
    expect(threads(pool)).toBe(1);
    const two = [pool.parse(mail(1)), pool.parse(mail(2))];
    expect(threads(pool)).toBeLessThanOrEqual(2);
    await Promise.all(two);
    expect(threads(pool)).toBeLessThanOrEqual(2);
  } finally {
    await pool.close();
  }
});

test('an idle thread is ended, and the next mail starts one again', async () => {
  const pool = new ParsePool(
    loadRules(DEFAULT_RULES_DIR),
    { timeoutMs: 30_000, memoryMb: 128, idleMs: 4000 },
    logger('test').child({}, { level: 'silent' }),
    2,
  );
  const one = mail(1);
  try {
    expect(threads(pool)).toBe(0); // nothing is started before a mail waits
    await Promise.all([pool.parse(one), pool.parse(one)]);
    expect(threads(pool)).toBe(2);
    await new Promise((r) => setTimeout(r, 2000));
    expect(threads(pool)).toBe(1); // the spare ends first (a third of idleMs)
    await new Promise((r) => setTimeout(r, 2500));
    expect(threads(pool)).toBe(0);
    expect((await pool.parse(one)).result.persons).toHaveLength(1);
    expect(threads(pool)).toBe(1);
  } finally {
    await pool.close();
  }
});

test('mails queued behind one over its budget are parsed by the next thread; the slow one alone is kept unparsed', async () => {
  const pool = new ParsePool(
    loadRules(DEFAULT_RULES_DIR),
    { timeoutMs: 1000, memoryMb: 256 },
    logger('test').child({}, { level: 'silent' }),
    1,
  );
  // 12,000 table rows: seconds of honest work, over the 1 s budget set here.
  const rows = Array.from(
    { length: 12_000 },
    (_, i) => `<tr><td>Namn ${i}</td><td>Enhetschef</td><td>SE2321000016-${i}X</td><td>u${i}</td></tr>`,
  ).join('');
  const slow = Buffer.from(
    [
      'From: A <a@omsorgshuset.se>',
      'To: vardochstod@orebro.se',
      'Subject: Stor tabell',
      'Message-ID: <slow@omsorgshuset.se>',
      'Content-Type: text/html; charset=utf-8',
      '',
      `<html><body><table><tr><th>Namn</th><th>Funktion</th><th>HSA-id</th><th>Användarnamn</th></tr>${rows}</table></body></html>`,
    ].join('\r\n'),
  );
  try {
    const first = pool.parse(mail(1));
    const hostile = pool.parse(slow);
    const behind = [2, 3, 4].map((i) => pool.parse(mail(i)));
    expect((await first).result.persons).toHaveLength(1);
    expect((await hostile).result.error?.code).toBe('PARSE_TIMEOUT');
    const rest = await Promise.all(behind);
    expect(rest.map((r) => [r.result.error ?? null, r.result.persons.map((p) => p.name)])).toEqual(
      [2, 3, 4].map((i) => [null, [`Lisa Berg${i}`]]),
    );
    expect(pool.ended).toEqual({ timeout: 1, memory: 0, crashed: 0 });
  } finally {
    await pool.close();
  }
});
