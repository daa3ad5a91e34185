import fs from 'node:fs';
import path from 'node:path';
import YAML from 'yaml';
import type { z } from 'zod';
import { AppError } from '../errors';
import { fieldsFileSchema, repliesFileSchema, sendersFileSchema, type FieldsFile, type RepliesFile, type SendersFile } from './schema';

/** Everything IT staff may edit without code, validated. */
export interface Rules {
  readonly fields: FieldsFile['fields'];
  readonly functions: readonly string[];
  readonly senders: SendersFile;
  readonly replies: RepliesFile;
}

function loadFile<S extends z.ZodType>(dir: string, name: string, schema: S): z.output<S> {
  const file = path.join(dir, name);
  let text: string;
  try {
    text = fs.readFileSync(file, 'utf8');
  } catch (err) {
    throw new AppError('RULES_INVALID', `${file}: cannot be read (${(err as Error).message})`, { file }, err);
  }
  const doc = YAML.parseDocument(text, { prettyErrors: true });
  if (doc.errors.length > 0) {
    throw new AppError('RULES_INVALID', `${file}: not valid YAML: ${doc.errors[0]!.message}`, { file });
  }
  const result = schema.safeParse(doc.toJS());
  if (!result.success) {
    const lines = result.error.issues.map((i) => `  ${file}: ${i.path.join('.') || '(top level)'}: ${i.message}`);
    throw new AppError('RULES_INVALID', `Invalid rules:\n${lines.join('\n')}`, {
      file,
      fields: result.error.issues.map((i) => i.path.join('.')),
    });
  }
  return result.data;
}

export function loadRules(dir: string): Rules {
  const fields = loadFile(dir, 'fields.yaml', fieldsFileSchema);
  return Object.freeze({
    fields: fields.fields,
    functions: fields.functions,
    senders: loadFile(dir, 'senders.yaml', sendersFileSchema),
    replies: loadFile(dir, 'replies.yaml', repliesFileSchema),
  });
}

/** The rules folder shipped with the project. */
export const DEFAULT_RULES_DIR = path.resolve(__dirname, '../../rules');
