/**
 * SMTP away for OUTAGE_S seconds (default 60) with replies waiting: how long after it returns
 * until every pending reply is sent, how many sent twice, how many attempts used. PostgreSQL (a
 * fresh database on the shared server) and a real SMTP server (smtp-server) stopped and reopened.
 *   npx tsx scripts/smtp-outage.ts [replies=200] [outage seconds=60]
 */
import fsp from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import { inArray } from 'drizzle-orm';
import { createContext } from '../src/app';
import { parseConfig } from '../src/config';
import { outbox } from '../src/db/schema';
import { ingestRaw } from '../src/intake/process';
import { Worker } from '../src/worker';
import { freshPostgres } from '../test/support/db';
import { notification } from '../test/support/mails';
import { startSmtpSink } from '../test/support/smtp';

const REPLIES = Number(process.argv[2] ?? 200);
const OUTAGE_S = Number(process.argv[3] ?? 60);
const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

async function main(): Promise<void> {
  const pg = await freshPostgres();
  let smtp = await startSmtpSink();
  const port = smtp.port;
  const dataDir = await fsp.mkdtemp(path.join(os.tmpdir(), 'lci-outage-'));
  const ctx = await createContext(
    parseConfig({
      DATABASE_URL: pg.url,
      DATA_DIR: dataDir,
      SMTP_HOST: '127.0.0.1',
      SMTP_PORT: String(port),
      SMTP_SECURE: 'false',
      LOG_LEVEL: 'silent',
      HTTP_ENABLED: 'false',
      REPLY_MAX_PER_RECIPIENT_PER_HOUR: '100000',
    }),
  );
  const worker = new Worker(ctx);
  try {
    await smtp.stop();
    await worker.start();
    for (let i = 0; i < REPLIES; i++) {
      const m = notification({
        from: `utf${i}@omsorgshuset.se`,
        fromName: 'U',
        subject: `Avbrott ${i}`,
        persons: [{ name: 'Kim Ek', function: 'Enhetschef' }],
      });
      await ingestRaw(ctx, Buffer.from(m.raw), { kind: 'ingest' });
    }
    await worker.tick('test');
    console.log(`SMTP down; ${REPLIES} replies waiting; sender: ${worker.senderStatus.detail}`);
    await sleep(OUTAGE_S * 1000);
    smtp = await startSmtpSink({ port });
    const back = Date.now();
    while (smtp.messages.length < REPLIES && Date.now() - back < 300_000) await sleep(50);
    const drainS = (Date.now() - back) / 1000;
    const rows = await ctx.database.db
      .select()
      .from(outbox)
      .where(inArray(outbox.status, ['pending', 'sending', 'sent', 'failed']));
    const ids = new Map<string, number>();
    for (const m of smtp.messages) ids.set(m.parsed.messageId ?? '', (ids.get(m.parsed.messageId ?? '') ?? 0) + 1);
    console.log(
      JSON.stringify({
        outageS: OUTAGE_S,
        replies: REPLIES,
        drainedAfterReturnS: drainS,
        received: smtp.messages.length,
        sentTwice: [...ids.values()].filter((n) => n > 1).length,
        failed: rows.filter((r) => r.status === 'failed').length,
        maxAttempts: Math.max(...rows.map((r) => r.attempts)),
      }),
    );
  } finally {
    await worker.stop();
    await ctx.database.close();
    await smtp.stop();
    await pg.drop();
    await fsp.rm(dataDir, { recursive: true, force: true });
  }
}

void main().then(
  () => process.exit(0),
  (e: unknown) => {
    console.error(e);
    process.exit(1);
  },
);
