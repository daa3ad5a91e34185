import { count, sql } from 'drizzle-orm';
import { Counter, Gauge, Histogram, Registry, collectDefaultMetrics } from 'prom-client';
import type { AppContext } from './context';
import { cases, messages, outbox, tasks } from './db/schema';
import { tokenStates } from './oauth';
import { reviewQueueCount } from './web/queries';

/**
 * Prometheus metrics, all named `lifecare_intake_*`. Counts of mail, replies, cases and tasks are
 * gauges read from the database at scrape time (true across processes and restarts); the few
 * in-process events (parse time, token requests) are recorded where they happen.
 */

export const PREFIX = 'lifecare_intake_';

/** Process-wide metrics recorded by other modules (one line at the call site). */
export const processRegistry = new Registry();
collectDefaultMetrics({ register: processRegistry, prefix: PREFIX });

export const parseSeconds = new Histogram({
  name: `${PREFIX}parse_seconds`,
  help: 'Time to parse one mail (classify, decode, extract, validate)',
  buckets: [0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5],
  registers: [processRegistry],
});

export const signIns = new Counter({
  name: `${PREFIX}sign_ins_total`,
  help: 'Staff sign-in attempts in this process by method and result',
  labelNames: ['method', 'result'] as const,
  registers: [processRegistry],
});

export interface MailboxPoll {
  mailbox: string;
  lastPollAt: Date | null;
  ok: boolean;
}

export interface MetricsSources {
  /** The mailboxes this process polls and when each last polled successfully. */
  mailboxes?: () => MailboxPoll[];
}

/** The registry served at /metrics: the process-wide metrics plus gauges read at scrape time. */
export function createMetricsRegistry(ctx: AppContext, sources: MetricsSources = {}): Registry {
  const db = ctx.database.db;
  const scrape = new Registry();
  const startedAt = ctx.now();

  new Gauge({
    name: `${PREFIX}mails`,
    help: 'Mails stored, by kind (notification, automated, other, own) and outcome (processed, ignored, review, settled)',
    labelNames: ['kind', 'outcome'] as const,
    registers: [scrape],
    async collect() {
      this.reset();
      const list = await db
        .select({ kind: messages.kind, status: messages.status, n: count() })
        .from(messages)
        .groupBy(messages.kind, messages.status);
      for (const r of list) this.set({ kind: r.kind, outcome: r.status }, Number(r.n));
    },
  });

  new Gauge({
    name: `${PREFIX}review_queue`,
    help: 'Mails waiting in the review queue (Att granska)',
    registers: [scrape],
    async collect() {
      this.set(await reviewQueueCount(db));
    },
  });

  new Gauge({
    name: `${PREFIX}outbox`,
    help: 'Replies in the outbox by state (pending, held, sending, sent, failed, suppressed)',
    labelNames: ['state'] as const,
    registers: [scrape],
    async collect() {
      this.reset();
      for (const s of ['pending', 'held', 'sending', 'sent', 'failed', 'suppressed']) this.set({ state: s }, 0);
      const list = await db.select({ status: outbox.status, n: count() }).from(outbox).groupBy(outbox.status);
      for (const r of list) this.set({ state: r.status }, Number(r.n));
    },
  });

  new Gauge({
    name: `${PREFIX}replies`,
    help: 'Replies by kind and result (sent, failed, suppressed, held, pending, sending)',
    labelNames: ['kind', 'result'] as const,
    registers: [scrape],
    async collect() {
      this.reset();
      const list = await db
        .select({ kind: outbox.kind, status: outbox.status, n: count() })
        .from(outbox)
        .groupBy(outbox.kind, outbox.status);
      for (const r of list) this.set({ kind: r.kind, result: r.status }, Number(r.n));
    },
  });

  new Gauge({
    name: `${PREFIX}cases`,
    help: 'Cases by status',
    labelNames: ['status'] as const,
    registers: [scrape],
    async collect() {
      this.reset();
      const list = await db.select({ status: cases.status, n: count() }).from(cases).groupBy(cases.status);
      for (const r of list) this.set({ status: r.status }, Number(r.n));
    },
  });

  new Gauge({
    name: `${PREFIX}tasks`,
    help: 'Provisioning tasks by status',
    labelNames: ['status'] as const,
    registers: [scrape],
    async collect() {
      this.reset();
      const list = await db.select({ status: tasks.status, n: count() }).from(tasks).groupBy(tasks.status);
      for (const r of list) this.set({ status: r.status }, Number(r.n));
    },
  });

  new Gauge({
    name: `${PREFIX}oldest_pending_reply_seconds`,
    help: 'Age of the oldest reply not yet sent (pending or sending); 0 when none',
    registers: [scrape],
    async collect() {
      const [r] = await db
        .select({ at: sql<string | Date | null>`min(${outbox.createdAt})` })
        .from(outbox)
        .where(sql`${outbox.status} in ('pending', 'sending')`);
      const at = r?.at ? new Date(r.at) : null;
      this.set(at ? Math.max(0, (ctx.now().getTime() - at.getTime()) / 1000) : 0);
    },
  });

  new Gauge({
    name: `${PREFIX}last_poll_age_seconds`,
    help: 'Seconds since the last successful poll of each mailbox this process reads (since start when none yet)',
    labelNames: ['mailbox'] as const,
    registers: [scrape],
    collect() {
      this.reset();
      const now = ctx.now().getTime();
      for (const m of sources.mailboxes?.() ?? [])
        this.set({ mailbox: m.mailbox }, Math.max(0, (now - (m.lastPollAt ?? startedAt).getTime()) / 1000));
    },
  });

  new Gauge({
    name: `${PREFIX}mailbox_up`,
    help: '1 when the mailbox connection is usable, else 0',
    labelNames: ['mailbox'] as const,
    registers: [scrape],
    collect() {
      this.reset();
      for (const m of sources.mailboxes?.() ?? []) this.set({ mailbox: m.mailbox }, m.ok ? 1 : 0);
    },
  });

  if (ctx.config.oauth) {
    new Gauge({
      name: `${PREFIX}oauth_token_expiry_seconds`,
      help: 'Seconds until the cached Microsoft 365 access token expires (NaN before the first token; only with OAuth2)',
      registers: [scrape],
      collect() {
        const expiries = tokenStates()
          .map((s) => s.expiresAt)
          .filter((d): d is Date => d !== null);
        this.set(expiries.length ? Math.min(...expiries.map((d) => (d.getTime() - ctx.now().getTime()) / 1000)) : Number.NaN);
      },
    });

    new Gauge({
      name: `${PREFIX}oauth_token_failures`,
      help: 'Failed token requests to the OAuth2 token endpoint since this process started (only with OAuth2)',
      registers: [scrape],
      collect() {
        this.set(tokenStates().reduce((n, s) => n + s.failures, 0));
      },
    });
  }

  const expires = ctx.config.oauthSecretExpires;
  if (expires) {
    new Gauge({
      name: `${PREFIX}oauth_secret_expiry_seconds`,
      help: 'Seconds until the OAuth2 client secret expires (OAUTH_SECRET_EXPIRES; negative once expired)',
      registers: [scrape],
      collect() {
        this.set((expires.getTime() - ctx.now().getTime()) / 1000);
      },
    });
  }

  return Registry.merge([processRegistry, scrape]);
}
