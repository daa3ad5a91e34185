import { Worker } from 'node:worker_threads';
import type { Config } from '../config';
import { AppError, type ErrorCode } from '../errors';
import { threadScript } from '../thread-script';
import type { Answered, OutboxRow, Sending, Transport } from './transport';

export type SendRequest =
  | { id: number; op: 'send'; row: OutboxRow; caseRef: string }
  | { id: number; op: 'batch'; batch: Sending[]; connections: number }
  | { id: number; op: 'halt' }
  | { id: number; op: 'probe' }
  | { op: 'close' };
export interface WireError {
  app: boolean;
  code: string;
  message: string;
  context: Record<string, unknown>;
}
/** The answer to a request, or (`row`) to one reply of a batch, which is answered as a whole after its replies. */
export type SendAnswer =
  { id: number; ok: true } | { id: number; ok: false; error: WireError } | { id: number; row: number; error: WireError | null };

/** A send thread with nothing to do this long is ended (its SMTP connections closed); the next reply starts one (~0.1 s). */
const IDLE_MS = 30_000;

/**
 * The SMTP (or folder) transport run in a worker thread of its own: building a reply (nodemailer's
 * MIME tree) and writing it to the SMTP connection cost more of the main thread than the intake's
 * own work for that mail did, so a backlog's replies no longer hold the intake back. Answers as
 * the transport itself would (the same AppError codes); a thread that dies fails the replies in
 * hand as SMTP_DOWN (given back, nothing used up; the probe starts a new one). Not for OAuth2,
 * whose tokens live on the main thread: that case keeps SmtpTransport in-process.
 */
export class ThreadedTransport implements Transport {
  readonly name: string;
  readonly connections: number;
  private worker: Worker | null = null;
  private nextId = 1;
  private readonly pending = new Map<
    number,
    { resolve: () => void; reject: (err: unknown) => void; onRow?: (row: number, error: WireError | null) => void }
  >();
  private idleTimer: NodeJS.Timeout | null = null;

  constructor(
    private readonly config: Config,
    private readonly idleMs = IDLE_MS,
  ) {
    this.name = config.smtp ? 'smtp' : 'folder';
    this.connections = config.smtp?.connections ?? 1;
  }

  /** Whether a thread is running now (for tests and the logs). */
  get running(): boolean {
    return this.worker !== null;
  }

  send(row: OutboxRow, caseRef: string): Promise<void> {
    return this.ask((id) => ({ id, op: 'send', row, caseRef }));
  }

  /**
   * The thread works through the lanes itself, so no reply waits for the main thread between
   * others. A thread that dies leaves the replies it had not answered: the first is failed as
   * SMTP_DOWN (sending pauses), the others are left untried (given back).
   */
  async sendBatch(batch: Sending[], answered: Answered, halted: () => boolean): Promise<void> {
    const rows = new Map(batch.map((s) => [s.row.id, s.row]));
    const answers: Array<Promise<void>> = [];
    let id = 0;
    const onRow = (rowId: number, error: WireError | null) => {
      const row = rows.get(rowId);
      if (!row) return;
      rows.delete(rowId);
      const after = answered(row, error ? revive(error) : null).then(() => {
        if (halted() && this.pending.has(id)) this.worker?.postMessage({ id, op: 'halt' } satisfies SendRequest);
      });
      answers.push(after);
    };
    await this.ask((n) => {
      id = n;
      return { id: n, op: 'batch', batch, connections: this.connections };
    }, onRow).catch((err: unknown) => {
      const first = rows.values().next();
      if (!first.done) answers.push(answered(first.value, err));
    });
    await Promise.all(answers);
  }

  probe(): Promise<void> {
    return this.ask((id) => ({ id, op: 'probe' }));
  }

  close(): void {
    if (this.idleTimer) clearTimeout(this.idleTimer);
    this.idleTimer = null;
    this.end();
  }

  private ask(request: (id: number) => SendRequest, onRow?: (row: number, error: WireError | null) => void): Promise<void> {
    if (this.idleTimer) clearTimeout(this.idleTimer);
    this.idleTimer = null;
    const w = this.worker ?? this.spawn();
    const id = this.nextId++;
    w.ref();
    return new Promise((resolve, reject) => {
      this.pending.set(id, { resolve, reject, ...(onRow ? { onRow } : {}) });
      w.postMessage(request(id));
    });
  }

  private spawn(): Worker {
    const w = new Worker(threadScript(__dirname, 'send-thread'), {
      eval: true,
      workerData: { config: this.config },
      stdout: false,
      stderr: false,
    });
    this.worker = w;
    w.on('message', (msg: SendAnswer) => {
      const p = this.pending.get(msg.id);
      if (!p) return;
      if ('row' in msg) return p.onRow?.(msg.row, msg.error);
      this.pending.delete(msg.id);
      if (msg.ok) p.resolve();
      else p.reject(revive(msg.error));
      if (this.pending.size === 0 && this.worker === w) this.idle(w);
    });
    const died = (why: string) => {
      if (this.worker !== w) return;
      this.worker = null;
      for (const p of this.pending.values()) p.reject(new AppError('SMTP_DOWN', `send thread ended: ${why}`));
      this.pending.clear();
    };
    w.on('error', (err) => died(err.message));
    w.on('exit', (code) => died(`exit ${code}`));
    return w;
  }

  /** Nothing in hand: the thread may not keep the process alive, and ends after idleMs. */
  private idle(w: Worker): void {
    w.unref();
    this.idleTimer = setTimeout(() => {
      this.idleTimer = null;
      if (this.pending.size === 0) this.end();
    }, this.idleMs);
    this.idleTimer.unref();
  }

  /** The thread closes its transport (SMTP QUIT) and ends; replies still in hand fail as SMTP_DOWN. */
  private end(): void {
    const w = this.worker;
    if (!w) return;
    this.worker = null;
    for (const p of this.pending.values()) p.reject(new AppError('SMTP_DOWN', 'send thread closed'));
    this.pending.clear();
    w.postMessage({ op: 'close' } satisfies SendRequest);
    w.unref();
    // A thread that does not end by itself within 5 s is stopped.
    setTimeout(() => void w.terminate(), 5_000).unref();
  }
}

function revive(e: WireError): Error {
  if (e.app) return new AppError(e.code as ErrorCode, e.message, e.context);
  return Object.assign(new Error(e.message), { code: e.code });
}
