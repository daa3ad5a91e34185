import fs from 'node:fs/promises';
import { errorMessage } from '../errors';
import { parseMail } from '../parse';
import type { ParseResult } from '../parse/types';
import type { Rules } from '../rules/load';

/**
 * `parse FILE.eml ...`: one JSON line per file, in input order; no database, no network.
 * Returns the number of files that could not be read or parsed.
 */
export async function parseFiles(files: string[], rules: Rules, write: (line: string) => void): Promise<number> {
  let failed = 0;
  for (const file of files) {
    let line: ParseResult;
    try {
      const raw = await fs.readFile(file);
      const { result } = await parseMail(raw, rules);
      line = { file, ...result };
    } catch (err) {
      line = {
        file,
        messageId: null,
        from: null,
        subject: '',
        kind: 'other',
        persons: [],
        autoReply: false,
        error: { code: 'FILE_UNREADABLE', message: errorMessage(err) },
      };
    }
    if (line.error) failed++;
    write(JSON.stringify(line));
  }
  return failed;
}
