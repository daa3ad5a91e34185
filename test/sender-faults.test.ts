/**
 * The outbox sender under faults, against a real SMTP server (smtp-server) and PostgreSQL (behind
 * a TCP proxy the test cuts): SMTP down and back, a refused login (535), a 5xx for one reply and
 * staff sending it again, the database gone between the SMTP accept and the mark, the journal of a
 * dead process, and a stale claim taken again while running.
 */
import fs from 'node:fs';
import fsp from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import { eq, inArray, sql } from 'drizzle-orm';
import { createContext } from '../src/app';
import { backoffDelay, Backoff, IMAP_RECONNECT, SMTP_PROBE } from '../src/backoff';
import { parseConfig } from '../src/config';
import type { AppContext } from '../src/context';
import { outbox } from '../src/db/schema';
import { ingestRaw } from '../src/intake/process';
import { requeueReply } from '../src/replies/requeue';
import { OutboxSender } from '../src/replies/sender';
import { SmtpTransport, classifySmtpError, type Transport } from '../src/replies/transport';
import { freshPostgres, type FreshPostgres } from './support/db';
import { notification } from './support/mails';
import { sleep } from './support/ports';
import { startSmtpSink, type SmtpSink } from './support/smtp';
import { startTcpProxy, type TcpProxy } from './support/tcp-proxy';

jest.setTimeout(90_000);

test('one backoff: a pinned sequence, capped, jittered downwards only', () => {
  const noJitter = () => 0;
  expect([1, 2, 3, 4, 5, 6, 7, 8].map((n) => backoffDelay(n, SMTP_PROBE, noJitter))).toEqual([
    1000, 2000, 4000, 8000, 16000, 20000, 20000, 20000,
  ]);
  expect([1, 2, 3, 4, 5, 6, 7].map((n) => backoffDelay(n, IMAP_RECONNECT, noJitter))).toEqual([250, 500, 1000, 2000, 4000, 8000, 8000]);
  expect(backoffDelay(3, SMTP_PROBE, () => 1)).toBe(2000); // full jitter: half
  const b = new Backoff(SMTP_PROBE, () => 0.5);
  expect([b.next(), b.next(), b.next()]).toEqual([750, 1500, 3000]);
  b.reset();
  expect(b.next()).toBe(750);
});

test('SMTP failures by reply code', () => {
  expect(classifySmtpError({ code: 'EAUTH', responseCode: 535 })).toBe('SMTP_DOWN');
  expect(classifySmtpError({ code: 'ECONNECTION' })).toBe('SMTP_DOWN');
  expect(classifySmtpError({ code: 'ETLS' })).toBe('SMTP_DOWN');
  expect(classifySmtpError({ code: 'EENVELOPE', responseCode: 550 })).toBe('SMTP_PERMANENT');
  expect(classifySmtpError({ code: 'EMESSAGE', responseCode: 552 })).toBe('SMTP_PERMANENT');
  expect(classifySmtpError({ code: 'EENVELOPE', responseCode: 451 })).toBe('SMTP_TRANSIENT');
  expect(classifySmtpError({ code: 'EMESSAGE', responseCode: 421 })).toBe('SMTP_DOWN');
  expect(classifySmtpError(new Error('socket closed'))).toBe('SMTP_DOWN');
});

describe('outbox sender', () => {
  let pg: FreshPostgres;
  let proxy: TcpProxy;
  let smtp: SmtpSink;
  let dataDir: string;
  let ctx: AppContext;
  let n = 0;

  const env = (extra: Record<string, string> = {}) => {
    const url = new URL(pg.url);
    url.port = String(proxy.port);
    return {
      DATABASE_URL: url.toString(),
      DATA_DIR: dataDir,
      SMTP_HOST: '127.0.0.1',
      SMTP_PORT: String(smtp.port),
      SMTP_SECURE: 'false',
      LOG_LEVEL: process.env.LCI_TEST_LOG_LEVEL ?? 'silent',
      HTTP_ENABLED: 'false',
      REPLY_MAX_PER_RECIPIENT_PER_HOUR: '10000',
      ...extra,
    };
  };

  /** `count` pending replies (each an incomplete notification from its own sender). */
  async function replies(count: number): Promise<number[]> {
    const ids: number[] = [];
    for (let i = 0; i < count; i++) {
      const k = n++;
      const m = notification({
        from: `utf${k}@omsorgshuset.se`,
        fromName: 'Utförare',
        subject: `Anmälan ${k}`,
        persons: [{ name: 'Kim Ek', function: 'Enhetschef' }],
      });
      await ingestRaw(ctx, Buffer.from(m.raw), { kind: 'ingest' });
      const [row] = await ctx.database.db
        .select({ id: outbox.id })
        .from(outbox)
        .orderBy(sql`${outbox.id} desc`)
        .limit(1);
      ids.push(row!.id);
    }
    return ids;
  }
  const rows = (ids: number[]) => ctx.database.db.select().from(outbox).where(inArray(outbox.id, ids)).orderBy(outbox.id);
  const received = (ids: string[]) => smtp.messages.filter((m) => ids.includes(m.parsed.messageId ?? '')).length;

  beforeAll(async () => {
    pg = await freshPostgres();
    proxy = await startTcpProxy({ host: '127.0.0.1', port: Number(new URL(pg.url).port || 5432) });
    smtp = await startSmtpSink();
    dataDir = await fsp.mkdtemp(path.join(os.tmpdir(), 'lci-send-'));
    ctx = await createContext(parseConfig(env()));
  });

  afterAll(async () => {
    await ctx?.database.close().catch(() => {});
    await smtp?.stop();
    await proxy?.close();
    await pg?.drop();
    if (dataDir) await fsp.rm(dataDir, { recursive: true, force: true });
  });

  it('SMTP down: sending pauses ("SMTP nere sedan"), no attempts used; all pending replies gone within 30 s of its return', async () => {
    const ids = await replies(20);
    const port = smtp.port;
    await smtp.stop();
    const transport = new SmtpTransport(ctx.config);
    const sender = new OutboxSender(ctx, transport);
    sender.onResume = () => void sender.runOnce();
    try {
      expect(await sender.runOnce()).toBe(0);
      expect(sender.status.ok).toBe(false);
      expect(sender.status.detail).toMatch(/^SMTP nere sedan \d{4}-\d\d-\d\dT/);
      await sleep(4000);
      expect((await rows(ids)).every((r) => r.status === 'pending' && r.attempts === 0)).toBe(true);
      smtp = await startSmtpSink({ port });
      const back = Date.now();
      const messageIds = (await rows(ids)).map((r) => r.messageId);
      while (received(messageIds) < ids.length && Date.now() - back < 30_000) await sleep(50);
      await sender.runOnce();
      const drainS = (Date.now() - back) / 1000;
      console.log(`SMTP down 4 s: ${ids.length} replies drained ${drainS.toFixed(1)} s after it came back`);
      expect(received(messageIds)).toBe(ids.length);
      expect(drainS).toBeLessThan(30);
      const after = await rows(ids);
      expect(after.every((r) => r.status === 'sent' && r.attempts === 1)).toBe(true);
      expect(sender.status.ok).toBe(true);
    } finally {
      await sender.stop();
      transport.close();
    }
  });

  it('a refused login (535) pauses sending without failing any reply; fixed, everything goes', async () => {
    let accept = false;
    const authed = await startSmtpSink({ auth: { accept: () => accept } });
    const authCtx = {
      ...ctx,
      config: parseConfig(env({ SMTP_PORT: String(authed.port), SMTP_USER: 'vardochstod', SMTP_PASSWORD: 'gammalt' })),
    };
    const ids = await replies(5);
    const transport = new SmtpTransport(authCtx.config);
    const sender = new OutboxSender(authCtx, transport);
    sender.onResume = () => void sender.runOnce();
    try {
      await sender.runOnce();
      expect(sender.status.ok).toBe(false);
      expect(sender.status.detail).toContain('SMTP nere sedan');
      expect((await rows(ids)).map((r) => r.status)).toEqual(ids.map(() => 'pending'));
      accept = true;
      const t = Date.now();
      while (authed.messages.length < ids.length && Date.now() - t < 30_000) await sleep(50);
      await sender.runOnce();
      expect(authed.messages).toHaveLength(ids.length);
      expect((await rows(ids)).every((r) => r.status === 'sent' && r.attempts === 1)).toBe(true);
    } finally {
      await sender.stop();
      transport.close();
      await authed.stop();
    }
  });

  it('a 5xx for one reply fails only that reply; staff send it again', async () => {
    const ids = await replies(3);
    smtp.failNext(1, 550);
    const transport = new SmtpTransport(ctx.config);
    const sender = new OutboxSender(ctx, transport);
    try {
      expect(await sender.runOnce()).toBe(2);
      const [first, ...rest] = await rows(ids);
      expect(first).toMatchObject({ status: 'failed', attempts: 1 });
      expect(rest.every((r) => r.status === 'sent')).toBe(true);
      await requeueReply(ctx.database.db, first!.id, 'staff:anna', new Date());
      expect(await sender.runOnce()).toBe(1);
      expect((await rows([first!.id]))[0]).toMatchObject({ status: 'sent', lastError: null });
      expect(received([first!.messageId])).toBe(1);
    } finally {
      await sender.stop();
      transport.close();
    }
  });

  it('the database gone between the SMTP accept and the mark: the mark is retried, the reply never sent again', async () => {
    const ids = await replies(4);
    const real = new SmtpTransport(ctx.config);
    let cut = false;
    // A fault injected in the test: the connection to PostgreSQL is cut right after the first accept.
    const faulty: Transport = {
      name: 'smtp',
      connections: real.connections,
      async send(row, ref) {
        await real.send(row, ref);
        if (!cut) {
          cut = true;
          await proxy.cut();
        }
      },
      probe: () => real.probe(),
      close: () => real.close(),
    };
    const sender = new OutboxSender(ctx, faulty);
    try {
      // The claimed batch is sent (each journaled), then its mark fails: nothing more until it succeeds.
      expect(await sender.runOnce()).toBe(4);
      expect(sender.status.ok).toBe(false);
      // Runs while the database is away send nothing (the unmarked reply is not sent again).
      expect(await sender.runOnce()).toBe(0);
      await sleep(1500);
      expect(await sender.runOnce()).toBe(0);
      await proxy.restore();
      const t = Date.now();
      let sent = 0;
      while (Date.now() - t < 20_000) {
        sent += await sender.runOnce();
        const r = await rows(ids).catch(() => []);
        if (r.length === ids.length && r.every((x) => x.status === 'sent')) break;
        await sleep(200);
      }
      const after = await rows(ids);
      expect(after.every((r) => r.status === 'sent')).toBe(true);
      for (const r of after) expect(received([r.messageId])).toBe(1);
      expect(sent).toBe(0);
    } finally {
      await proxy.restore().catch(() => {});
      await sender.stop();
      real.close();
    }
  });

  it("a dead process's journal marks its accepted replies sent; a stale claim is taken again while running, a fresh one is not", async () => {
    const [journaled, stale, fresh] = await replies(3);
    const old = new Date(Date.now() - 10 * 60_000);
    await ctx.database.db
      .update(outbox)
      .set({ status: 'sending', claimedAt: old, claimedBy: 'dead' })
      .where(inArray(outbox.id, [journaled!, stale!]));
    await ctx.database.db.update(outbox).set({ status: 'sending', claimedAt: new Date(), claimedBy: 'alive' }).where(eq(outbox.id, fresh!));
    // Process 2^22 + 1 is not running: its journal says the SMTP server took `journaled`.
    const dir = path.join(dataDir, 'outbox-journal');
    fs.mkdirSync(dir, { recursive: true });
    fs.writeFileSync(path.join(dir, `${4_194_305}.log`), `${journaled}\n`);
    const transport = new SmtpTransport(ctx.config);
    const sender = new OutboxSender(ctx, transport);
    try {
      const [j] = await rows([journaled!]);
      expect(await sender.runOnce()).toBe(1);
      const after = await rows([journaled!, stale!, fresh!]);
      expect(after.map((r) => r.status)).toEqual(['sent', 'sent', 'sending']);
      expect(received([j!.messageId])).toBe(0); // marked from the journal, not sent
      expect(fs.existsSync(path.join(dir, `${4_194_305}.log`))).toBe(false);
    } finally {
      await ctx.database.db.update(outbox).set({ status: 'sent' }).where(eq(outbox.id, fresh!));
      await sender.stop();
      transport.close();
    }
  });
});
