import { loadConfig, type Config } from './config';
import type { AppContext } from './context';
import { openDatabase, openDatabaseWaiting, type Database, type WaitOptions } from './db/client';
import { ImapIntake } from './intake/imap';
import type { Intake } from './intake/intake';
import { MaildropIntake } from './intake/maildrop';
import { rootLogger } from './log';
import { SECRET_WARN_DAYS, secretDaysLeft, TokenProvider } from './oauth';
import { OutboxSender } from './replies/sender';
import { ThreadedTransport } from './replies/threaded';
import { SmtpTransport, type Transport } from './replies/transport';
import { loadRules } from './rules/load';

/** Builds the pieces every command shares: config, rules, database (migrated), logger. */
export async function createContext(
  config: Config = loadConfig(),
  opts: { migrate?: boolean; wait?: Omit<WaitOptions, 'log'> } = {},
): Promise<AppContext> {
  rootLogger.level = config.logLevel;
  const rules = loadRules(config.rulesDir);
  const dbOpts = { url: config.databaseUrl, pgliteDir: config.pgliteDir, migrate: opts.migrate ?? true };
  // The worker waits for PostgreSQL (with backoff); one-off commands fail at once.
  const database: Database = opts.wait ? await openDatabaseWaiting(dbOpts, { ...opts.wait, log: rootLogger }) : await openDatabase(dbOpts);
  rootLogger.info(
    { component: 'app', database: database.kind, intake: config.imap ? 'imap' : 'maildrop', replies: config.smtp ? 'smtp' : 'folder' },
    'started',
  );
  const days = secretDaysLeft(config.oauthSecretExpires, new Date());
  if (config.oauth && days !== null && days <= SECRET_WARN_DAYS) {
    rootLogger.warn(
      { component: 'oauth', daysLeft: days },
      days <= 0
        ? 'the OAuth2 client secret has expired: make a new one (README: rotating the client secret)'
        : 'the OAuth2 client secret expires soon: make a new one (README: rotating the client secret)',
    );
  }
  return { config, rules, database, log: rootLogger, now: () => new Date() };
}

/** IMAP when configured, else the maildrop folder; SMTP when configured, else the outbox folder. */
export function createMailPieces(
  ctx: AppContext,
  onNewMail: (reason: string) => void = () => {},
): { intake: Intake; transport: Transport; sender: OutboxSender } {
  const tokens = TokenProvider.fromConfig(ctx.config);
  const intake: Intake = ctx.config.imap ? new ImapIntake(ctx, tokens, onNewMail) : new MaildropIntake(ctx, onNewMail);
  // Replies are built and sent in a thread of their own; OAuth2's tokens live here, so with them SMTP stays in-process.
  const transport: Transport = ctx.config.smtp && tokens ? new SmtpTransport(ctx.config, tokens) : new ThreadedTransport(ctx.config);
  return { intake, transport, sender: new OutboxSender(ctx, transport) };
}
