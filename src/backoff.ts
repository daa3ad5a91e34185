/**
 * The one backoff: the delay doubles from `baseMs` up to `maxMs`, then a jitter takes it down by up
 * to `jitter` (never above the cap, so "capped at 30 s" holds). Used by IMAP reconnects, the SMTP
 * probe, the database wait at start and reply retries.
 */
export interface BackoffPolicy {
  readonly baseMs: number;
  readonly maxMs: number;
  /** Fraction taken off at random: 0.5 gives delays in [base/2, base]. */
  readonly jitter?: number;
}

export function backoffDelay(attempt: number, policy: BackoffPolicy, random: () => number = Math.random): number {
  const n = Math.max(1, Math.floor(attempt));
  const base = Math.min(policy.baseMs * 2 ** Math.min(n - 1, 40), policy.maxMs);
  return Math.round(base * (1 - (policy.jitter ?? 0.5) * random()));
}

/** A counter over a policy: `next()` for each failure in a row, `reset()` on success. */
export class Backoff {
  private failures = 0;

  constructor(
    readonly policy: BackoffPolicy,
    private readonly random: () => number = Math.random,
  ) {}

  next(): number {
    this.failures++;
    return backoffDelay(this.failures, this.policy, this.random);
  }

  reset(): void {
    this.failures = 0;
  }

  get attempts(): number {
    return this.failures;
  }
}

/** IMAP: the first reconnect try comes quickly; at most 8 s apart, so the server is found within 10 s of returning. */
export const IMAP_RECONNECT: BackoffPolicy = { baseMs: 250, maxMs: 8_000 };
/** SMTP down: probe from 1 s, at most 20 s apart (so replies are gone within 30 s of its return). */
export const SMTP_PROBE: BackoffPolicy = { baseMs: 1_000, maxMs: 20_000 };
/** The database at start (and the mark-sent retry): from 500 ms, at most 15 s apart. */
export const DB_RETRY: BackoffPolicy = { baseMs: 500, maxMs: 15_000 };
/** A reply that failed transiently: 30 s doubling up to an hour. */
export const REPLY_RETRY: BackoffPolicy = { baseMs: 30_000, maxMs: 3_600_000 };
