#!/usr/bin/env node
import fs from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import { Command, InvalidArgumentError, Option } from 'commander';
import { createContext } from './app';
import { casesListing, casesText, LISTING_LIMITS, tasksListing, tasksText } from './commands/listings';
import { earlyVariable, loadConfig } from './config';
import type { AppContext } from './context';
import type { CaseStatus, TaskStatus } from './db/schema';
import { AppError, errorMessage } from './errors';
import { ingestRaw } from './intake/process';
import { reprocess } from './cases/reprocess';
import { reprocessText } from './commands/listings';
import { DEFAULT_RULES_DIR, loadRules } from './rules/load';
import { runReminders } from './cases/reminders';
import { applyRetention } from './retention';
import { usersAddCommand, usersDisableCommand } from './commands/users';
import { finishTask, releaseTask, takeTask } from './tasks/actions';
import { rootLogger } from './log';
import { installFatalHandlers } from './process-guard';
import { startWaitingHealth } from './startup-health';
import { Worker, pollOnce } from './worker';

/** Command-line entry: `npm run cli -- <command>`; `npm start` runs `worker`. */

function fail(err: unknown): never {
  const code = err instanceof AppError ? err.code : 'UNEXPECTED';
  process.stderr.write(`lifecare-intake: ${code}: ${errorMessage(err)}\n`);
  process.exit(code === 'CONFIG_INVALID' || code === 'RULES_INVALID' ? 78 : 1);
}

/** Runs a command with a context and closes the database afterwards. */
async function withContext<T>(fn: (ctx: AppContext) => Promise<T>): Promise<T> {
  const ctx = await createContext();
  try {
    return await fn(ctx);
  } finally {
    await ctx.database.close();
  }
}

const out = (s: string) => process.stdout.write(s);

/** The OS account running the CLI: who takes or finishes a task by default. */
function whoami(): string {
  try {
    return os.userInfo().username;
  } catch {
    return 'cli';
  }
}
const program = new Command('lifecare-intake').description('SITHS notification mails → validated records, replies and Lifecare SP tasks');

program
  .command('parse')
  .description('parse .eml files and print one JSON line per file (no database, no network)')
  .argument('<files...>', '.eml files')
  .option('--rules <dir>', 'rules folder', earlyVariable('RULES_DIR') ?? DEFAULT_RULES_DIR)
  .action(async (files: string[], opts: { rules: string }) => {
    const rules = loadRules(opts.rules);
    const { parseFiles } = await import('./commands/parse.js');
    const failed = await parseFiles(files, rules, (line) => out(line + '\n'));
    process.exitCode = failed > 0 ? 1 : 0;
  });

program
  .command('retention')
  .description('erase personal data of cases done or rejected more than RETENTION_DAYS ago')
  .action(() =>
    withContext(async (ctx) => {
      const r = await applyRetention(ctx);
      out(`erased: ${r.cases} cases, ${r.messages} other messages\n`);
    }),
  );

program
  .command('reminders')
  .description('remind providers of waiting cases now (the worker does it on REMINDER_CRON); flag those that do not answer')
  .action(() =>
    withContext(async (ctx) => {
      const r = await runReminders(ctx);
      out(`reminded: ${r.reminded} cases, flagged: ${r.flagged} cases (sent with the next outbox run)\n`);
    }),
  );

program
  .command('check-config')
  .description('validate the configuration and the rules, then exit')
  .action(() => {
    const config = loadConfig();
    loadRules(config.rulesDir);
    out('configuration and rules are valid\n');
  });

program
  .command('migrate')
  .description('apply the database migrations in drizzle/ and exit')
  .action(() => withContext(async (ctx) => void out(`migrated (${ctx.database.kind})\n`)));

program
  .command('worker')
  .description('run the worker: intake with IDLE, outbox sender, schedules (what npm start runs)')
  .action(async () => {
    const config = loadConfig();
    rootLogger.level = config.logLevel;
    const log = rootLogger.child({ component: 'worker' });
    installFatalHandlers(rootLogger);
    // SIGTERM/SIGINT: finish the message in hand, release the mailbox, exit 0; forced (exit 1) by a
    // second signal or after SHUTDOWN_TIMEOUT_MS.
    let stop: ((signal: string) => Promise<void>) | null = null;
    let signalled: string | null = null;
    const onSignal = (signal: string) => {
      if (signalled) {
        log.warn({ signal }, 'second signal: stopping now');
        process.exit(1);
      }
      signalled = signal;
      log.info({ signal, deadlineMs: config.shutdownTimeoutMs }, 'stopping');
      setTimeout(() => {
        log.error({ signal, deadlineMs: config.shutdownTimeoutMs }, 'shutdown deadline passed: stopping now');
        process.exit(1);
      }, config.shutdownTimeoutMs).unref();
      if (stop) void stop(signal);
    };
    process.on('SIGTERM', () => onSignal('SIGTERM'));
    process.on('SIGINT', () => onSignal('SIGINT'));

    // Without the database yet: wait for it, with /healthz saying so.
    const waiting = config.http.enabled && config.databaseUrl ? await startWaitingHealth(config) : null;
    let ctx: AppContext;
    try {
      ctx = await createContext(config, {
        wait: {
          onWait: (attempt, detail, next) => waiting?.set(`waiting for the database (attempt ${attempt}, next in ${next} ms): ${detail}`),
          stopped: () => signalled !== null,
        },
      });
    } finally {
      await waiting?.close();
    }
    if (signalled) process.exit(0);
    const worker = new Worker(ctx);
    // The mail keeps flowing even when the UI cannot listen (port taken): that is logged, not fatal.
    // The review UI (fastify, views, OIDC) is loaded only when it is served.
    const web = ctx.config.http.enabled
      ? await import('./web/server.js')
          .then(({ startWebServer }) =>
            startWebServer(ctx, { mailboxStatus: () => worker.intakeStatus, senderStatus: () => worker.senderStatus }),
          )
          .catch((err: unknown) => {
            ctx.log.error({ component: 'web', err }, 'review UI not started');
            return null;
          })
      : null;
    const started = worker.start();
    stop = async (signal: string) => {
      const t0 = Date.now();
      await worker.stop();
      await web?.close();
      await ctx.database.close();
      log.info({ signal, ms: Date.now() - t0 }, 'stopped');
      process.exit(0);
    };
    if (signalled) void stop(signalled);
    await started;
    if (!ctx.config.imap) {
      ctx.log.info(
        { component: 'worker', maildrop: ctx.config.maildropDir, outbox: ctx.config.outboxDir },
        'embedded mode: drop .eml files in the maildrop folder; replies are written to the outbox folder',
      );
    }
  });

program
  .command('poll')
  .description('process everything waiting, send due replies, exit')
  .action(() =>
    withContext(async (ctx) => {
      const { sent, mailbox } = await pollOnce(ctx);
      out(`poll done; replies sent: ${sent}${mailbox === 'leased-elsewhere' ? '; mailbox not read (another worker holds it)' : ''}\n`);
    }),
  );

program
  .command('ingest')
  .description('process .eml files as if received (replies are queued, sent by the worker or poll)')
  .argument('<files...>', '.eml files')
  .action((files: string[]) =>
    withContext(async (ctx) => {
      let failed = 0;
      for (const file of files) {
        try {
          const o = await ingestRaw(ctx, await fs.readFile(file), { kind: 'ingest' });
          out(`${path.basename(file)}: ${o.status}${o.caseId ? ` (case ${o.caseId})` : ''}\n`);
        } catch (err) {
          failed++;
          out(`${path.basename(file)}: error ${errorMessage(err)}\n`);
        }
      }
      process.exitCode = failed > 0 ? 1 : 0;
    }),
  );

program
  .command('reprocess')
  .description('run the current reader and rules over stored mail (one, all in review, or since a date); --dry-run shows what would change')
  .option('--message <id>', 'one stored message (its number in the UI)')
  .option('--review', 'every message in the review queue')
  .option('--since <date>', 'every message received since this date (YYYY-MM-DD)')
  .option('--dry-run', 'change nothing, print what would change')
  .option('--json', 'one JSON object per message (with the values that would change)')
  .action((opts: { message?: string; review?: boolean; since?: string; dryRun?: boolean; json?: boolean }) => {
    const given = [opts.message, opts.review, opts.since].filter((v) => v !== undefined).length;
    if (given !== 1) fail(new AppError('INVALID_INPUT', 'give exactly one of --message ID, --review, --since DATE'));
    const since = opts.since ? new Date(`${opts.since}T00:00:00Z`) : null;
    if (since && (!/^\d{4}-\d{2}-\d{2}$/.test(opts.since!) || Number.isNaN(since.getTime())))
      fail(new AppError('INVALID_INPUT', `--since wants a date YYYY-MM-DD, got "${opts.since}"`));
    if (opts.message !== undefined && !/^[1-9][0-9]{0,8}$/.test(opts.message))
      fail(new AppError('INVALID_INPUT', '--message wants a number'));
    const select = opts.message ? { messageId: Number(opts.message) } : opts.review ? ({ review: true } as const) : { since: since! };
    return withContext(async (ctx) => {
      const changes = await reprocess(ctx, select, { dryRun: opts.dryRun === true, actor: 'cli' });
      out(opts.json ? changes.map((c) => JSON.stringify(c) + '\n').join('') : reprocessText(changes, opts.dryRun === true));
    });
  });

interface ListingOptions {
  json?: boolean;
  limit?: number;
  all?: boolean;
}

function positiveInt(v: string): number {
  const n = Number(v);
  if (!Number.isInteger(n) || n < 1) throw new InvalidArgumentError('a whole number, 1 or more');
  return n;
}

/** `--limit N` / `--all` for a listing; a cut listing says so on stderr (stdout stays the listing). */
function withListingOptions(cmd: Command, what: keyof typeof LISTING_LIMITS): Command {
  return cmd
    .addOption(new Option('--limit <n>', `at most n ${what} (default ${LISTING_LIMITS[what]})`).argParser(positiveInt))
    .addOption(new Option('--all', `every ${what.slice(0, -1)}, no limit`).conflicts('limit'));
}

function limitOf(opts: ListingOptions, what: keyof typeof LISTING_LIMITS): number | null {
  return opts.all ? null : (opts.limit ?? LISTING_LIMITS[what]);
}

function saysCut(what: keyof typeof LISTING_LIMITS, shown: number): void {
  process.stderr.write(`${what}: only the first ${shown} shown, more exist (--limit N or --all for more)\n`);
}

withListingOptions(
  program
    .command('cases')
    .description('list cases (newest first)')
    .option('--status <status>', 'waiting | complete | review | done | rejected')
    .option('--json', 'one JSON object per line'),
  'cases',
).action((opts: ListingOptions & { status?: CaseStatus }) =>
  withContext(async (ctx) => {
    const { items, cut } = await casesListing(ctx.database.db, opts.status, limitOf(opts, 'cases'));
    out(opts.json ? items.map((c) => JSON.stringify(c) + '\n').join('') : casesText(items));
    if (cut) saysCut('cases', items.length);
  }),
);

const tasksCmd = withListingOptions(
  program
    .command('tasks')
    .description('list provisioning tasks')
    .option('--status <status>', 'open | in_progress | done | cancelled')
    .option('--json', 'one JSON object per line'),
  'tasks',
).action((opts: ListingOptions & { status?: TaskStatus }) =>
  withContext(async (ctx) => {
    const { items, cut } = await tasksListing(ctx.database.db, opts.status, limitOf(opts, 'tasks'));
    out(opts.json ? items.map((t) => JSON.stringify(t) + '\n').join('') : tasksText(items));
    if (cut) saysCut('tasks', items.length);
  }),
);
tasksCmd
  .command('take')
  .description('take a task (status in progress)')
  .argument('<id>', 'task id', (v) => Number.parseInt(v, 10))
  .option('--as <name>', 'who takes it', whoami())
  .action((id: number, opts: { as: string }) =>
    withContext(async (ctx) => {
      const t = await takeTask(ctx.database.db, id, `cli:${opts.as}`, ctx.now());
      out(`task #${t.id}: ${t.status}\n`);
    }),
  );

tasksCmd
  .command('release')
  .description('give a task you took back (status open)')
  .argument('<id>', 'task id', (v) => Number.parseInt(v, 10))
  .option('--as <name>', 'who took it', whoami())
  .action((id: number, opts: { as: string }) =>
    withContext(async (ctx) => {
      const t = await releaseTask(ctx.database.db, id, `cli:${opts.as}`, ctx.now());
      out(`task #${t.id}: ${t.status}\n`);
    }),
  );

tasksCmd
  .command('done')
  .description("mark a task done (it joins the case's one done confirmation when REPLY_DONE_CONFIRMATION=true)")
  .argument('<id>', 'task id', (v) => Number.parseInt(v, 10))
  .option('--note <text>', 'note to the provider')
  .option('--as <name>', 'who did it', whoami())
  .option('--confirmed-with-provider', 'the values were checked with the provider (required when the sender is not verified; audited)')
  .action((id: number, opts: { note?: string; as: string; confirmedWithProvider?: boolean }) =>
    withContext(async (ctx) => {
      const r = await finishTask(ctx.database.db, ctx.config, ctx.rules, id, `cli:${opts.as}`, opts.note ?? null, ctx.now(), {
        confirmedWithProvider: opts.confirmedWithProvider === true,
      });
      out(`task #${r.task.id}: done; case ${r.caseStatus}${r.replyId ? `; confirmation queued (outbox #${r.replyId})` : ''}\n`);
    }),
  );

program
  .command('serve')
  .description('run the review web UI alone (without the mailbox loop)')
  .action(async () => (await import('./commands/serve.js')).serveCommand());

const usersCmd = program.command('users').description('staff accounts for the review UI');
usersCmd
  .command('add')
  .description('create a staff account; password from LCI_PASSWORD or the first line of standard input')
  .argument('<username>')
  .option('--display-name <name>', 'name shown in the UI')
  .option('--update', 'set a new password for an existing account (also lifts a sign-in lock and ends its sessions)')
  .option('--role <role>', 'handlaggare | admin (new accounts: admin)')
  .action((username: string, opts: { displayName?: string; update?: boolean; role?: string }) => usersAddCommand(username, opts));
usersCmd
  .command('disable')
  .description('disable a staff account: no sign-in by password or Microsoft, its sessions end at once')
  .argument('<username>')
  .action((username: string) => usersDisableCommand(username, true));
usersCmd
  .command('enable')
  .description('enable a disabled staff account again')
  .argument('<username>')
  .action((username: string) => usersDisableCommand(username, false));

program.parseAsync(process.argv).catch(fail);
