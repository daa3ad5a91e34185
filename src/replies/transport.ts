import fs from 'node:fs/promises';
import path from 'node:path';
import nodemailer, { type SendMailOptions, type Transporter } from 'nodemailer';
import type { Config } from '../config';
import type { outbox } from '../db/schema';
import { AppError } from '../errors';
import { eachLane, groupBy } from '../lanes';
import type { TokenProvider } from '../oauth';
import { htmlOf } from './html';

export type OutboxRow = typeof outbox.$inferSelect;
export interface Sending {
  row: OutboxRow;
  caseRef: string;
}
/** What became of one reply: accepted (`err` null) or the transport's error. */
export type Answered = (row: OutboxRow, err: unknown) => Promise<void>;

/** A batch through `send`: one lane per case (its replies in order), `connections` lanes at once. */
export async function sendInLanes(
  batch: Sending[],
  connections: number,
  send: (s: Sending) => Promise<void>,
  answered: Answered,
  halted: () => boolean,
): Promise<void> {
  await eachLane([...groupBy(batch, (s) => s.row.caseId).values()], connections, async (s) => {
    if (halted()) return false;
    let err: unknown = null;
    try {
      await send(s);
    } catch (e) {
      err = e ?? new Error('send failed');
    }
    await answered(s.row, err);
    return true;
  });
}

/** Where replies go: an SMTP server, or (embedded default) .eml files in a folder. */
export interface Transport {
  readonly name: string;
  /** Replies it can take at once (the sender keeps each case's replies in order). */
  readonly connections: number;
  send(row: OutboxRow, caseRef: string): Promise<void>;
  /**
   * A claimed batch at once (the sender works through it with `send` when this is missing): a
   * case's replies in order, `connections` at a time; `answered` for each reply tried, as it is
   * answered; once `halted` says true, no further reply is started (those in hand finish).
   */
  sendBatch?(batch: Sending[], answered: Answered, halted: () => boolean): Promise<void>;
  /** Resolves when the transport answers (login included); used while it is down. */
  probe(): Promise<void>;
  close(): void;
}

const DOWN_CODES = new Set([
  'EAUTH',
  'ETLS',
  'ECONNECTION',
  'ESOCKET',
  'ETIMEDOUT',
  'EDNS',
  'ECONNREFUSED',
  'ECONNRESET',
  'EPIPE',
  'EPROTOCOL',
  'EHOSTUNREACH',
  'ENETUNREACH',
]);
const AUTH_REPLIES = new Set([421, 454, 530, 534, 535, 538]);

/**
 * What an SMTP failure means, by its reply code first: the server or our login is gone
 * (`SMTP_DOWN`: pause, nothing used up), this one reply is refused for good (`SMTP_PERMANENT`: 5xx on
 * the recipient or message), or a try-again-later for this reply (`SMTP_TRANSIENT`: 4xx).
 */
export function classifySmtpError(err: unknown): 'SMTP_DOWN' | 'SMTP_PERMANENT' | 'SMTP_TRANSIENT' {
  const e = (err ?? {}) as { responseCode?: unknown; code?: unknown };
  const rc = typeof e.responseCode === 'number' ? e.responseCode : null;
  const code = typeof e.code === 'string' ? e.code : '';
  if (rc !== null && AUTH_REPLIES.has(rc)) return 'SMTP_DOWN';
  if (DOWN_CODES.has(code)) return 'SMTP_DOWN';
  if (rc !== null && rc >= 500) return 'SMTP_PERMANENT';
  if (rc !== null && rc >= 400) return 'SMTP_TRANSIENT';
  if (code === 'EENVELOPE' || code === 'EMESSAGE') return 'SMTP_PERMANENT';
  // No reply code at all: the connection, not the reply.
  return 'SMTP_DOWN';
}

/** The reply as sent: threaded to the provider's mail, marked as automatic, with our loop header. */
export function mailOptions(row: OutboxRow, caseRef: string, config: Config): SendMailOptions {
  return {
    from: { name: config.mailFromName, address: config.mailFrom },
    to: row.toAddr,
    subject: row.subject,
    // Paragraphs are single lines: quoted-printable carries them without hard breaks, and clients wrap them.
    text: row.bodyText,
    html: htmlOf(row.bodyText),
    textEncoding: 'quoted-printable',
    messageId: row.messageId,
    date: row.createdAt,
    ...(row.inReplyTo ? { inReplyTo: row.inReplyTo } : {}),
    ...(row.references.length ? { references: row.references } : {}),
    headers: {
      // A reply an officer wrote is a person's mail (RFC 3834): only template replies are marked automatic.
      ...(row.kind === 'manual' ? {} : { 'Auto-Submitted': 'auto-replied' }),
      'X-Auto-Response-Suppress': 'All',
      'X-Lifecare-Intake': `${caseRef}; ${row.kind}`,
    },
  };
}

/**
 * SMTP. With a password, one pooled connection is reused across replies; with OAuth2 a connection
 * is made per reply with a fresh token (tokens expire).
 */
export class SmtpTransport implements Transport {
  readonly name = 'smtp';
  readonly connections: number;
  private readonly pooled: Transporter | null;
  /** Builds each reply whole first: the SMTP connection then writes it in one piece, not line by line. */
  private readonly composer = nodemailer.createTransport({ streamTransport: true, buffer: true, newline: 'windows' });

  constructor(
    private readonly config: Config,
    private readonly tokens?: TokenProvider,
  ) {
    this.connections = config.smtp!.connections;
    this.pooled = tokens
      ? null
      : nodemailer.createTransport({ ...this.base(), pool: true, maxConnections: this.connections, maxMessages: 100 });
  }

  private base() {
    const smtp = this.config.smtp!;
    return {
      host: smtp.host,
      port: smtp.port,
      secure: smtp.secure,
      connectionTimeout: 20_000,
      greetingTimeout: 20_000,
      socketTimeout: 60_000,
      ...(smtp.user && !this.tokens ? { auth: { user: smtp.user, pass: smtp.password ?? '' } } : {}),
    };
  }

  private async transporter(): Promise<Transporter> {
    if (this.pooled) return this.pooled;
    const user = this.config.smtp!.user ?? this.config.mailFrom;
    return nodemailer.createTransport({ ...this.base(), auth: { type: 'OAuth2', user, accessToken: await this.tokens!.accessToken() } });
  }

  async send(row: OutboxRow, caseRef: string): Promise<void> {
    try {
      const built = await this.composer.sendMail(mailOptions(row, caseRef, this.config));
      const whole = { envelope: built.envelope, raw: built.message as Buffer };
      const sendOnce = async () => {
        const transporter = await this.transporter();
        await transporter.sendMail(whole).finally(() => transporter !== this.pooled && transporter.close());
      };
      // A refused token is fetched anew and tried once more.
      await (this.tokens ? this.tokens.withToken(sendOnce) : sendOnce());
    } catch (err) {
      const e = err as { responseCode?: number; code?: string; response?: string; message: string };
      throw new AppError(
        classifySmtpError(err),
        (e.response ?? e.message).slice(0, 300),
        { responseCode: e.responseCode, smtpCode: e.code },
        err,
      );
    }
  }

  async probe(): Promise<void> {
    const transporter = this.pooled ?? (await this.transporter());
    try {
      await transporter.verify();
    } catch (err) {
      const e = err as { responseCode?: number; code?: string; response?: string; message: string };
      throw new AppError(
        classifySmtpError(err),
        (e.response ?? e.message).slice(0, 300),
        { responseCode: e.responseCode, smtpCode: e.code },
        err,
      );
    } finally {
      if (transporter !== this.pooled) transporter.close();
    }
  }

  close(): void {
    this.pooled?.close();
  }
}

/** Embedded default: each reply becomes `<outbox dir>/<id>-<kind>.eml` (written atomically; a resend overwrites). */
export class FolderTransport implements Transport {
  readonly name = 'folder';
  readonly connections = 1;
  private readonly composer = nodemailer.createTransport({ streamTransport: true, buffer: true, newline: 'unix' });

  constructor(
    private readonly config: Config,
    private readonly dir = config.outboxDir,
  ) {}

  async send(row: OutboxRow, caseRef: string): Promise<void> {
    const info = await this.composer.sendMail(mailOptions(row, caseRef, this.config));
    await fs.mkdir(this.dir, { recursive: true });
    const file = path.join(this.dir, `${String(row.id).padStart(6, '0')}-${row.kind}.eml`);
    await fs.writeFile(`${file}.tmp`, info.message as Buffer);
    await fs.rename(`${file}.tmp`, file);
  }

  async probe(): Promise<void> {
    await fs.mkdir(this.dir, { recursive: true });
    await fs.access(this.dir, fs.constants.W_OK);
  }

  close(): void {}
}
