import fs from 'node:fs';
import cron, { type ScheduledTask } from 'node-cron';
import { createMailPieces, type Intake } from './app';
import type { AppContext } from './context';
import { errorCode, errorMessage } from './errors';
import { SETTLE_MS } from './intake/maildrop';
import { Coalescer } from './loop';
import { applyRetention } from './retention';

/**
 * The background worker: intake (IMAP with IDLE, or the maildrop folder), the outbox sender and
 * a node-cron safety-net schedule. A tick never throws and never overlaps another.
 */
export class Worker {
  private readonly intake: Intake;
  private readonly pieces: ReturnType<typeof createMailPieces>;
  private task: ScheduledTask | null = null;
  private retentionTask: ScheduledTask | null = null;
  private watcher: fs.FSWatcher | null = null;
  private readonly ticks = new Coalescer(
    async () => {
      const taken = await this.intake.poll();
      await this.pieces.sender.runOnce();
      this.lastTickAt = this.ctx.now();
      // Maildrop files still being written: look again once they have settled.
      if (taken && taken.deferred > 0 && !this.settleTimer) {
        this.settleTimer = setTimeout(() => {
          this.settleTimer = null;
          void this.tick('maildrop-settle');
        }, SETTLE_MS);
      }
    },
    (err) => this.ctx.log.error({ component: 'worker', code: errorCode(err), err: errorMessage(err) }, 'tick failed'),
    () => !this.stopping,
  );
  private stopping = false;
  private sendTimer: NodeJS.Timeout | null = null;
  private settleTimer: NodeJS.Timeout | null = null;

  constructor(private readonly ctx: AppContext) {
    this.pieces = createMailPieces(ctx, () => this.tick('idle'));
    this.intake = this.pieces.intake;
  }

  get intakeStatus(): { ok: boolean; detail: string; lastPollAt: Date | null } {
    return 'status' in this.intake ? this.intake.status : { ok: true, detail: `maildrop ${this.ctx.config.maildropDir}`, lastPollAt: this.lastTickAt };
  }

  private lastTickAt: Date | null = null;

  /** One pass: take in what is waiting, then send due replies. Never throws, never overlaps. */
  tick(reason: string): Promise<void> {
    this.ctx.log.debug({ component: 'worker', reason }, 'tick');
    return this.ticks.run();
  }

  async start(): Promise<void> {
    await this.pieces.sender.recover();
    if ('start' in this.intake) await this.intake.start();
    else {
      await this.intake.prepare();
      // New files in the maildrop folder are taken at once; the schedule catches anything missed.
      this.watcher = fs.watch(this.intake.dir, () => void this.tick('maildrop'));
      this.watcher.on('error', () => {});
    }
    this.task = cron.schedule(this.ctx.config.pollCron, () => void this.tick('schedule'), { noOverlap: true });
    this.retentionTask = cron.schedule(
      this.ctx.config.retentionCron,
      () => applyRetention(this.ctx).then(() => undefined, (err: unknown) => this.ctx.log.error({ component: 'retention', code: errorCode(err), err: errorMessage(err) }, 'retention run failed')),
      { noOverlap: true },
    );
    // Retries of replies that failed for a while come due between schedule ticks.
    this.sendTimer = setInterval(() => void this.pieces.sender.runOnce(), 15_000);
    this.sendTimer.unref();
    await this.tick('start');
  }

  /** Graceful stop: finish the current message, release the mailbox, log out, then the caller closes the database. */
  async stop(): Promise<void> {
    this.stopping = true;
    await this.task?.stop();
    await this.retentionTask?.stop();
    this.watcher?.close();
    if (this.sendTimer) clearInterval(this.sendTimer);
    if (this.settleTimer) clearTimeout(this.settleTimer);
    await this.ticks.current;
    await this.intake.close();
    this.pieces.transport.close();
  }
}

/** Runs everything waiting once, sends due replies, and returns (`poll --once`). */
export async function pollOnce(ctx: AppContext): Promise<{ sent: number }> {
  const pieces = createMailPieces(ctx);
  try {
    await pieces.sender.recover();
    await pieces.intake.poll();
    const sent = await pieces.sender.runOnce(10_000);
    return { sent };
  } finally {
    await pieces.intake.close();
    pieces.transport.close();
  }
}
