import crypto from 'node:crypto';
import os from 'node:os';
import { sql } from 'drizzle-orm';
import type { AppContext } from './context';
import { leases } from './db/schema';
import { errorCode } from './errors';

/**
 * One worker reads a mailbox at a time. The lease is a row with a holder and an expiry, renewed
 * by a heartbeat every third of LEASE_SECONDS; another worker takes it over once it has expired
 * (its holder died) and the token grows by one (fencing: a holder that lost it sees the new token
 * and stops). The unique constraints on messages stay the last line: a mail is stored once.
 */
export class Lease {
  readonly holder = `${os.hostname()}:${process.pid}:${crypto.randomBytes(3).toString('hex')}`;
  private token: number | null = null;
  private validUntil = 0;
  private timer: NodeJS.Timeout | null = null;
  private stopped = false;
  /** Takeovers seen by this process (the lease was held by another before). */
  takeovers = 0;

  constructor(
    private readonly ctx: AppContext,
    readonly name: string,
    /** Called when this process gets the lease (it polls then). */
    private readonly onAcquired: () => void = () => {},
  ) {}

  private get ms(): number {
    return this.ctx.config.leaseMs;
  }

  /** Held, and renewed recently enough that no one else can have it. */
  get held(): boolean {
    return this.token !== null && Date.now() < this.validUntil;
  }

  get status(): { held: boolean; token: number | null; holder: string } {
    return { held: this.held, token: this.token, holder: this.holder };
  }

  /** Takes or renews the lease; false when another live worker holds it. Throws on database errors. */
  async tryAcquire(): Promise<boolean> {
    const started = Date.now();
    const ttl = `${this.ms} milliseconds`;
    const rows = await this.ctx.database.db.execute<{ token: number | string }>(sql`
      insert into ${leases} (name, holder, token, expires_at, acquired_at)
      values (${this.name}, ${this.holder}, 1, now() + ${ttl}::interval, now())
      on conflict (name) do update
        set token = case when ${leases.holder} = excluded.holder then ${leases.token} else ${leases.token} + 1 end,
            holder = excluded.holder,
            expires_at = excluded.expires_at,
            acquired_at = case when ${leases.holder} = excluded.holder then ${leases.acquiredAt} else now() end
        where ${leases.holder} = excluded.holder or ${leases.expiresAt} < now()
      returning token`);
    const list = (Array.isArray(rows) ? rows : (rows as { rows: unknown[] }).rows) as Array<{ token: number | string }>;
    const row = list[0];
    if (!row) {
      this.lost('held by another worker');
      return false;
    }
    const token = Number(row.token);
    if (this.token !== token) {
      if (token > 1 && this.token === null) this.takeovers++;
      this.ctx.log.info({ component: 'lease', lease: this.name, token }, 'mailbox lease taken');
    }
    this.token = token;
    // Counted from before the statement: the database's expiry is at least this late.
    this.validUntil = started + this.ms - Math.min(1000, this.ms / 4);
    return true;
  }

  private lost(why: string): void {
    if (this.token !== null) this.ctx.log.warn({ component: 'lease', lease: this.name, why }, 'mailbox lease lost');
    this.token = null;
    this.validUntil = 0;
  }

  /** Heartbeat (holder) or takeover attempts (others), every third of LEASE_SECONDS. */
  start(): void {
    const beat = () => {
      if (this.stopped) return;
      const had = this.held;
      this.tryAcquire()
        .then(
          (got) => {
            if (got && !had) this.onAcquired();
          },
          (err: unknown) => {
            this.ctx.log.warn({ component: 'lease', code: errorCode(err) }, 'lease heartbeat failed');
            if (!this.held) this.lost('heartbeat failed');
          },
        )
        .finally(() => {
          if (!this.stopped) {
            this.timer = setTimeout(beat, Math.max(200, Math.floor(this.ms / 3)));
            this.timer.unref();
          }
        });
    };
    this.timer = setTimeout(beat, Math.max(200, Math.floor(this.ms / 3)));
    this.timer.unref();
  }

  /** Gives the lease up so another worker can take it at once. */
  async release(): Promise<void> {
    this.stopped = true;
    if (this.timer) clearTimeout(this.timer);
    if (this.token === null) return;
    this.token = null;
    await this.ctx.database.db
      .execute(sql`update ${leases} set expires_at = now() - interval '1 second' where name = ${this.name} and holder = ${this.holder}`)
      .catch(() => {});
  }
}
