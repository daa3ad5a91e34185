import fs from 'node:fs';
import path from 'node:path';
import { Worker } from 'node:worker_threads';
import { errorMessage, type ErrorCode } from '../errors';
import type { Logger } from '../log';
import type { ParseOutcome, ParseOptions } from '../parse';
import { readMail } from '../parse/read-mail';
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

export class ParsePool {
  private worker: Worker | null = null;
  /** The thread has loaded the parser (its start-up is not counted in a mail's budget). */
  private ready = false;
  private current: { job: Job; timer: NodeJS.Timeout } | null = null;
  private readonly queue: Job[] = [];
  private nextId = 1;
  /** Threads ended for being over budget, out of memory or crashed (for the logs and tests). */
  readonly ended = { timeout: 0, memory: 0, crashed: 0 };

  constructor(
    private readonly rules: Rules,
    private readonly limits: ParseLimits,
    private readonly log: Logger,
  ) {}

  /** Never rejects: a mail that cannot be parsed in budget comes back with `result.error`. */
  parse(raw: Buffer, opts: ParseOptions = {}): Promise<ParseOutcome> {
    return new Promise((resolve) => {
      this.queue.push({ id: this.nextId++, raw, opts, resolve });
      this.pump();
    });
  }

  private spawn(): Worker {
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
      if ('ready' in msg) {
        if (this.worker === w) {
          this.ready = true;
          this.pump();
        }
        return;
      }
      const cur = this.current;
      if (!cur || cur.job.id !== msg.id) return;
      clearTimeout(cur.timer);
      this.current = null;
      w.unref();
      cur.job.resolve(revive(msg.parsed));
      this.pump();
    });
    w.on('error', (err: Error & { code?: string }) => {
      this.fail(w, err.code === 'ERR_WORKER_OUT_OF_MEMORY' ? 'PARSE_MEMORY' : 'PARSE_CRASHED', errorMessage(err));
    });
    w.on('exit', (code) => {
      if (this.worker === w) this.fail(w, 'PARSE_CRASHED', `parse thread exited (${code})`);
    });
    return w;
  }

  private pump(): void {
    if (this.current || this.queue.length === 0) return;
    if (!this.worker) {
      this.ready = false;
      this.worker = this.spawn();
    }
    const w = this.worker;
    w.ref();
    if (!this.ready) return; // pumped again when the thread says it is ready
    const job = this.queue.shift()!;
    const timer = setTimeout(
      () => this.fail(w, 'PARSE_TIMEOUT', `parsing took longer than ${this.limits.timeoutMs} ms`),
      this.limits.timeoutMs,
    );
    this.current = { job, timer };
    w.postMessage({ id: job.id, raw: job.raw, ownDomain: job.opts.ownDomain });
  }

  /** Ends the thread; the mail in hand comes back unparsed with `code`. */
  private fail(w: Worker, code: Extract<ErrorCode, 'PARSE_TIMEOUT' | 'PARSE_MEMORY' | 'PARSE_CRASHED'>, message: string): void {
    if (this.worker !== w) return;
    this.worker = null;
    this.ready = false;
    void w.terminate();
    // A thread that dies before it is ready takes the first waiting mail with it (no respawn loop).
    const cur = this.current ?? (this.queue.length ? { job: this.queue.shift()!, timer: setTimeout(() => {}, 0) } : null);
    this.current = null;
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

  /** Starts the thread ahead of the first mail (the worker does this at start). */
  warm(): void {
    if (this.worker) return;
    this.ready = false;
    this.worker = this.spawn();
  }

  async close(): Promise<void> {
    const w = this.worker;
    this.worker = null;
    if (w) await w.terminate();
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
    bodyText: raw.toString('latin1').slice(0, 100_000),
  };
}

const pools = new WeakMap<Rules, Map<string, ParsePool>>();

/** One pool per rules and limits (contexts that share them share the thread). */
export function parsePoolFor(rules: Rules, limits: ParseLimits, log: Logger): ParsePool {
  let byLimits = pools.get(rules);
  if (!byLimits) pools.set(rules, (byLimits = new Map<string, ParsePool>()));
  const key = `${limits.timeoutMs}:${limits.memoryMb}`;
  let pool = byLimits.get(key);
  if (!pool) byLimits.set(key, (pool = new ParsePool(rules, limits, log)));
  return pool;
}
