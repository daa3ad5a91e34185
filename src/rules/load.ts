import fs from 'node:fs';
import path from 'node:path';
import YAML from 'yaml';
import type { z } from 'zod';
import { AppError } from '../errors';
import { fieldsFileSchema, lexiconFileSchema, repliesFileSchema, sendersFileSchema, type FieldsFile, type LexiconFile, type RepliesFile, type SendersFile } from './schema';

/** Everything IT staff may edit without code, validated. */
export interface Rules {
  readonly fields: FieldsFile['fields'];
  /** Role names and their abbreviations, as the reader matches them. */
  readonly functions: readonly string[];
  readonly lexicon: LexiconFile;
  /** Given names (lower-cased) that let the reader find a name written in lower case. */
  readonly givenNames: ReadonlySet<string>;
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

/** One name a line; `#` starts a comment. A line that is not a single name is an error naming file and line. */
function loadNames(file: string): ReadonlySet<string> {
  let text: string;
  try {
    text = fs.readFileSync(file, 'utf8');
  } catch (err) {
    throw new AppError('RULES_INVALID', `${file}: cannot be read (${(err as Error).message})`, { file }, err);
  }
  const names = new Set<string>();
  text.split('\n').forEach((raw, i) => {
    const line = raw.replace(/#.*/, '').trim();
    if (line === '') return;
    if (!/^\p{L}[\p{L}'’-]{0,40}$/u.test(line)) {
      throw new AppError('RULES_INVALID', `Invalid rules:\n  ${file}: line ${i + 1}: "${line.slice(0, 40)}" is not a single name`, { file, fields: [`line ${i + 1}`] });
    }
    names.add(line.toLocaleLowerCase('sv'));
  });
  return names;
}

export function loadRules(dir: string): Rules {
  const fields = loadFile(dir, 'fields.yaml', fieldsFileSchema);
  const lexicon = loadFile(dir, 'lexicon.yaml', lexiconFileSchema);
  return Object.freeze({
    fields: fields.fields,
    functions: lexicon.roles.flatMap((r) => [r.name, ...r.abbreviations]),
    lexicon,
    givenNames: new Set([...loadNames(path.join(dir, 'names', 'given-names.txt')), ...loadNames(path.join(dir, 'names', 'given-names-sv.txt'))]),
    senders: loadFile(dir, 'senders.yaml', sendersFileSchema),
    replies: loadFile(dir, 'replies.yaml', repliesFileSchema),
  });
}

/** The rules folder shipped with the project. */
export const DEFAULT_RULES_DIR = path.resolve(__dirname, '../../rules');
