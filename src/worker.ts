import cron, { type ScheduledTask } from 'node-cron';
import { createMailPieces } from './app';
import { Backoff, DB_RETRY } from './backoff';
import type { AppContext } from './context';
import type { Intake, IntakeStatus } from './intake/intake';
import { Lease } from './lease';
import { Coalescer } from './loop';
import { runReminders } from './cases/reminders';
import { applyRetention } from './retention';

/**
 * The background worker: intake (IMAP with IDLE, or the maildrop folder) while it holds the
 * mailbox lease, the outbox sender and a node-cron safety-net schedule. A tick never throws and
 * never overlaps another. Several workers may share one database: one reads the mailbox, all send.
 */
export class Worker {
  private readonly intake: Intake;
  private readonly pieces: ReturnType<typeof createMailPieces>;
  readonly lease: Lease;
  private task: ScheduledTask | null = null;
  private retentionTask: ScheduledTask | null = null;
  private reminderTask: ScheduledTask | null = null;
  private readonly ticks = new Coalescer(
    async () => {
      const held = await this.lease.tryAcquire().catch((err: unknown) => {
        this.ctx.log.warn({ component: 'lease', err }, 'cannot check the mailbox lease');
        return this.lease.held;
      });
      if (held) await this.intake.poll();
      if (this.stopping) return;
      // Mail left for later by an error (the database restarting): look again soon, with backoff.
      const failed = this.intake.lastFailures;
      if (failed !== 0 && this.lease.held) this.scheduleRetry();
      else if (failed === 0) this.retries.reset();
      await this.pieces.sender.runOnce();
    },
    (err) => this.ctx.log.error({ component: 'worker', err }, 'tick failed'),
    () => !this.stopping,
  );
  private stopping = false;
  private readonly retries = new Backoff(DB_RETRY);
  private retryTimer: NodeJS.Timeout | null = null;
  private sendTimer: NodeJS.Timeout | null = null;

  constructor(private readonly ctx: AppContext) {
    this.pieces = createMailPieces(ctx, (reason) => void this.tick(reason));
    this.intake = this.pieces.intake;
    this.lease = new Lease(ctx, this.intake.leaseName, () => void this.tick('lease'));
    this.intake.gate = () => !this.stopping && this.lease.held;
    // A backlog's replies go out while the rest of it is read, not after.
    this.intake.stored = () => void this.pieces.sender.runOnce();
    this.pieces.sender.onResume = () => void this.pieces.sender.runOnce();
  }

  get intakeStatus(): IntakeStatus {
    const own = this.intake.status;
    return this.lease.held ? own : { ...own, ok: own.ok, detail: `${own.detail}; mailbox read by another worker (lease)` };
  }

  /** The sender's state for /healthz ("SMTP nere sedan …"). */
  get senderStatus() {
    return this.pieces.sender.status;
  }

  private scheduleRetry(): void {
    if (this.retryTimer || this.stopping) return;
    this.retryTimer = setTimeout(() => {
      this.retryTimer = null;
      void this.tick('retry');
    }, this.retries.next());
    this.retryTimer.unref();
  }

  /** One pass: take in what is waiting, then send due replies. Never throws, never overlaps. */
  tick(reason: string): Promise<void> {
    this.ctx.log.debug({ component: 'worker', reason }, 'tick');
    return this.ticks.run();
  }

  async start(): Promise<void> {
    await this.pieces.sender
      .recover()
      .catch((err: unknown) => this.ctx.log.error({ component: 'outbox', err }, 'cannot read the send journal'));
    await this.intake.start();
    this.lease.start();
    this.task = cron.schedule(this.ctx.config.pollCron, () => void this.tick('schedule'), { noOverlap: true });
    this.retentionTask = cron.schedule(
      this.ctx.config.retentionCron,
      () =>
        applyRetention(this.ctx).then(
          () => undefined,
          (err: unknown) => this.ctx.log.error({ component: 'retention', err }, 'retention run failed'),
        ),
      { noOverlap: true },
    );
    this.reminderTask = cron.schedule(
      this.ctx.config.reminders.cron,
      () =>
        runReminders(this.ctx).then(
          (r) => r.reminded > 0 && void this.pieces.sender.runOnce(),
          (err: unknown) => this.ctx.log.error({ component: 'reminders', err }, 'reminder run failed'),
        ),
      { noOverlap: true },
    );
    // Retries of replies that failed for a while (and stale claims) come due between schedule ticks.
    this.sendTimer = setInterval(() => void this.pieces.sender.runOnce(), 15_000);
    this.sendTimer.unref();
    await this.tick('start');
  }

  /**
   * Graceful stop: the message and the reply in hand are finished (not the batch), the mailbox is
   * moved and released, the lease given up, then the caller closes the database.
   */
  async stop(): Promise<void> {
    this.stopping = true;
    await this.task?.stop();
    await this.retentionTask?.stop();
    await this.reminderTask?.stop();
    if (this.sendTimer) clearInterval(this.sendTimer);
    if (this.retryTimer) clearTimeout(this.retryTimer);
    this.intake.requestStop();
    await Promise.all([this.pieces.sender.stop(), this.ticks.current]);
    await this.intake.close();
    await this.lease.release();
    this.pieces.transport.close();
  }
}

/**
 * Runs everything waiting once, sends due replies, and returns (`poll`). Safe beside a
 * running worker: it reads the mailbox only when it gets the lease; replies are claimed in small batches (skip locked).
 */
export async function pollOnce(ctx: AppContext): Promise<{ sent: number; mailbox: 'read' | 'leased-elsewhere' }> {
  const pieces = createMailPieces(ctx);
  const lease = new Lease(ctx, pieces.intake.leaseName);
  pieces.intake.gate = () => lease.held;
  try {
    await pieces.sender.recover();
    const got = await lease.tryAcquire();
    if (got) await pieces.intake.poll();
    else ctx.log.info({ component: 'worker', lease: lease.name }, 'another worker reads the mailbox; only replies are sent');
    const sent = await pieces.sender.runOnce(10_000);
    return { sent, mailbox: got ? 'read' : 'leased-elsewhere' };
  } finally {
    await pieces.sender.stop();
    await pieces.intake.close();
    await lease.release();
    pieces.transport.close();
  }
}
