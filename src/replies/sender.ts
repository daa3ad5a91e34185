import crypto from 'node:crypto';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { and, eq, getTableColumns, inArray, ne, sql } from 'drizzle-orm';
import { Backoff, DB_RETRY, REPLY_RETRY, SMTP_PROBE, backoffDelay } from '../backoff';
import type { AppContext } from '../context';
import { cases, outbox } from '../db/schema';
import { AppError, errorCode } from '../errors';
import { Coalescer } from '../loop';
import { SendJournal } from './journal';
import { sendInLanes, type Answered, type OutboxRow, type Transport } from './transport';

function pidAlive(pid: number): boolean {
  if (!Number.isInteger(pid) || pid <= 0) return true;
  try {
    process.kill(pid, 0);
    return true;
  } catch (err) {
    return (err as NodeJS.ErrnoException).code === 'EPERM';
  }
}

/** Backoff for transient failures of one reply: 30 s doubling up to an hour, with jitter. */
export function backoffMs(attempts: number, random: () => number = Math.random): number {
  return backoffDelay(attempts, REPLY_RETRY, random);
}

export interface SenderStatus {
  ok: boolean;
  detail: string;
  downSince: Date | null;
}

type Claimed = OutboxRow & { caseRef: string };

/** Replies claimed together: sent over the pooled connections, marked sent together. */
const SEND_BATCH = 100;

/**
 * Sends due outbox rows. A row is claimed in one statement (status `sending`, a claim time and
 * owner); a claim older than SEND_CLAIM_STALE_SECONDS is taken again by any sender, at any time.
 * After the SMTP server accepts a reply it is written to a local journal, then marked `sent`; if
 * the mark fails (database gone) it is retried, never sent again. The one window left: a kill
 * between the SMTP accept and the journal line (a reply per connection sending at that moment).
 *
 * Failures by kind: the transport down (connection, TLS, 535…) pauses sending and probes it with
 * backoff (at most 30 s apart), giving the row back untouched; 5xx fails that reply; 4xx retries it.
 */
export class OutboxSender {
  private stopping = false;
  private limit = 100_000;
  private sentTotal = 0;
  /** The one loop guard: runs never overlap; a call during a run makes it go once more. */
  private readonly runs = new Coalescer(
    async () => {
      this.sentTotal += await this.drain(this.limit);
    },
    (err) => this.log.error({ err }, 'send run failed'),
    () => !this.stopping,
  );
  /** Accepted by SMTP, not yet marked sent in the database. */
  private readonly unmarked = new Map<number, Date>();
  private readonly markBackoff = new Backoff(DB_RETRY);
  private markTimer: NodeJS.Timeout | null = null;
  private readonly probeBackoff = new Backoff(SMTP_PROBE);
  private probeTimer: NodeJS.Timeout | null = null;
  private down: { since: Date; reason: string } | null = null;
  private readonly journal: SendJournal;
  /** The journal folder, in short: claims name it, so only a sender sharing the journal frees them early. */
  private readonly journalTag: string;
  readonly owner: string;
  /** Called when sending can go on again (the transport answered after being down). */
  onResume: () => void = () => {};

  constructor(
    private readonly ctx: AppContext,
    private readonly transport: Transport,
  ) {
    const dir = path.join(ctx.config.dataDir, 'outbox-journal');
    this.journal = new SendJournal(dir);
    this.journalTag = crypto.createHash('sha256').update(dir).digest('hex').slice(0, 8);
    this.owner = `${os.hostname()}:${process.pid}:${this.journalTag}:${crypto.randomBytes(3).toString('hex')}`;
  }

  private get log() {
    return this.ctx.log.child({ component: 'outbox' });
  }

  get status(): SenderStatus {
    if (this.down)
      return {
        ok: false,
        detail: `${this.transport.name === 'smtp' ? 'SMTP' : this.transport.name} nere sedan ${this.down.since.toISOString()}: ${this.down.reason}`,
        downSince: this.down.since,
      };
    if (this.unmarked.size > 0)
      return { ok: false, detail: `${this.unmarked.size} skickade svar väntar på att markeras i databasen`, downSince: null };
    return { ok: true, detail: this.transport.name, downSince: null };
  }

  /**
   * At start-up (and before each run): replies a dead process on this machine had sent but not
   * marked are marked sent now. Rows left `sending` are not reset: they are taken again once stale.
   */
  async recover(): Promise<number> {
    const { ids, files } = this.journal.orphans();
    const marked = ids.length
      ? await this.ctx.database.db
          .update(outbox)
          .set({ status: 'sent', sentAt: this.ctx.now(), lastError: null, claimedAt: null })
          .where(and(inArray(outbox.id, ids), ne(outbox.status, 'sent')))
          .returning({ id: outbox.id })
      : [];
    for (const f of files) fs.rmSync(f, { force: true });
    if (marked.length)
      this.log.warn({ count: marked.length }, 'replies accepted by SMTP before a crash marked sent from the journal (not sent again)');
    // Only after the journals are applied: what the dead process still held is free now.
    await this.releaseDeadClaims();
    return marked.length;
  }

  /**
   * Claims held by a dead process that shared this journal folder are free at once (its accepted
   * replies were marked from its journal just before); any other claim waits until it is stale.
   */
  private async releaseDeadClaims(): Promise<void> {
    const host = `${os.hostname()}:`;
    const deadHere = (by: string) => {
      const [pid, tag] = by.slice(host.length).split(':');
      return tag === this.journalTag && !pidAlive(Number(pid));
    };
    const holders = await this.ctx.database.db
      .selectDistinct({ by: outbox.claimedBy })
      .from(outbox)
      .where(and(eq(outbox.status, 'sending'), sql`${outbox.claimedBy} like ${`${host}%`}`));
    const dead = holders.map((h) => h.by!).filter((by) => by !== this.owner && deadHere(by));
    if (dead.length === 0) return;
    const freed = await this.ctx.database.db
      .update(outbox)
      .set({ claimedAt: null })
      .where(and(eq(outbox.status, 'sending'), inArray(outbox.claimedBy, dead)))
      .returning({ id: outbox.id });
    if (freed.length) this.log.warn({ count: freed.length }, 'replies claimed by a process that died are taken again');
  }

  /**
   * Sends everything due (a failed row is pushed back by its backoff, so the run ends); never
   * throws; a call during a run makes it go once more. Resolves with the replies sent meanwhile.
   */
  runOnce(limit = 100_000): Promise<number> {
    this.limit = limit;
    const before = this.sentTotal;
    return this.runs.run().then(() => this.sentTotal - before);
  }

  /** The run finishes the reply in hand and stops; timers end. */
  async stop(): Promise<void> {
    this.stopping = true;
    if (this.probeTimer) clearTimeout(this.probeTimer);
    await this.runs.current;
    if (this.markTimer) clearTimeout(this.markTimer);
    await this.flushMarks().catch(() => {});
    if (this.unmarked.size === 0) this.journal.clear();
    this.journal.close();
  }

  /** Claims up to `n` due rows in one statement (oldest first). */
  private async claim(n: number): Promise<Claimed[]> {
    const { db } = this.ctx.database;
    const now = this.ctx.now();
    const stale = new Date(now.getTime() - this.ctx.config.replies.claimStaleMs);
    const mine = [...this.unmarked.keys()];
    const notMine = mine.length
      ? sql`and id not in (${sql.join(
          mine.map((id) => sql`${id}`),
          sql`, `,
        )})`
      : sql``;
    const rows = await db
      .update(outbox)
      .set({ status: 'sending', attempts: sql`${outbox.attempts} + 1`, claimedAt: now, claimedBy: this.owner })
      .where(
        sql`${outbox.id} in (select id from ${outbox}
            where ((status = 'pending' and next_attempt_at <= ${now.toISOString()}::timestamptz)
                or (status = 'sending' and (claimed_at is null or claimed_at < ${stale.toISOString()}::timestamptz))) ${notMine}
            order by id limit ${n} for update skip locked)`,
      )
      .returning({ ...getTableColumns(outbox), caseRef: sql<string>`(select ref from ${cases} where ${cases.id} = ${outbox.caseId})` });
    return rows.sort((a, b) => a.id - b.id);
  }

  /** Claimed rows not tried (stopping, the transport went down): given back untouched, no attempt used. */
  private async giveBack(rows: Claimed[]): Promise<void> {
    if (rows.length === 0) return;
    await this.ctx.database.db
      .update(outbox)
      .set({ status: 'pending', attempts: sql`greatest(${outbox.attempts} - 1, 0)`, claimedAt: null, claimedBy: null })
      .where(
        and(
          inArray(
            outbox.id,
            rows.map((r) => r.id),
          ),
          eq(outbox.status, 'sending'),
          eq(outbox.claimedBy, this.owner),
        ),
      )
      .catch((e: unknown) => this.log.error({ code: errorCode(e) }, 'cannot give claimed replies back'));
  }

  private async drain(limit: number): Promise<number> {
    const log = this.log;
    let sent = 0;
    try {
      await this.recover();
      await this.flushMarks();
    } catch (err) {
      log.error({ err }, 'cannot read the outbox');
      return 0;
    }
    if (this.unmarked.size > 0) return 0; // the database is not taking marks: send nothing more now
    while (sent < limit && !this.down && !this.stopping) {
      let rows: Claimed[];
      try {
        rows = await this.claim(Math.min(SEND_BATCH, limit - sent));
      } catch (err) {
        log.error({ err }, 'cannot read the outbox');
        break;
      }
      if (rows.length === 0) break;
      // One lane per case (its replies keep their order), up to `connections` lanes at once.
      const claimed = new Map(rows.map((r) => [r.id, r]));
      const tried = new Set<number>();
      const answered: Answered = async ({ id }, err) => {
        const row = claimed.get(id)!;
        tried.add(id);
        if (err !== null) return this.failed(row, err);
        // Accepted: from here on this reply is never sent again by this process.
        this.unmarked.set(id, this.ctx.now());
        try {
          this.journal.record(id);
        } catch (e) {
          log.error({ err: e, outboxId: id }, 'cannot write the send journal');
        }
        sent++;
        log.info({ outboxId: id, caseRef: row.caseRef, kind: row.kind, attempts: row.attempts }, 'reply sent');
      };
      const halted = () => this.down !== null || this.stopping;
      const batch = rows.map((row) => ({ row, caseRef: row.caseRef }));
      if (this.transport.sendBatch) await this.transport.sendBatch(batch, answered, halted);
      else await sendInLanes(batch, this.transport.connections, (b) => this.transport.send(b.row, b.caseRef), answered, halted);
      await this.giveBack(rows.filter((r) => !tried.has(r.id)));
      try {
        // The batch's accepted replies marked sent in one statement.
        await this.flushMarks();
      } catch (err) {
        log.error({ err, count: this.unmarked.size }, 'replies sent but not yet marked sent; the mark is retried (never sent again)');
        this.scheduleMarks();
        break;
      }
      if (rows.length < SEND_BATCH) break;
    }
    if (this.unmarked.size === 0) this.journal.clear();
    return sent;
  }

  /** Marks every accepted reply sent, in one statement (each keeps its own accept time); throws when the database still refuses. */
  private async flushMarks(): Promise<void> {
    const marks = [...this.unmarked.entries()];
    if (marks.length > 0) {
      const ids = marks.map(([id]) => id);
      const at = sql.join(
        marks.map(([id, t]) => sql`when ${id}::int then ${t.toISOString()}::timestamptz`),
        sql` `,
      );
      await this.ctx.database.db
        .update(outbox)
        .set({ status: 'sent', sentAt: sql`case ${outbox.id} ${at} end`, lastError: null, claimedAt: null })
        .where(inArray(outbox.id, ids));
      for (const id of ids) this.unmarked.delete(id);
    }
    this.markBackoff.reset();
  }

  private scheduleMarks(): void {
    if (this.markTimer) return;
    const delay = this.markBackoff.next();
    this.markTimer = setTimeout(() => {
      this.markTimer = null;
      this.flushMarks().then(
        () => {
          this.log.info({}, 'sent replies marked');
          this.onResume();
        },
        (err: unknown) => {
          this.log.warn({ code: errorCode(err), attempt: this.markBackoff.attempts }, 'marking sent replies failed; retrying');
          this.scheduleMarks();
        },
      );
    }, delay);
    this.markTimer.unref();
  }

  private async failed(row: Claimed, err: unknown): Promise<void> {
    const { db } = this.ctx.database;
    const code = err instanceof AppError ? err.code : 'SMTP_TRANSIENT';
    const context = err instanceof AppError ? { responseCode: err.context.responseCode, smtpCode: err.context.smtpCode } : undefined;
    const message = (err instanceof Error ? err.message : String(err)).slice(0, 500);
    const mine = and(eq(outbox.id, row.id), eq(outbox.status, 'sending'), eq(outbox.claimedBy, this.owner));
    const onDbError = (e: unknown) => this.log.error({ code: errorCode(e) }, 'cannot record a send failure');
    if (code === 'SMTP_DOWN') {
      // Not this reply's fault: it goes back as it was, and sending pauses until the transport answers.
      await db
        .update(outbox)
        .set({
          status: 'pending',
          attempts: sql`greatest(${outbox.attempts} - 1, 0)`,
          claimedAt: null,
          claimedBy: null,
          lastError: message,
        })
        .where(mine)
        .catch(onDbError);
      this.transportDown(message, err);
      return;
    }
    const giveUp = code === 'SMTP_PERMANENT' || row.attempts >= this.ctx.config.replies.maxAttempts;
    const next = new Date(this.ctx.now().getTime() + backoffMs(row.attempts));
    await db
      .update(outbox)
      .set({ status: giveUp ? 'failed' : 'pending', nextAttemptAt: next, lastError: message, claimedAt: null })
      .where(mine)
      .catch(onDbError);
    this.log.warn({ outboxId: row.id, code, attempts: row.attempts, giveUp, context }, 'reply not sent');
  }

  private transportDown(reason: string, err: unknown): void {
    if (!this.down) {
      this.down = { since: this.ctx.now(), reason };
      this.log.error(
        { err, since: this.down.since.toISOString() },
        `${this.transport.name === 'smtp' ? 'SMTP' : this.transport.name} nere sedan ${this.down.since.toISOString()}; sending paused`,
      );
    }
    this.scheduleProbe();
  }

  private scheduleProbe(): void {
    if (this.probeTimer || this.stopping) return;
    const delay = this.probeBackoff.next();
    this.probeTimer = setTimeout(() => {
      this.probeTimer = null;
      this.transport.probe().then(
        () => {
          const since = this.down?.since;
          this.down = null;
          this.probeBackoff.reset();
          this.log.info(
            { since: since?.toISOString(), downMs: since ? this.ctx.now().getTime() - since.getTime() : 0 },
            'SMTP answers again; sending resumed',
          );
          this.onResume();
        },
        (err: unknown) => {
          if (this.down) this.down.reason = (err instanceof Error ? err.message : String(err)).slice(0, 200);
          this.log.warn({ code: errorCode(err), attempt: this.probeBackoff.attempts }, 'SMTP still down');
          this.scheduleProbe();
        },
      );
    }, delay);
    this.probeTimer.unref();
  }
}
