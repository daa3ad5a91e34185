import { Backoff, backoffDelay, DB_RETRY, IMAP_RECONNECT, REPLY_RETRY, SMTP_PROBE, type BackoffPolicy } from '../../src/backoff';

/** The one backoff: pinned sequences per policy, without jitter (random 0) and at full jitter (random 1). */

const noJitter = () => 0;
const fullJitter = () => 1;
const sequence = (policy: BackoffPolicy, random: () => number, n = 8) =>
  Array.from({ length: n }, (_, i) => backoffDelay(i + 1, policy, random));

test.each([
  ['IMAP reconnect', IMAP_RECONNECT, [250, 500, 1000, 2000, 4000, 8000, 8000, 8000]],
  ['SMTP probe', SMTP_PROBE, [1000, 2000, 4000, 8000, 16000, 20000, 20000, 20000]],
  ['database wait', DB_RETRY, [500, 1000, 2000, 4000, 8000, 15000, 15000, 15000]],
  ['reply retry', REPLY_RETRY, [30_000, 60_000, 120_000, 240_000, 480_000, 960_000, 1_920_000, 3_600_000]],
] as const)('%s doubles from its base up to its cap', (_name, policy, expected) => {
  expect(sequence(policy, noJitter)).toEqual(expected);
});

test.each([
  ['default jitter 0.5 halves at most', { baseMs: 1000, maxMs: 8000 }, [500, 1000, 2000, 4000, 4000]],
  ['jitter 0.2', { baseMs: 1000, maxMs: 8000, jitter: 0.2 }, [800, 1600, 3200, 6400, 6400]],
  ['jitter 0 is exact', { baseMs: 1000, maxMs: 8000, jitter: 0 }, [1000, 2000, 4000, 8000, 8000]],
] as const)('%s', (_name, policy, expected) => {
  expect(sequence(policy, fullJitter, 5)).toEqual(expected);
});

test.each([
  [0, 250],
  [-3, 250],
  [1.9, 250],
  [1_000, 8000],
])('attempt %p counts as at least the first and never overflows the cap → %p ms', (attempt, ms) => {
  expect(backoffDelay(attempt, IMAP_RECONNECT, noJitter)).toBe(ms);
});

test('jitter never goes above the cap nor below base × (1 − jitter)', () => {
  for (let attempt = 1; attempt <= 12; attempt++) {
    const d = backoffDelay(attempt, SMTP_PROBE, Math.random);
    const base = Math.min(1000 * 2 ** (attempt - 1), 20_000);
    expect(d).toBeLessThanOrEqual(base);
    expect(d).toBeGreaterThanOrEqual(base / 2);
  }
});

test('Backoff counts failures in a row; reset starts again from the base', () => {
  const b = new Backoff(IMAP_RECONNECT, noJitter);
  expect([b.next(), b.next(), b.next()]).toEqual([250, 500, 1000]);
  expect(b.attempts).toBe(3);
  b.reset();
  expect(b.attempts).toBe(0);
  expect(b.next()).toBe(250);
});
