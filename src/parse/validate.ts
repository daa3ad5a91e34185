import type { Rules } from '../rules/load';
import { checkHsaId, looksLikePersonnummer, maskPersonnummer, normalizeHsaId } from './hsa-id';
import { Lexicon } from './lexicon';
import { FIELDS, type FieldName, type Intent, type PersonRecord, type Problem } from './types';

/** Whether a person as extracted holds any of the four values. */
export const hasValue = (p: RawPerson) => FIELDS.some((f) => p[f] != null);

/** A personnummer anywhere in a value, with any dash or none. */
const PERSONNUMMER_IN = /(?<!\d)(?:\d{2})?\d{6}\s?[-+–—]?\s?\d{4}(?!\d)/;
const maskAll = (v: string) => v.replace(new RegExp(PERSONNUMMER_IN.source, 'g'), (m) => m.replace(/\d{4}$/, '****'));

/** Values as extracted, before validation. */
export type RawPerson = Partial<Record<FieldName, string | null>> & {
  intent?: Intent;
  /** Line (in the text it was read from) where the person's first value stands: for intent. */
  at?: number;
  end?: number;
  /** The name is a first name alone ("Jonas är enhetschef"), until a fuller reading names the person. */
  firstOnly?: boolean;
};

export function collapse(value: string | null | undefined): string | null {
  if (value == null) return null;
  const v = value.replace(/\s+/g, ' ').trim();
  return v === '' ? null : v;
}

/**
 * Normalizes values (collapse, upper-case HSA-id, mask personnummer) and lists each problem.
 * A grant needs all four fields; a revoke (leaver) needs a name and an HSA-id or a username.
 */
export function validatePerson(raw: RawPerson, rules: Rules): PersonRecord {
  const intent: Intent = raw.intent ?? 'grant';
  const lexicon = Lexicon.for(rules);
  // A placeholder ("vet ej", "kommer senare", "–") says the value is missing.
  const given = (v: string | null | undefined) => {
    const c = collapse(v);
    return c === null || lexicon.isPlaceholder(c) ? null : c;
  };
  const f = rules.fields;
  const problems: Problem[] = [];
  const add = (field: FieldName, code: Problem['code'], message: string) => problems.push({ field, code, message });

  let name = given(raw.name);
  if (name && PERSONNUMMER_IN.test(name)) name = maskAll(name);
  if (!name) add('name', 'missing', f.name.messages.missing);
  else if (/[0-9@<>{}]/.test(name) || !/\p{L}.*\p{L}/u.test(name) || name.length > 100) {
    add('name', 'invalid', f.name.messages.invalid);
  }

  let fn = given(raw.function);
  if (fn && PERSONNUMMER_IN.test(fn)) fn = maskAll(fn);
  if (!fn) {
    if (intent === 'grant') add('function', 'missing', f.function.messages.missing);
  } else if (/[0-9@<>{}]/.test(fn) || !/\p{L}.*\p{L}/u.test(fn) || fn.length > 80) {
    add('function', 'invalid', f.function.messages.invalid);
  }

  let hsaId = given(raw.hsaId);
  if (!hsaId) add('hsaId', 'missing', f.hsaId.messages.missing);
  else {
    const verdict = checkHsaId(hsaId);
    if (verdict === 'personnummer') {
      hsaId = maskPersonnummer(hsaId);
      add('hsaId', 'invalid', f.hsaId.messages.personnummer);
    } else {
      hsaId = normalizeHsaId(hsaId);
      if (verdict === 'checksum') add('hsaId', 'invalid', f.hsaId.messages.checksum);
      else if (verdict === 'tooLong') add('hsaId', 'invalid', f.hsaId.messages.tooLong);
      else if (verdict === 'format') add('hsaId', 'invalid', f.hsaId.messages.invalid);
    }
  }

  let user = given(raw.treservaUser);
  if (!user) add('treservaUser', 'missing', f.treservaUser.messages.missing);
  else if (looksLikePersonnummer(user)) {
    user = maskPersonnummer(user);
    add('treservaUser', 'invalid', f.treservaUser.messages.invalid);
  } else if (/\s/.test(user) || user.length > 64) add('treservaUser', 'invalid', f.treservaUser.messages.invalid);

  // A leaver is identified by an HSA-id or a username: one of them is enough.
  if (intent === 'revoke' && (hsaId || user)) {
    for (let i = problems.length - 1; i >= 0; i--)
      if (problems[i]!.code === 'missing' && problems[i]!.field !== 'name') problems.splice(i, 1);
  }
  return { name, function: fn, hsaId, treservaUser: user, intent, problems };
}
