/**
 * Proves the test support works on this machine: a private Dovecot (APPEND, IDLE, MOVE), the
 * SMTP sink (headers, forced 4xx), fresh PostgreSQL / PGlite databases and headless Chromium.
 */
import { ImapFlow, type ExistsEvent } from 'imapflow';
import nodemailer, { type Transporter } from 'nodemailer';
import postgres from 'postgres';
import { cases } from '../src/db/schema';
import { launchBrowser } from './support/browser';
import { ADMIN_URL, freshPgliteDir, freshPostgres, openTestDatabase } from './support/db';
import { appendMail, listMailbox, startDovecot, type DovecotServer } from './support/dovecot';
import { canConnect, sleep } from './support/ports';
import { startSmtpSink, type SmtpSink } from './support/smtp';

const timings: Record<string, number> = {};
afterAll(() => {
  const line = Object.entries(timings)
    .map(([k, v]) => `${k}=${v}ms`)
    .join(' ');
  process.stderr.write(`infra timings: ${line}\n`);
});

const USER = 'vardochstod@orebro.se';
const PASS = 'secret';

function mail(subject: string, body = 'Hej!'): string {
  return [
    'From: Vårdgivare <provider@example.org>',
    `To: ${USER}`,
    `Subject: ${subject}`,
    `Message-ID: <${Date.now()}.${Math.random().toString(36).slice(2)}@example.org>`,
    'MIME-Version: 1.0',
    'Content-Type: text/plain; charset=utf-8',
    '',
    body,
    '',
  ].join('\r\n');
}

describe('Dovecot', () => {
  let server: DovecotServer;

  beforeAll(async () => {
    const t0 = Date.now();
    server = await startDovecot();
    timings.dovecotStart = Date.now() - t0;
  });

  afterAll(async () => {
    if (!server) return;
    const { port, dir } = server;
    await server.stop();
    expect(await canConnect(port)).toBe(false);
    const fs = await import('node:fs');
    expect(fs.existsSync(dir)).toBe(false);
  });

  it('appends two mails and lists them', async () => {
    expect(server.port).toBeGreaterThan(1024);
    const uid1 = await appendMail(server, USER, PASS, mail('Första'));
    const uid2 = await appendMail(server, USER, PASS, Buffer.from(mail('Andra ärendet'), 'utf8'));
    expect(typeof uid1).toBe('number');
    expect(uid2).toBe((uid1 ?? 0) + 1);
    const listed = await listMailbox(server, USER, PASS, 'INBOX');
    expect(listed).toEqual([
      { uid: uid1, subject: 'Första' },
      { uid: uid2, subject: 'Andra ärendet' },
    ]);
    expect(await listMailbox(server, USER, PASS, 'Does/Not/Exist')).toEqual([]);
  });

  it('rejects a wrong password', async () => {
    await expect(appendMail(server, USER, 'wrong', mail('x'))).rejects.toThrow();
  });

  it('IDLE tells a connected client about a message appended from another connection', async () => {
    const watcher = new ImapFlow({
      host: server.host,
      port: server.port,
      secure: false,
      logger: false,
      auth: { user: USER, pass: PASS },
      autoIdleDelay: 100,
    });
    await watcher.connect();
    try {
      expect(watcher.capabilities.has('IDLE')).toBe(true);
      await watcher.mailboxOpen('INBOX');
      const before = watcher.mailbox ? watcher.mailbox.exists : -1;
      const deadline = Date.now() + 5000;
      while (!watcher.idling && Date.now() < deadline) await sleep(20);
      expect(watcher.idling).toBe(true);

      const seen = new Promise<ExistsEvent>((resolve) => watcher.once('exists', (ev: ExistsEvent) => resolve(ev)));
      const t0 = Date.now();
      await appendMail(server, USER, PASS, mail('Ny anmälan'));
      let timer: NodeJS.Timeout | undefined;
      const ev = await Promise.race([
        seen,
        new Promise<never>((_, reject) => {
          timer = setTimeout(() => reject(new Error('no EXISTS within 5 s')), 5000);
        }),
      ]).finally(() => clearTimeout(timer));
      const latency = Date.now() - t0;
      timings.idleLatency = latency;
      expect(ev.path).toBe('INBOX');
      expect(ev.count).toBe(before + 1);
      expect(latency).toBeLessThan(5000);
    } finally {
      await watcher.logout().catch(() => watcher.close());
    }
  });

  it('MOVEs a message into a newly created folder', async () => {
    const uid = await appendMail(server, USER, PASS, mail('Flyttas'));
    expect(uid).toBeDefined();
    const c = new ImapFlow({
      host: server.host,
      port: server.port,
      secure: false,
      logger: false,
      auth: { user: USER, pass: PASS },
      disableAutoIdle: true,
    });
    await c.connect();
    try {
      expect(c.capabilities.has('MOVE')).toBe(true);
      const created = await c.mailboxCreate(['Lifecare', 'Behandlade']);
      expect(created.path).toBe('Lifecare/Behandlade');
      const lock = await c.getMailboxLock('INBOX');
      try {
        const res = await c.messageMove(String(uid), 'Lifecare/Behandlade', { uid: true });
        expect(res).not.toBe(false);
        if (res) expect(res.uidMap?.size).toBe(1);
      } finally {
        lock.release();
      }
    } finally {
      await c.logout().catch(() => c.close());
    }
    const moved = await listMailbox(server, USER, PASS, 'Lifecare/Behandlade');
    expect(moved.map((m) => m.subject)).toEqual(['Flyttas']);
    const inbox = await listMailbox(server, USER, PASS, 'INBOX');
    expect(inbox.map((m) => m.subject)).not.toContain('Flyttas');
  });
});

describe('SMTP sink', () => {
  let sink: SmtpSink;
  beforeAll(async () => {
    sink = await startSmtpSink();
  });
  afterAll(async () => {
    if (sink) await sink.stop();
  });

  const transport = (): Transporter => nodemailer.createTransport({ host: sink.host, port: sink.port, secure: false, ignoreTLS: true });

  it('receives a mail with its custom headers intact', async () => {
    const t = transport();
    try {
      await t.sendMail({
        from: 'vardochstod@orebro.se',
        to: ['provider@example.org', 'kopia@example.org'],
        subject: 'Komplettering behövs – ärende LSP-1',
        text: 'Hej,\nvi behöver ett personnummer.\n',
        headers: { 'X-Lifecare-Case': 'LSP-1', 'Auto-Submitted': 'auto-replied' },
      });
    } finally {
      t.close();
    }
    const [msg] = await sink.waitFor(1);
    expect(msg).toBeDefined();
    if (!msg) return;
    expect(msg.envelope.from).toBe('vardochstod@orebro.se');
    expect(msg.envelope.to).toEqual(['provider@example.org', 'kopia@example.org']);
    expect(msg.parsed.subject).toBe('Komplettering behövs – ärende LSP-1');
    expect(msg.parsed.headers.get('x-lifecare-case')).toBe('LSP-1');
    expect(msg.parsed.headers.get('auto-submitted')).toBe('auto-replied');
    expect(msg.parsed.text).toContain('personnummer');
    expect(msg.raw.toString('latin1')).toMatch(/^X-Lifecare-Case: LSP-1\r$/m);
  });

  it('failNext(1) fails exactly one send with a 4xx', async () => {
    sink.clear();
    sink.failNext(1);
    const t = transport();
    try {
      const err = await t.sendMail({ from: 'a@example.org', to: 'b@example.org', subject: 'one', text: '1' }).then(
        () => undefined,
        (e: unknown) => e as { responseCode?: number },
      );
      expect(err).toBeDefined();
      expect(err?.responseCode).toBe(451);
      expect(sink.messages).toHaveLength(0);
      await t.sendMail({ from: 'a@example.org', to: 'b@example.org', subject: 'two', text: '2' });
    } finally {
      t.close();
    }
    const got = await sink.waitFor(1);
    expect(got.map((m) => m.parsed.subject)).toEqual(['two']);
    await expect(sink.waitFor(2, 200)).rejects.toThrow(/expected 2/);
  });
});

describe('databases', () => {
  it('freshPostgres creates and drops a database', async () => {
    const pg = await freshPostgres();
    expect(pg.url).toMatch(/\/lci_test_[0-9a-f]+$/);
    const sql = postgres(pg.url, { max: 1 });
    try {
      const rows = await sql<{ db: string }[]>`select current_database() as db`;
      expect(rows[0]?.db).toBe(pg.name);
    } finally {
      await sql.end({ timeout: 5 });
    }
    await pg.drop();
    const admin = postgres(ADMIN_URL, { max: 1 });
    try {
      const left = await admin`select 1 from pg_database where datname = ${pg.name}`;
      expect(left).toHaveLength(0);
    } finally {
      await admin.end({ timeout: 5 });
    }
  });

  it.each(['postgres', 'pglite'] as const)('openTestDatabase(%s) gives a migrated database', async (kind) => {
    const t0 = Date.now();
    const { database, cleanup } = await openTestDatabase(kind);
    timings[`${kind}Open`] = Date.now() - t0;
    try {
      expect(database.kind).toBe(kind);
      const rows = await database.db.select().from(cases);
      expect(rows).toEqual([]);
    } finally {
      await cleanup();
    }
  });

  it('freshPgliteDir gives an empty folder and removes it', async () => {
    const fs = await import('node:fs');
    const { dir, cleanup } = await freshPgliteDir();
    expect(fs.readdirSync(dir)).toEqual([]);
    await cleanup();
    expect(fs.existsSync(dir)).toBe(false);
  });
});

describe('browser', () => {
  it('opens a data: URL and reads the DOM', async () => {
    const t0 = Date.now();
    const browser = await launchBrowser();
    timings.chromiumLaunch = Date.now() - t0;
    try {
      const page = await browser.newPage();
      const html = '<!doctype html><meta charset="utf-8"><title>Ärenden</title><ul id="l"><li>LSP-1</li><li>LSP-2</li></ul>';
      await page.goto(`data:text/html;charset=utf-8,${encodeURIComponent(html)}`);
      expect(await page.title()).toBe('Ärenden');
      expect(await page.locator('#l li').allTextContents()).toEqual(['LSP-1', 'LSP-2']);
      expect(await page.evaluate(() => 6 * 7)).toBe(42);
    } finally {
      await browser.close();
    }
  });
});
