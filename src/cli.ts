#!/usr/bin/env node
import { Command } from 'commander';
import { loadConfig } from './config';
import { AppError, errorMessage } from './errors';
import { DEFAULT_RULES_DIR, loadRules } from './rules/load';
import { parseFiles } from './commands/parse';

/** Command-line entry: `npm run cli -- <command>`; `npm start` runs `worker`. */

function fail(err: unknown): never {
  const code = err instanceof AppError ? err.code : 'UNEXPECTED';
  process.stderr.write(`lifecare-intake: ${code}: ${errorMessage(err)}\n`);
  process.exit(code === 'CONFIG_INVALID' || code === 'RULES_INVALID' ? 78 : 1);
}

const program = new Command('lifecare-intake').description('SITHS notification mails → validated records, replies and Lifecare SP tasks');

program
  .command('parse')
  .description('parse .eml files and print one JSON line per file (no database, no network)')
  .argument('<files...>', '.eml files')
  .option('--rules <dir>', 'rules folder', process.env.RULES_DIR ?? DEFAULT_RULES_DIR)
  .action(async (files: string[], opts: { rules: string }) => {
    const rules = loadRules(opts.rules);
    const failed = await parseFiles(files, rules, (line) => process.stdout.write(line + '\n'));
    process.exitCode = failed > 0 ? 1 : 0;
  });

program
  .command('check-config')
  .description('validate the configuration and the rules, then exit')
  .action(() => {
    const config = loadConfig();
    loadRules(config.rulesDir);
    process.stdout.write('configuration and rules are valid\n');
  });

program.parseAsync(process.argv).catch(fail);
