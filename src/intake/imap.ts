import { and, eq, inArray } from 'drizzle-orm';
import { ImapFlow } from 'imapflow';
import type { AppContext } from '../context';
import { messages } from '../db/schema';
import { Backoff, IMAP_RECONNECT } from '../backoff';
import { errorMessage } from '../errors';
import { Coalescer } from '../loop';
import type { TokenProvider } from '../oauth';
import type { Intake, IntakeStatus } from './intake';
import { ingestBatch, parseAhead, type Folder, type IntakeItem, type ParsedAhead } from './process';

type Moves = Record<Folder, number[]>;
/** A part of a batch read and being parsed: its UIDs beside the items handed to intake. */
type Unit = { uids: number[]; items: IntakeItem[]; ahead: ParsedAhead };

/** A batch's sources are held in memory together: at most this many bytes (a larger mail goes alone). */
const BATCH_BYTES = 32 * 1024 * 1024;

/**
 * A mail larger than this is fetched alone, this much at a time, into memory the parse thread
 * shares: one copy of it in the process (a whole FETCH holds the literal's pieces and their join).
 */
const PIECE_BYTES = 1024 * 1024;

/** A large mail's source in PIECE_BYTES partial FETCHes, into a SharedArrayBuffer of its listed size (grown if the server sends more). */
async function fetchInPieces(client: ImapFlow, uid: number, size: number): Promise<Buffer | null> {
  let buf = Buffer.from(new SharedArrayBuffer(size));
  let len = 0;
  for (;;) {
    const m = await client.fetchOne(String(uid), { uid: true, source: { start: len, maxLength: PIECE_BYTES } }, { uid: true });
    const piece = m ? m.source : undefined;
    if (!piece || piece.length === 0) break;
    if (len + piece.length > buf.length) {
      const grown = Buffer.from(new SharedArrayBuffer(Math.max(buf.length * 2, len + piece.length)));
      buf.copy(grown, 0, 0, len);
      buf = grown;
    }
    piece.copy(buf, len);
    len += piece.length;
    if (piece.length < PIECE_BYTES) break;
  }
  return len > 0 ? buf.subarray(0, len) : null;
}

/** The batch cut where its sources would pass BATCH_BYTES (a mail over the limit counts as its first 64 KiB). */
function byBytes<T extends { size?: number }>(list: T[], max: number): T[][] {
  const groups: T[][] = [];
  let cur: T[] = [];
  let bytes = 0;
  for (const m of list) {
    const n = (m.size ?? 0) > max ? 65_536 : (m.size ?? 0);
    if (cur.length > 0 && bytes + n > BATCH_BYTES) {
      groups.push(cur);
      cur = [];
      bytes = 0;
    }
    cur.push(m);
    bytes += n;
  }
  if (cur.length) groups.push(cur);
  return groups;
}

/**
 * IMAP intake. Every UID in the mailbox is either recorded in the database (then only moved)
 * or processed, then moved to the processed / review / ignored folder. Progress is UIDVALIDITY +
 * UID in the database, never \Seen. IDLE makes new mail land at once; reconnects back off.
 */
export class ImapIntake implements Intake {
  private client: ImapFlow | null = null;
  private connecting: Promise<ImapFlow> | null = null;
  private stopped = false;
  private readonly polling = new Coalescer(
    () => this.scanMailbox(),
    (err) => {
      this.status.detail = `poll failed: ${errorMessage(err)}`;
      this.ctx.log.error({ component: 'imap', err }, 'IMAP poll failed');
    },
    () => !this.stopped,
  );
  private readonly reconnects = new Backoff(IMAP_RECONNECT);
  /** Asked before each message: false (the mailbox lease lost, shutting down) ends the poll there. */
  gate: () => boolean = () => true;
  /** Told after each batch stored (the worker starts sending its replies while the next batch is read). */
  stored: () => void = () => {};
  private reconnectTimer: NodeJS.Timeout | null = null;
  readonly status: IntakeStatus = { ok: false, detail: 'not connected', lastPollAt: null };
  /** Messages the last poll left for later (an error), or -1 when the poll itself failed. */
  lastFailures = 0;

  constructor(
    private readonly ctx: AppContext,
    private readonly tokens?: TokenProvider,
    /** Called when IDLE reports new mail and after a reconnect (the worker polls then). */
    private readonly onNewMail: (reason: string) => void = () => {},
  ) {}

  private get imap() {
    return this.ctx.config.imap!;
  }

  get mailboxKey(): string {
    return `${this.imap.user}@${this.imap.host}:${this.imap.port}/${this.imap.mailbox}`;
  }

  get leaseName(): string {
    return `imap:${this.mailboxKey}`;
  }

  private async connect(): Promise<ImapFlow> {
    if (this.client?.usable) return this.client;
    this.connecting ??= this.open().finally(() => {
      this.connecting = null;
    });
    return this.connecting;
  }

  private async open(): Promise<ImapFlow> {
    const log = this.ctx.log.child({ component: 'imap' });
    const imap = this.imap;
    const auth = this.tokens
      ? { user: imap.user, accessToken: await this.tokens.accessToken() }
      : { user: imap.user, pass: imap.password ?? '' };
    const client = new ImapFlow({
      host: imap.host,
      port: imap.port,
      secure: imap.secure,
      auth,
      logger: false,
      disableAutoIdle: !imap.idle,
      autoIdleDelay: 500,
      maxIdleTime: 5 * 60_000,
      connectionTimeout: 30_000,
    });
    client.on('error', (err: unknown) => log.warn({ err }, 'IMAP connection error'));
    client.on('exists', () => this.onNewMail('idle'));
    client.on('close', () => {
      if (this.client === client) this.client = null;
      this.status.ok = false;
      this.status.detail = 'connection closed';
      if (!this.stopped) this.scheduleReconnect();
    });
    // a refused token is fetched anew next time
    await client.connect().catch((err: unknown) => {
      throw this.tokens ? this.tokens.refused(err) : err;
    });
    try {
      // Folders for processed, review and ignored mail, created when missing.
      const existing = new Set((await client.list()).map((m) => m.path));
      for (const folder of Object.values(imap.folders)) {
        if (!existing.has(folder))
          await client.mailboxCreate(folder).catch((err: unknown) => log.warn({ folder, err }, 'cannot create folder'));
      }
      // Select the mailbox so IDLE watches it.
      await client.mailboxOpen(imap.mailbox);
    } catch (err) {
      client.close();
      throw err;
    }
    this.client = client;
    this.reconnects.reset();
    this.status.ok = true;
    this.status.detail = 'connected';
    log.info({ mailbox: imap.mailbox }, 'IMAP connected');
    return client;
  }

  private scheduleReconnect(): void {
    if (this.reconnectTimer || this.stopped) return;
    const delay = this.reconnects.next();
    this.ctx.log.info({ component: 'imap', attempt: this.reconnects.attempts, delayMs: delay }, 'reconnecting to IMAP');
    this.reconnectTimer = setTimeout(() => {
      this.reconnectTimer = null;
      this.connect()
        .then(() => this.onNewMail('idle'))
        .catch((err: unknown) => {
          this.status.detail = `cannot connect: ${errorMessage(err)}`;
          this.scheduleReconnect();
        });
    }, delay);
    this.reconnectTimer.unref();
  }

  /** Connects (with IDLE) and keeps reconnecting until stopped. */
  async start(): Promise<void> {
    try {
      await this.connect();
    } catch (err) {
      this.status.detail = `cannot connect: ${errorMessage(err)}`;
      this.ctx.log.error({ component: 'imap', err }, 'IMAP connection failed; retrying');
      this.scheduleReconnect();
    }
  }

  /** Processes everything waiting. Never throws; a call during a run makes the run go once more. */
  poll(): Promise<void> {
    return this.polling.run();
  }

  private async scanMailbox(): Promise<void> {
    if (this.stopped) return;
    this.lastFailures = -1;
    let failures = 0;
    const client = await this.connect();
    const log = this.ctx.log.child({ component: 'imap' });
    const lock = await client.getMailboxLock(this.imap.mailbox);
    try {
      const mailbox = client.mailbox;
      if (!mailbox) return;
      const uidValidity = Number(mailbox.uidValidity);
      const uids = ((await client.search({ all: true }, { uid: true })) || []).sort((a, b) => a - b);
      const size = this.ctx.config.intakeBatch;
      const max = this.ctx.config.maxMailBytes;
      const going = () => !this.stopped && this.gate();
      const move = async (moves: Moves) => {
        for (const [folder, list] of Object.entries(moves) as Array<[Folder, number[]]>)
          if (list.length > 0) await client.messageMove(list.join(','), this.imap.folders[folder], { uid: true });
      };
      // A two-stage pipeline: while one part of a batch is stored and moved, the next is fetched and parsed.
      let storing: Promise<void> = Promise.resolve();
      let dropped: Promise<unknown> = Promise.resolve();
      const store = async (unit: Unit, moves: Moves) => {
        const results = await ingestBatch(this.ctx, unit.items, unit.ahead);
        results.forEach((r, n) => {
          const uid = unit.uids[n]!;
          if (r.ok) moves[r.outcome.folder].push(uid);
          else {
            // Left in place; the next poll tries it again. The mails beside it still go through.
            failures++;
            log.error({ uid, err: r.error }, 'message not processed; will retry');
          }
        });
        if (results.some((r) => r.ok)) this.stored();
      };
      try {
        for (let i = 0; i < uids.length && going(); i += size) {
          const batch = uids.slice(i, i + size);
          const moves: Moves = { processed: [], review: [], ignored: [] };
          // UIDs already recorded (a crash before the move): only move them.
          const done = await this.ctx.database.db
            .select({ uid: messages.uid, status: messages.status })
            .from(messages)
            .where(and(eq(messages.mailbox, this.mailboxKey), eq(messages.uidValidity, uidValidity), inArray(messages.uid, batch)));
          const doneUids = new Map(done.map((d) => [d.uid!, d.status]));
          for (const [uid, status] of doneUids)
            moves[status === 'ignored' ? 'ignored' : status === 'review' ? 'review' : 'processed'].push(uid);
          const todo = batch.filter((u) => !doneUids.has(u));
          const all = todo.length > 0 && going() ? await client.fetchAll(todo.join(','), { uid: true, size: true }, { uid: true }) : [];
          const parts = byBytes(all, max);
          if (parts.length === 0) {
            await storing;
            storing = move(moves);
            storing.catch(() => {});
          }
          for (const [n, sizes] of parts.entries()) {
            const unit = await this.read(client, sizes, uidValidity, () => failures++);
            await storing;
            if (!going()) {
              // Read but not stored: its parse ends before the poll does (its attempt records are removed).
              dropped = unit.ahead.done;
              break;
            }
            // Each part is moved once it is stored (the first part also moves the UIDs already recorded).
            const partMoves: Moves = n === 0 ? moves : { processed: [], review: [], ignored: [] };
            storing = store(unit, partMoves).then(() => move(partMoves));
            storing.catch(() => {}); // awaited below: not an unhandled rejection while the next part is read
          }
        }
      } finally {
        await dropped;
        await storing;
      }
      this.status.ok = true;
      this.status.detail = 'connected';
      this.status.lastPollAt = this.ctx.now();
      this.lastFailures = failures;
    } finally {
      lock.release();
    }
  }

  /** A part of a batch: the sources in one FETCH each (whole mails; the start of mails over the limit), parsing started. */
  private async read(
    client: ImapFlow,
    sizes: Array<{ uid: number; size?: number }>,
    uidValidity: number,
    missing: () => void,
  ): Promise<Unit> {
    const max = this.ctx.config.maxMailBytes;
    const sources = new Map<number, Buffer>();
    for (const m of sizes) {
      if (m.size === undefined || m.size <= PIECE_BYTES || m.size > max) continue;
      const raw = await fetchInPieces(client, m.uid, m.size);
      if (raw) sources.set(m.uid, raw);
    }
    for (const [list, source] of [
      [sizes.filter((m) => (m.size ?? 0) <= Math.min(max, PIECE_BYTES)), true],
      [sizes.filter((m) => (m.size ?? 0) > max), { start: 0, maxLength: 65_536 }],
    ] as const) {
      if (list.length === 0) continue;
      const got = await client.fetchAll(list.map((m) => m.uid).join(','), { uid: true, source }, { uid: true });
      for (const m of got) if (m.source) sources.set(m.uid, m.source);
    }
    const uids: number[] = [];
    const items: IntakeItem[] = [];
    for (const meta of sizes) {
      const raw = sources.get(meta.uid);
      if (!raw) {
        missing();
        this.ctx.log.error(
          { component: 'imap', uid: meta.uid, err: new Error('message source missing') },
          'message not processed; will retry',
        );
        continue;
      }
      uids.push(meta.uid);
      items.push({
        raw,
        source: { kind: 'imap', mailbox: this.mailboxKey, uidValidity, uid: meta.uid },
        ...(meta.size !== undefined ? { size: meta.size } : {}),
      });
    }
    return { uids, items, ahead: parseAhead(this.ctx, items) };
  }

  /** Stops after the message in hand (the poll then moves what is done and releases the mailbox lock). */
  requestStop(): void {
    this.stopped = true;
    if (this.reconnectTimer) clearTimeout(this.reconnectTimer);
  }

  async close(): Promise<void> {
    this.stopped = true;
    if (this.reconnectTimer) clearTimeout(this.reconnectTimer);
    await this.polling.current;
    const client = this.client;
    this.client = null;
    if (client) await client.logout().catch(() => client.close());
  }
}
