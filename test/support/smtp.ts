/**
 * A real SMTP server on 127.0.0.1 that keeps every message it receives, for tests of code that
 * sends mail (nodemailer with `ignoreTLS: true`, `secure: false`, no auth needed).
 */
import { simpleParser, type ParsedMail } from 'mailparser';
import { SMTPServer, type SMTPServerDataStream, type SMTPServerError, type SMTPServerSession } from 'smtp-server';
import { freePort } from './ports';

export interface RawReceived {
  envelope: { from: string | false; to: string[] };
  raw: Buffer;
}

export interface Received extends RawReceived {
  parsed: ParsedMail;
}

export interface SmtpSink<R extends RawReceived = Received> {
  host: '127.0.0.1';
  port: number;
  /** Every message accepted so far, in order of arrival. */
  messages: R[];
  /** Resolves with the messages once at least `count` have arrived; rejects after `timeoutMs`. */
  waitFor(count: number, timeoutMs?: number): Promise<R[]>;
  /** The next `n` DATA commands are answered with `code` (default 451, a temporary failure). */
  failNext(n: number, code?: number): void;
  /** Forgets the messages received so far. */
  clear(): void;
  stop(): Promise<void>;
}

const HOST = '127.0.0.1' as const;

function readAll(stream: SMTPServerDataStream): Promise<Buffer> {
  return new Promise((resolve, reject) => {
    const chunks: Buffer[] = [];
    stream.on('data', (c: Buffer) => chunks.push(c));
    stream.once('end', () => resolve(Buffer.concat(chunks)));
    stream.once('error', reject);
  });
}

export interface SmtpSinkOptions {
  /** Listen on this port (to reopen a stopped sink where the worker expects it). */
  port?: number;
  /** Require AUTH PLAIN/LOGIN; `accept` decides each login (false: 535). */
  auth?: { accept: (user: string, pass: string) => boolean };
  /** false: keep the raw bytes only (a benchmark: parsing each message would cost the sink ~1.5 ms). */
  parse?: boolean;
}

export function startSmtpSink(opts?: SmtpSinkOptions & { parse?: true }): Promise<SmtpSink>;
export function startSmtpSink(opts: SmtpSinkOptions & { parse: false }): Promise<SmtpSink<RawReceived>>;
export async function startSmtpSink(opts: SmtpSinkOptions = {}): Promise<SmtpSink<RawReceived>> {
  const messages: RawReceived[] = [];
  const waiters = new Set<() => void>();
  const failures: number[] = [];
  const notify = (): void => {
    for (const w of [...waiters]) w();
  };

  const server = new SMTPServer({
    authOptional: !opts.auth,
    allowInsecureAuth: true,
    closeTimeout: 500,
    disabledCommands: ['STARTTLS'],
    logger: false,
    onAuth(auth, _session, callback) {
      if (opts.auth && !opts.auth.accept(auth.username ?? '', auth.password ?? '')) {
        const err: SMTPServerError = new Error('Authentication failed');
        err.responseCode = 535;
        callback(err);
        return;
      }
      callback(null, { user: auth.username });
    },
    onData(stream: SMTPServerDataStream, session: SMTPServerSession, callback: (err?: Error | null) => void): void {
      readAll(stream)
        .then(async (raw) => {
          const code = failures.shift();
          if (code !== undefined) {
            const err: SMTPServerError = new Error(`Temporary test failure (${code})`);
            err.responseCode = code;
            callback(err);
            return;
          }
          const from = session.envelope.mailFrom;
          const envelope: RawReceived['envelope'] = {
            from: from === false ? false : from.address,
            to: session.envelope.rcptTo.map((r) => r.address),
          };
          const received: RawReceived | Received =
            opts.parse === false ? { envelope, raw } : { envelope, raw, parsed: await simpleParser(raw) };
          messages.push(received);
          callback(null);
          notify();
        })
        .catch((e: unknown) => callback(e instanceof Error ? e : new Error(String(e))));
    },
  });

  // A client killed mid-session (the SIGKILL tests) resets its socket: smtp-server emits that as
  // 'error', which with no listener would end the test process. A reset is expected; anything else is told.
  server.on('error', (e: NodeJS.ErrnoException) => {
    if (e.code !== 'ECONNRESET' && e.code !== 'EPIPE') console.error(`smtp sink: ${e.code ?? ''} ${e.message}`);
  });

  let port = 0;
  for (let attempt = 1; ; attempt++) {
    port = opts.port ?? (await freePort(HOST));
    try {
      await new Promise<void>((resolve, reject) => {
        const onError = (e: Error): void => reject(e);
        server.server.once('error', onError);
        server.listen(port, HOST, () => {
          server.server.off('error', onError);
          resolve();
        });
      });
      break;
    } catch (e) {
      if (attempt >= (opts.port ? 40 : 5) || (e as NodeJS.ErrnoException).code !== 'EADDRINUSE') throw e;
      if (opts.port) await new Promise((r) => setTimeout(r, 250));
    }
  }

  return {
    host: HOST,
    port,
    messages,
    waitFor(count: number, timeoutMs = 10000): Promise<RawReceived[]> {
      if (messages.length >= count) return Promise.resolve([...messages]);
      return new Promise((resolve, reject) => {
        const check = (): void => {
          if (messages.length >= count) {
            clearTimeout(timer);
            waiters.delete(check);
            resolve([...messages]);
          }
        };
        const timer = setTimeout(() => {
          waiters.delete(check);
          reject(new Error(`SMTP sink: expected ${count} message(s) within ${timeoutMs} ms, got ${messages.length}`));
        }, timeoutMs);
        waiters.add(check);
      });
    },
    failNext(n: number, code = 451): void {
      for (let i = 0; i < n; i++) failures.push(code);
    },
    clear(): void {
      messages.length = 0;
    },
    stop(): Promise<void> {
      return new Promise((resolve) => server.close(() => resolve()));
    },
  };
}
