import { Worker } from 'node:worker_threads';
import type { Config } from '../config';
import { AppError, type ErrorCode } from '../errors';
import { threadScript } from '../thread-script';
import type { OutboxRow, Transport } from './transport';

export type SendRequest = { id: number; op: 'send'; row: OutboxRow; caseRef: string } | { id: number; op: 'probe' } | { op: 'close' };
export type SendAnswer =
  | { id: number; ok: true }
  | { id: number; ok: false; error: { app: boolean; code: string; message: string; context: Record<string, unknown> } };

/** A send thread with nothing to do this long is ended (its SMTP connections closed); the next reply starts one (~0.2 s). */
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
  private readonly pending = new Map<number, { resolve: () => void; reject: (err: unknown) => void }>();
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

  probe(): Promise<void> {
    return this.ask((id) => ({ id, op: 'probe' }));
  }

  close(): void {
    if (this.idleTimer) clearTimeout(this.idleTimer);
    this.idleTimer = null;
    this.end();
  }

  private ask(request: (id: number) => SendRequest): Promise<void> {
    if (this.idleTimer) clearTimeout(this.idleTimer);
    this.idleTimer = null;
    const w = this.worker ?? this.spawn();
    const id = this.nextId++;
    w.ref();
    return new Promise((resolve, reject) => {
      this.pending.set(id, { resolve, reject });
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

function revive(e: Extract<SendAnswer, { ok: false }>['error']): Error {
  if (e.app) return new AppError(e.code as ErrorCode, e.message, e.context);
  return Object.assign(new Error(e.message), { code: e.code });
}
