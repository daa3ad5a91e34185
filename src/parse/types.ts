import type { FieldName, Problem } from '../db/schema';

export type { FieldName, Problem };
export const FIELDS: readonly FieldName[] = ['name', 'function', 'hsaId', 'treservaUser'];

export type MailKind = 'notification' | 'automated' | 'other';

/** What the provider asks for a person: access (`grant`) or its removal (`revoke`, a leaver). */
export type Intent = 'grant' | 'revoke';

/** One person as extracted and validated. The field names are a public contract (parse, export, API). */
export interface PersonRecord {
  name: string | null;
  function: string | null;
  hsaId: string | null;
  treservaUser: string | null;
  intent: Intent;
  problems: Problem[];
  /** Where the reader is unsure: value-shaped tokens of the mail it could not place (the person goes to review). */
  unsure?: Unsure[];
}

/** Candidates for one field of a person, shown to IT staff instead of an automatic "saknas". */
export interface Unsure {
  field: FieldName;
  candidates: string[];
}

/** The `parse` command's line for one file: a public contract. */
export interface ParseResult {
  file?: string;
  messageId: string | null;
  from: string | null;
  subject: string;
  kind: MailKind;
  persons: PersonRecord[];
  autoReply: boolean;
  error?: { code: string; message: string };
}
