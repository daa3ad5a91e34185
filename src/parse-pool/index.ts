import { Worker } from 'node:worker_threads';
import { errorMessage, type ErrorCode } from '../errors';
import type { Logger } from '../log';
import type { ParseOutcome, ParseOptions } from '../parse';
import type { Rules } from '../rules/load';
import { threadScript } from '../thread-script';

/**
 * Parsing runs in a worker thread with a time budget and a memory cap (resourceLimits), so a
 * hostile mail (a quadratic regex, a zip bomb) costs at most PARSE_TIMEOUT_MS and never stalls the
 * worker's loops or the review UI. Over budget, out of memory or crashed: the thread is ended (a new
 * one starts for the next mail) and the mail comes back unparsed with an error code, for review.
 */
export interface ParseLimits {
  timeoutMs: number;
  memoryMb: number;
  /** Parse threads (a batch is parsed in parallel); default 1. */
  threads?: number;
  /** A thread idle this long is ended, a spare one after a third of it; default 30 s. */
  idleMs?: number;
}

interface Job {
  id: number;
  raw: Buffer;
  opts: ParseOptions;
  resolve: (p: ParseOutcome) => void;
}

/**
 * A thread that has had nothing to do for `idleMs` is ended (a thread holds ~26 MB, more after a
 * backlog); the next mail starts one again (~0.3 s). Spares end after a third of it; the first,
 * which every mail tries first, stays warm through a burst.
 */
const IDLE_MS = 30_000;

/**
 * Mails handed to one thread ahead of the one it parses, so it goes from mail to mail without
 * waiting for the main thread (busy storing the batch before): at most this many, and past the
 * first, at most PIPELINE_BYTES in all.
 */
const PIPELINE = 8;
const PIPELINE_BYTES = 8 << 20;

/**
 * One parse thread: the mails handed to it, parsed one at a time in that order. Only the first is
 * being parsed; its budget timer starts when the one before it came back (never later than the
 * thread began it, so no mail gets less than its budget).
 */
interface Slot {
  worker: Worker | null;
  /** The thread has loaded the parser (its start-up is not counted in a mail's budget). */
  ready: boolean;
  inflight: Job[];
  timer: NodeJS.Timeout | null;
  idleTimer: NodeJS.Timeout | null;
}

const bytesOf = (jobs: Job[]) => jobs.reduce((n, j) => n + j.raw.length, 0);

/**
 * Up to `threads` parse threads share one queue, so a batch is parsed in parallel; each mail keeps
 * its own time budget and the memory cap of its thread.
 */
export class ParsePool {
  private readonly slots: Slot[];
  private readonly queue: Job[] = [];
  private nextId = 1;
  /** Threads ended for being over budget, out of memory or crashed (for the logs and tests). */
  readonly ended = { timeout: 0, memory: 0, crashed: 0 };

  constructor(
    private readonly rules: Rules,
    private readonly limits: ParseLimits,
    private readonly log: Logger,
    threads = 1,
  ) {
    this.slots = Array.from({ length: Math.max(1, threads) }, () => ({
      worker: null,
      ready: false,
      inflight: [],
      timer: null,
      idleTimer: null,
    }));
  }

  /** How many mails can be parsed at once. */
  get size(): number {
    return this.slots.length;
  }

  /** Never rejects: a mail that cannot be parsed in budget comes back with `result.error`. */
  parse(raw: Buffer, opts: ParseOptions = {}): Promise<ParseOutcome> {
    return new Promise((resolve) => {
      this.queue.push({ id: this.nextId++, raw, opts, resolve });
      this.pump();
    });
  }

  private spawn(slot: Slot): Worker {
    const w = new Worker(threadScript(__dirname, 'thread'), {
      eval: true,
      workerData: { rules: this.rules },
      resourceLimits: {
        maxOldGenerationSizeMb: this.limits.memoryMb,
        maxYoungGenerationSizeMb: Math.min(64, Math.max(8, this.limits.memoryMb / 8)),
      },
      stdout: false,
      stderr: false,
    });
    w.unref();
    w.on('message', (msg: { id: number; parsed: ParseOutcome } | { ready: true }) => {
      if (slot.worker !== w) return;
      if ('ready' in msg) {
        slot.ready = true;
        this.pump();
        return;
      }
      const job = slot.inflight[0];
      if (!job || job.id !== msg.id) return;
      slot.inflight.shift();
      this.startBudget(slot, w);
      job.resolve(revive(msg.parsed));
      this.pump();
    });
    w.on('error', (err: Error & { code?: string }) => {
      this.fail(slot, w, err.code === 'ERR_WORKER_OUT_OF_MEMORY' ? 'PARSE_MEMORY' : 'PARSE_CRASHED', errorMessage(err));
    });
    w.on('exit', (code) => {
      if (slot.worker === w) this.fail(slot, w, 'PARSE_CRASHED', `parse thread exited (${code})`);
    });
    return w;
  }

  /** The budget of the mail now first in the thread's hands; a thread with none may not keep the process alive. */
  private startBudget(slot: Slot, w: Worker): void {
    if (slot.timer) clearTimeout(slot.timer);
    slot.timer = null;
    if (slot.inflight.length === 0) {
      w.unref();
      return;
    }
    w.ref();
    slot.timer = setTimeout(
      () => this.fail(slot, w, 'PARSE_TIMEOUT', `parsing took longer than ${this.limits.timeoutMs} ms`),
      this.limits.timeoutMs,
    );
  }

  private hand(slot: Slot, w: Worker): void {
    const job = this.queue.shift()!;
    slot.inflight.push(job);
    if (slot.inflight.length === 1) this.startBudget(slot, w);
    // A large mail's source is in shared memory (fetched so): the thread reads it where it is.
    // Otherwise the bytes go over in a buffer of their own, moved, not cloned: a Buffer may be a
    // view into a larger ArrayBuffer (Node's 8 KB pool holds small ones), which postMessage would copy whole.
    if (job.raw.buffer instanceof SharedArrayBuffer) {
      w.postMessage({ id: job.id, raw: job.raw, ownDomain: job.opts.ownDomain });
    } else {
      const raw = new Uint8Array(job.raw);
      w.postMessage({ id: job.id, raw, ownDomain: job.opts.ownDomain }, [raw.buffer]);
    }
  }

  private pump(): void {
    const ready = () => this.slots.filter((s) => s.worker && s.ready);
    // 1. A thread with nothing in hand takes a mail (the first slot first).
    for (const slot of ready()) if (slot.inflight.length === 0 && this.queue.length > 0) this.hand(slot, slot.worker!);
    // 2. A further thread starts only for a waiting mail that no thread already starting will take.
    let starting = this.slots.filter((s) => s.worker && !s.ready).length;
    for (const slot of this.slots) {
      if (slot.worker || this.queue.length <= starting) continue;
      slot.ready = false;
      slot.worker = this.spawn(slot);
      slot.worker.ref();
      starting++;
    }
    // 3. What no thread is starting for queues behind the mails in hand, to the least loaded thread.
    while (this.queue.length > starting) {
      const next = this.queue[0]!;
      const open = ready().filter((s) => s.inflight.length < PIPELINE && bytesOf(s.inflight) + next.raw.length <= PIPELINE_BYTES);
      if (open.length === 0) break;
      const slot = open.reduce((a, b) => (b.inflight.length < a.inflight.length ? b : a));
      this.hand(slot, slot.worker!);
    }
    // Threads with nothing to do are ended after a while (their heap is given back).
    for (let i = 0; i < this.slots.length; i++) {
      const slot = this.slots[i]!;
      const busy = slot.inflight.length > 0 || this.queue.length > 0;
      if (busy && slot.idleTimer) {
        clearTimeout(slot.idleTimer);
        slot.idleTimer = null;
      }
      if (slot.worker && slot.ready && !busy && !slot.idleTimer) {
        slot.worker.unref();
        slot.idleTimer = setTimeout(
          () => {
            slot.idleTimer = null;
            if (slot.inflight.length || !slot.worker) return;
            const w = slot.worker;
            slot.worker = null;
            slot.ready = false;
            void w.terminate();
          },
          (this.limits.idleMs ?? IDLE_MS) / (i === 0 ? 1 : 3),
        );
        slot.idleTimer.unref();
      }
    }
  }

  /**
   * Ends the thread; the mail it was parsing comes back unparsed with `code`, the ones queued
   * behind it go back to the front of the queue, for the next thread.
   */
  private fail(slot: Slot, w: Worker, code: Extract<ErrorCode, 'PARSE_TIMEOUT' | 'PARSE_MEMORY' | 'PARSE_CRASHED'>, message: string): void {
    if (slot.worker !== w) return;
    slot.worker = null;
    void w.terminate();
    if (slot.timer) clearTimeout(slot.timer);
    slot.timer = null;
    const [first, ...behind] = slot.inflight;
    slot.inflight = [];
    this.queue.unshift(...behind);
    // A thread that dies before it is ready takes the first waiting mail with it (no respawn loop).
    const blamed = first ?? (!slot.ready && this.queue.length ? this.queue.shift() : undefined);
    slot.ready = false;
    if (blamed) {
      this.ended[code === 'PARSE_TIMEOUT' ? 'timeout' : code === 'PARSE_MEMORY' ? 'memory' : 'crashed']++;
      this.log.warn(
        { component: 'parse', code, limitMs: this.limits.timeoutMs, memoryMb: this.limits.memoryMb, bytes: blamed.raw.length },
        'mail not parsed within its limits; kept for review',
      );
      void unparsed(blamed.raw, code, message).then(blamed.resolve);
    }
    this.pump();
  }

  async close(): Promise<void> {
    await Promise.all(
      this.slots.map(async (slot) => {
        if (slot.idleTimer) clearTimeout(slot.idleTimer);
        slot.idleTimer = null;
        if (slot.timer) clearTimeout(slot.timer);
        slot.timer = null;
        const w = slot.worker;
        slot.worker = null;
        slot.ready = false;
        if (w) await w.terminate();
      }),
    );
  }
}

/** Buffers come back from the thread as plain Uint8Arrays. */
function revive(parsed: ParseOutcome): ParseOutcome {
  if (!parsed.mail) return parsed;
  return {
    ...parsed,
    mail: { ...parsed.mail, attachments: parsed.mail.attachments.map((a) => ({ ...a, content: Buffer.from(a.content) })) },
  };
}

function headerEnd(raw: Buffer): number {
  const ends = [raw.indexOf('\r\n\r\n'), raw.indexOf('\n\n')].filter((i) => i >= 0);
  return Math.min(ends.length ? Math.min(...ends) + 2 : raw.length, 65_536);
}

/**
 * A mail kept for review without its body parsed: the headers (bounded) give Message-ID, sender
 * and subject for the review list and dedupe; the text shown is the raw start.
 */
export async function unparsed(raw: Buffer, code: ErrorCode, message: string): Promise<ParseOutcome> {
  // mailparser is loaded here only when needed: parsing is the thread's, and it is ~6 MB on the main thread.
  const { readMail } = await import('../parse/read-mail.js');
  const head = await readMail(raw.subarray(0, headerEnd(raw))).catch(() => null);
  return {
    result: {
      messageId: head?.messageId ?? null,
      from: head?.from ?? null,
      subject: head?.subject ?? '',
      kind: 'other',
      persons: [],
      autoReply: false,
      error: { code, message },
    },
    mail: null,
    automatedReason: null,
    bodyText: raw.subarray(0, 100_000).toString('latin1'),
  };
}

const pools = new WeakMap<Rules, Map<string, ParsePool>>();

/** One pool per rules and limits (contexts that share them share the threads). */
export function parsePoolFor(rules: Rules, limits: ParseLimits, log: Logger): ParsePool {
  let byLimits = pools.get(rules);
  if (!byLimits) pools.set(rules, (byLimits = new Map<string, ParsePool>()));
  const threads = limits.threads ?? 1;
  const key = `${limits.timeoutMs}:${limits.memoryMb}:${threads}`;
  let pool = byLimits.get(key);
  if (!pool) byLimits.set(key, (pool = new ParsePool(rules, limits, log, threads)));
  return pool;
}
