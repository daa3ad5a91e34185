import fs from 'node:fs/promises';
import path from 'node:path';
import nodemailer, { type SendMailOptions, type Transporter } from 'nodemailer';
import type { Config } from '../config';
import type { outbox } from '../db/schema';
import { AppError } from '../errors';
import type { TokenProvider } from '../oauth';

export type OutboxRow = typeof outbox.$inferSelect;

/** Where replies go: an SMTP server, or (embedded default) .eml files in a folder. */
export interface Transport {
  readonly name: string;
  send(row: OutboxRow, caseRef: string): Promise<void>;
  close(): void;
}

/** The reply as sent: threaded to the provider's mail, marked as automatic, with our loop header. */
export function mailOptions(row: OutboxRow, caseRef: string, config: Config): SendMailOptions {
  return {
    from: { name: config.mailFromName, address: config.mailFrom },
    to: row.toAddr,
    subject: row.subject,
    text: row.bodyText,
    messageId: row.messageId,
    date: row.createdAt,
    ...(row.inReplyTo ? { inReplyTo: row.inReplyTo } : {}),
    ...(row.references.length ? { references: row.references } : {}),
    headers: {
      'Auto-Submitted': 'auto-replied',
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
  private readonly pooled: Transporter | null;

  constructor(
    private readonly config: Config,
    private readonly tokens?: TokenProvider,
  ) {
    this.pooled = tokens ? null : nodemailer.createTransport({ ...this.base(), pool: true, maxConnections: 1, maxMessages: 100 });
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
    const options = mailOptions(row, caseRef, this.config);
    try {
      const sendOnce = async () => {
        const transporter = await this.transporter();
        await transporter.sendMail(options).finally(() => transporter !== this.pooled && transporter.close());
      };
      // A refused token is fetched anew and tried once more.
      await (this.tokens ? this.tokens.withToken(sendOnce) : sendOnce());
    } catch (err) {
      const e = err as { responseCode?: number; code?: string; response?: string; message: string };
      const permanent = typeof e.responseCode === 'number' && e.responseCode >= 500;
      throw new AppError(permanent ? 'SMTP_PERMANENT' : 'SMTP_TRANSIENT', e.response ?? e.message, { responseCode: e.responseCode, smtpCode: e.code }, err);
    }
  }

  close(): void {
    this.pooled?.close();
  }
}

/** Embedded default: each reply becomes `<outbox dir>/<id>-<kind>.eml` (written atomically; a resend overwrites). */
export class FolderTransport implements Transport {
  readonly name = 'folder';
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

  close(): void {}
}
