import { FIELDS, type FieldName, type PersonRecord, type Problem } from '../parse/types';
import { validatePerson, type RawPerson } from '../parse/validate';
import type { Rules } from '../rules/load';

/**
 * Data minimisation for everything a case keeps and shows: a personnummer (with any dash, in any
 * field or text) never stays in clear; names and usernames refuse invisible and direction-changing
 * characters; usernames keep to a conservative charset. Applied on top of the parser's checks.
 */

// YYMMDD or YYYYMMDD (day + 60 for a samordningsnummer), an optional separator (any dash, plus,
// space), four digits; not inside a longer run of digits nor right after "SE" (an HSA-id such as
// SE5501662992-X carries an organisation number that may look like one). Bounded: no nested repeats.
const PNR =
  /(?<![0-9])(?<![Ss][Ee])((?:19|20)?[0-9]{2}(?:0[1-9]|1[0-2])(?:[0-2][0-9]|3[01]|[6-8][0-9]|9[01]))[ \u00a0]?([-+\u2010-\u2015\u2212\ufe58\ufe63\uff0d]?)[ \u00a0]?[0-9]{4}(?![0-9])/g;

/** Every personnummer in a text with its last four digits masked: `19800101-1234` → `19800101-****`. */
export function maskPersonnummerInText(text: string): string {
  return text.replace(PNR, (_m, birth: string) => `${birth}-****`);
}

export function containsPersonnummer(text: string): boolean {
  PNR.lastIndex = 0;
  const found = PNR.test(text);
  PNR.lastIndex = 0;
  return found;
}

// C0/C1 controls, zero-width characters, soft hyphen, bidi embeddings, overrides, isolates and marks.
const INVISIBLE = /[\u0000-\u001f\u007f-\u009f\u00ad\u061c\u180e\u200b-\u200f\u202a-\u202e\u2060-\u2064\u2066-\u206f\ufeff\ufff9-\ufffb]/gu;

export function hasInvisible(value: string): boolean {
  INVISIBLE.lastIndex = 0;
  const found = INVISIBLE.test(value);
  INVISIBLE.lastIndex = 0;
  return found;
}

/** A Treserva/TES username: ASCII letters, digits, dot, underscore and hyphen. */
export const USERNAME = /^[A-Za-z0-9][A-Za-z0-9._-]{0,63}$/;

/** The parser's record made safe to keep: personnummer masked, invisible characters refused. */
export function sanitizeRecord(record: PersonRecord, rules: Rules): PersonRecord {
  const out: PersonRecord = { ...record, problems: [...record.problems] };
  const f = rules.fields;
  const invalid = (field: FieldName, message: string) => {
    out.problems = out.problems.filter((p) => p.field !== field);
    out.problems.push({ field, code: 'invalid', message } satisfies Problem);
  };
  for (const field of FIELDS) {
    const v = out[field];
    if (v == null) continue;
    if (hasInvisible(v)) {
      out[field] = v.replace(INVISIBLE, '').trim() || null;
      invalid(field, f[field].messages.invalid);
    }
    const w = out[field];
    if (w != null && containsPersonnummer(w)) {
      out[field] = maskPersonnummerInText(w);
      invalid(field, field === 'hsaId' ? f.hsaId.messages.personnummer : f[field].messages.invalid);
    }
  }
  const user = out.treservaUser;
  if (user != null && !out.problems.some((p) => p.field === 'treservaUser') && !USERNAME.test(user))
    invalid('treservaUser', f.treservaUser.messages.invalid);
  // The parser's order of fields is kept for the reply's problem list.
  out.problems.sort((a, b) => FIELDS.indexOf(a.field) - FIELDS.indexOf(b.field));
  return out;
}

/** Validation for everything a case stores: the parser's rules, then `sanitizeRecord`. */
export function checkPerson(raw: RawPerson, rules: Rules): PersonRecord {
  return sanitizeRecord(validatePerson(raw, rules), rules);
}

/** The fields of a record whose values may be repeated to the sender: present and without a problem. */
export function echoable(record: Pick<PersonRecord, FieldName | 'problems'>, field: FieldName): string | null {
  return record.problems.some((p) => p.field === field) ? null : record[field];
}
