/**
 * /metrics (Prometheus text, lifecare_intake_*) behind Bearer METRICS_TOKEN, and /healthz:
 * degraded when the last successful poll is too old, warning when the client secret expires soon.
 */
import fsp from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import { parseConfig } from '../src/config';
import type { AppContext } from '../src/context';
import { ingestRaw } from '../src/intake/process';
import { logger } from '../src/log';
import { DEFAULT_RULES_DIR, loadRules } from '../src/rules/load';
import { startWebServer, type MailboxStatus } from '../src/web/server';
import { openTestDatabase, type TestDatabase } from './support/db';
import { notification } from './support/mails';

const TOKEN = 'metrics-token-for-the-test-0123456789';
let tdb: TestDatabase;
let ctx: AppContext;
let dataDir: string;
const now = new Date('2026-12-01T10:00:00Z');

beforeAll(async () => {
  dataDir = await fsp.mkdtemp(path.join(os.tmpdir(), 'lci-metrics-'));
  tdb = await openTestDatabase('postgres');
  ctx = {
    config: parseConfig({
      DATA_DIR: dataDir,
      HTTP_PORT: '0',
      METRICS_TOKEN: TOKEN,
      OAUTH_TENANT_ID: 't',
      OAUTH_CLIENT_ID: 'c',
      OAUTH_CLIENT_SECRET: 's',
      OAUTH_SECRET_EXPIRES: '2026-12-21',
      HEALTH_MAX_POLL_AGE_MINUTES: '15',
    }),
    rules: loadRules(DEFAULT_RULES_DIR),
    database: tdb.database,
    log: logger('test'),
    now: () => now,
  };
  // one incomplete notification (a request for more is queued), one complete, one question (review)
  await ingestRaw(
    ctx,
    Buffer.from(notification({ from: 'a@attendo.se', fromName: 'A', subject: 'Ny', persons: [{ name: 'Eva Ek', function: 'Chef' }] }).raw),
    { kind: 'ingest' },
  );
  await ingestRaw(
    ctx,
    Buffer.from(
      'From: k@example.org\r\nTo: vardochstod@orebro.se\r\nSubject: Fråga\r\nMessage-ID: <q1@example.org>\r\n\r\nHur gör vi?\r\n',
    ),
    { kind: 'ingest' },
  );
}, 120_000);

afterAll(async () => {
  await tdb?.cleanup();
  if (dataDir) await fsp.rm(dataDir, { recursive: true, force: true });
});

async function withServer(status: MailboxStatus, fn: (url: string) => Promise<void>) {
  const server = await startWebServer(ctx, { mailboxStatus: () => status, mailboxName: 'vardochstod@orebro.se/INBOX' });
  try {
    await fn(server.url);
  } finally {
    await server.close();
  }
}

test('/metrics needs the bearer token and serves lifecare_intake_* read from the database and the worker', async () => {
  await withServer({ ok: true, detail: 'connected', lastPollAt: new Date(now.getTime() - 90_000) }, async (url) => {
    expect((await fetch(`${url}/metrics`)).status).toBe(401);
    expect((await fetch(`${url}/metrics`, { headers: { authorization: 'Bearer wrong' } })).status).toBe(401);
    const res = await fetch(`${url}/metrics`, { headers: { authorization: `Bearer ${TOKEN}` } });
    expect(res.status).toBe(200);
    expect(res.headers.get('content-type')).toMatch(/^text\/plain; version=0\.0\.4/);
    const body = await res.text();
    await fsp.writeFile(path.join(os.tmpdir(), 'lci-metrics-sample.txt'), body);
    const names = new Set([...body.matchAll(/^# TYPE (\S+) /gm)].map((m) => m[1]!));
    for (const n of names) expect(n).toMatch(/^lifecare_intake_/);
    expect(body).toMatch(/^lifecare_intake_mails\{kind="notification",outcome="processed"\} 1$/m);
    expect(body).toMatch(/^lifecare_intake_mails\{kind="other",outcome="review"\} 1$/m);
    expect(body).toMatch(/^lifecare_intake_review_queue 1$/m);
    expect(body).toMatch(/^lifecare_intake_outbox\{state="pending"\} 1$/m);
    expect(body).toMatch(/^lifecare_intake_outbox\{state="failed"\} 0$/m);
    expect(body).toMatch(/^lifecare_intake_replies\{kind="[a-z_]+",result="pending"\} 1$/m);
    expect(body).toMatch(/^lifecare_intake_last_poll_age_seconds\{mailbox="vardochstod@orebro.se\/INBOX"\} 90$/m);
    expect(body).toMatch(/^lifecare_intake_mailbox_up\{mailbox="vardochstod@orebro.se\/INBOX"\} 1$/m);
    expect(body).toMatch(/^lifecare_intake_oauth_secret_expiry_seconds 1692000$/m); // 19 days 14 hours
    expect(body).toMatch(/^lifecare_intake_parse_seconds_count [1-9]\d*$/m);
    expect(body).toMatch(/^lifecare_intake_process_resident_memory_bytes \d+/m);
  });
});

test('/healthz: degraded after HEALTH_MAX_POLL_AGE_MINUTES without a successful poll; the secret warning shows 30 days before', async () => {
  await withServer({ ok: true, detail: 'connected', lastPollAt: new Date(now.getTime() - 16 * 60_000) }, async (url) => {
    const anon = await fetch(`${url}/healthz`);
    expect(anon.status).toBe(503);
    expect(await anon.json()).toEqual({ status: 'not ok' });
    const res = await fetch(`${url}/healthz`, { headers: { authorization: `Bearer ${TOKEN}` } });
    expect(res.status).toBe(503);
    expect(await res.json()).toMatchObject({
      status: 'degraded',
      mailbox: { ok: true },
      warnings: ['no successful poll for more than 15 minutes', 'the OAuth2 client secret expires in 20 days'],
    });
  });
  await withServer({ ok: true, detail: 'connected', lastPollAt: new Date(now.getTime() - 60_000) }, async (url) => {
    const res = await fetch(`${url}/healthz`, { headers: { authorization: `Bearer ${TOKEN}` } });
    expect(res.status).toBe(200);
    expect(await res.json()).toMatchObject({ status: 'ok', warnings: ['the OAuth2 client secret expires in 20 days'] });
    expect(await (await fetch(`${url}/healthz`)).json()).toEqual({ status: 'ok' });
  });
});
