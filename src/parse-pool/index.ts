import fs from 'node:fs';
import path from 'node:path';
import { Worker } from 'node:worker_threads';
import { errorMessage, type ErrorCode } from '../errors';
import type { Logger } from '../log';
import type { ParseOutcome, ParseOptions } from '../parse';
import type { Rules } from '../rules/load';

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

/** The thread's entry: compiled JavaScript beside this file, or the TypeScript source through tsx. */
function threadScript(): string {
  const js = path.join(__dirname, 'thread.js');
  if (fs.existsSync(js)) return `require(${JSON.stringify(js)});`;
  return `require('tsx/cjs'); require(${JSON.stringify(path.join(__dirname, 'thread.ts'))});`;
}

/**
 * A thread that has had nothing to do for `idleMs` is ended (a thread holds ~26 MB, more after a
 * backlog); the next mail starts one again (~0.3 s). Spares end after a third of it; the first,
 * which every mail tries first, stays warm through a burst.
 */
const IDLE_MS = 30_000;

/** One parse thread: one mail at a time, its own budget timer. */
interface Slot {
  worker: Worker | null;
  /** The thread has loaded the parser (its start-up is not counted in a mail's budget). */
  ready: boolean;
  current: { job: Job; timer: NodeJS.Timeout } | null;
  idleTimer: NodeJS.Timeout | null;
}

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
      current: null,
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
    const w = new Worker(threadScript(), {
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
        // A thread started for a mail another thread took holds nothing: it must not keep the process alive.
        if (!slot.current) w.unref();
        this.pump();
        return;
      }
      const cur = slot.current;
      if (!cur || cur.job.id !== msg.id) return;
      clearTimeout(cur.timer);
      slot.current = null;
      w.unref();
      cur.job.resolve(revive(msg.parsed));
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

  private pump(): void {
    // The first slot is always used first; a further thread starts only for a waiting mail that no
    // thread already starting will take.
    let starting = this.slots.filter((s) => s.worker && !s.ready && !s.current).length;
    for (let i = 0; i < this.slots.length && this.queue.length > 0; i++) {
      const slot = this.slots[i]!;
      if (slot.current) continue;
      if (!slot.worker) {
        if (this.queue.length <= starting) continue;
        slot.ready = false;
        slot.worker = this.spawn(slot);
        starting++;
      }
      if (slot.idleTimer) {
        clearTimeout(slot.idleTimer);
        slot.idleTimer = null;
      }
      const w = slot.worker;
      w.ref();
      if (!slot.ready) continue; // pumped again when the thread says it is ready
      const job = this.queue.shift()!;
      const timer = setTimeout(
        () => this.fail(slot, w, 'PARSE_TIMEOUT', `parsing took longer than ${this.limits.timeoutMs} ms`),
        this.limits.timeoutMs,
      );
      slot.current = { job, timer };
      // The bytes go over in a buffer of their own, moved, not cloned: a Buffer may be a view into a
      // larger ArrayBuffer (Node's 8 KB pool holds small ones), which postMessage would copy whole.
      const raw = new Uint8Array(job.raw);
      w.postMessage({ id: job.id, raw, ownDomain: job.opts.ownDomain }, [raw.buffer]);
    }
    // Threads with nothing to do are ended after a while (their heap is given back).
    for (let i = 0; i < this.slots.length; i++) {
      const slot = this.slots[i]!;
      if (slot.worker && !slot.current && !slot.idleTimer && this.queue.length === 0) {
        slot.idleTimer = setTimeout(
          () => {
            slot.idleTimer = null;
            if (slot.current || !slot.worker) return;
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

  /** Ends the thread; the mail in hand comes back unparsed with `code`. */
  private fail(slot: Slot, w: Worker, code: Extract<ErrorCode, 'PARSE_TIMEOUT' | 'PARSE_MEMORY' | 'PARSE_CRASHED'>, message: string): void {
    if (slot.worker !== w) return;
    slot.worker = null;
    void w.terminate();
    // A thread that dies before it is ready takes the first waiting mail with it (no respawn loop).
    const cur = slot.current ?? (!slot.ready && this.queue.length ? { job: this.queue.shift()!, timer: setTimeout(() => {}, 0) } : null);
    slot.ready = false;
    slot.current = null;
    if (cur) {
      clearTimeout(cur.timer);
      this.ended[code === 'PARSE_TIMEOUT' ? 'timeout' : code === 'PARSE_MEMORY' ? 'memory' : 'crashed']++;
      this.log.warn(
        { component: 'parse', code, limitMs: this.limits.timeoutMs, memoryMb: this.limits.memoryMb, bytes: cur.job.raw.length },
        'mail not parsed within its limits; kept for review',
      );
      void unparsed(cur.job.raw, code, message).then(cur.job.resolve);
    }
    this.pump();
  }

  async close(): Promise<void> {
    await Promise.all(
      this.slots.map(async (slot) => {
        if (slot.idleTimer) clearTimeout(slot.idleTimer);
        slot.idleTimer = null;
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
