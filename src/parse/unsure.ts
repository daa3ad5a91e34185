import { checkHsaId, normalizeHsaId } from './hsa-id';
import { FIELDS, type PersonRecord, type Unsure } from './types';

/**
 * Where the reader is unsure, it says so instead of claiming a value is missing: an HSA-id-shaped
 * token in the new text that no person got, while a person's HSA-id is missing or wrong, is a
 * candidate for that person. Such a person goes to IT staff with the candidates shown, not into an
 * automatic "saknas" reply.
 */

// Bounded: lines are at most 2,000 characters (visibleText) and no repeat is nested.
const HSA_TOKEN = /(?<![\p{L}\p{N}])SE[ \t]?(?:16)?(?:\d[ \t]?){9}\d[ \t]?[-–][ \t]?[A-Za-z0-9]{1,24}(?![\p{L}\p{N}@])/giu;

/** HSA-id-shaped tokens of the lines, normalised, in text order, each once. */
export function hsaTokens(lines: readonly string[]): string[] {
  const out = new Set<string>();
  for (const line of lines) {
    if (!/se/i.test(line)) continue;
    for (const m of line.matchAll(HSA_TOKEN)) out.add(normalizeHsaId(m[0].replace(/[–]/g, '-')));
  }
  return [...out];
}

/** Marks the persons whose HSA-id the mail may well show, with the tokens nobody got as candidates. */
export function markUnsure(records: PersonRecord[], lines: readonly string[]): void {
  // A token inside a value someone got (or holding one) is that value, read differently.
  const placed = records.flatMap((r) => FIELDS.flatMap((f) => (r[f] ? [normalizeHsaId(r[f])] : [])));
  const unplaced = hsaTokens(lines).filter((t) => checkHsaId(t) === 'valid' && !placed.some((v) => v.includes(t) || t.includes(v)));
  if (unplaced.length === 0) return;
  const lacking = records.filter((r) => r.problems.some((p) => p.field === 'hsaId'));
  // One token for one person is a likely place; more tokens than persons lacking one is a guess either way.
  for (const r of lacking) {
    const unsure: Unsure = { field: 'hsaId', candidates: unplaced.slice(0, 5) };
    r.unsure = [...(r.unsure ?? []), unsure];
  }
}

/** The review reason for an unsure person, in Swedish, with the candidates. */
export function unsureReason(record: Pick<PersonRecord, 'unsure'>): string | null {
  if (!record.unsure?.length) return null;
  const parts = record.unsure.map((u) => `${FIELD_WORDS[u.field]} kan vara ${u.candidates.join(' eller ')}`);
  return `osäker tolkning: ${parts.join('; ')} (står i mejlet men kunde inte kopplas till personen)`;
}

const FIELD_WORDS: Record<Unsure['field'], string> = {
  name: 'namnet',
  function: 'funktionen',
  hsaId: 'HSA-id',
  treservaUser: 'användarnamnet',
};
