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
