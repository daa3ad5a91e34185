#!/usr/bin/env node
import fs from 'node:fs/promises';
import path from 'node:path';
import { Command } from 'commander';
import { createContext } from './app';
import { listCases, listTasks, casesText, tasksText } from './commands/listings';
import { parseFiles } from './commands/parse';
import { loadConfig } from './config';
import type { AppContext } from './context';
import type { CaseStatus, TaskStatus } from './db/schema';
import { AppError, errorMessage } from './errors';
import { ingestRaw } from './intake/process';
import { DEFAULT_RULES_DIR, loadRules } from './rules/load';
import { applyRetention } from './retention';
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
const program = new Command('lifecare-intake').description('SITHS notification mails → validated records, replies and Lifecare SP tasks');

program
  .command('parse')
  .description('parse .eml files and print one JSON line per file (no database, no network)')
  .argument('<files...>', '.eml files')
  .option('--rules <dir>', 'rules folder', process.env.RULES_DIR ?? DEFAULT_RULES_DIR)
  .action(async (files: string[], opts: { rules: string }) => {
    const rules = loadRules(opts.rules);
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
    const ctx = await createContext();
    const worker = new Worker(ctx);
    let stopping = false;
    const stop = async (signal: string) => {
      if (stopping) return;
      stopping = true;
      ctx.log.info({ component: 'worker', signal }, 'stopping');
      await worker.stop();
      await ctx.database.close();
      ctx.log.info({ component: 'worker' }, 'stopped');
      process.exit(0);
    };
    process.on('SIGTERM', () => void stop('SIGTERM'));
    process.on('SIGINT', () => void stop('SIGINT'));
    await worker.start();
    if (!ctx.config.imap) {
      ctx.log.info({ component: 'worker', maildrop: ctx.config.maildropDir, outbox: ctx.config.outboxDir }, 'embedded mode: drop .eml files in the maildrop folder; replies are written to the outbox folder');
    }
  });

program
  .command('poll')
  .description('process everything waiting, send due replies, exit')
  .option('--once', 'run once and exit (the only mode; the worker runs continuously)', true)
  .action(() =>
    withContext(async (ctx) => {
      const { sent } = await pollOnce(ctx);
      out(`poll done; replies sent: ${sent}\n`);
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
  .command('cases')
  .description('list cases (newest first)')
  .option('--status <status>', 'waiting | complete | review | done | rejected')
  .option('--json', 'one JSON object per line')
  .action((opts: { status?: CaseStatus; json?: boolean }) =>
    withContext(async (ctx) => {
      const list = await listCases(ctx.database.db, opts.status);
      out(opts.json ? list.map((c) => JSON.stringify(c) + '\n').join('') : casesText(list));
    }),
  );

const tasksCmd = program
  .command('tasks')
  .description('list provisioning tasks')
  .option('--status <status>', 'open | in_progress | done | cancelled')
  .option('--json', 'one JSON object per line')
  .action((opts: { status?: TaskStatus; json?: boolean }) =>
    withContext(async (ctx) => {
      const list = await listTasks(ctx.database.db, opts.status);
      out(opts.json ? list.map((t) => JSON.stringify(t) + '\n').join('') : tasksText(list));
    }),
  );
void tasksCmd;

program.parseAsync(process.argv).catch(fail);
