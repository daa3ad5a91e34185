import { checkHsaId, normalizeHsaId } from './hsa-id';
import { TEMPLATE_ID } from './prose';
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
    for (const m of line.matchAll(HSA_TOKEN)) if (!TEMPLATE_ID.test(m[0])) out.add(normalizeHsaId(m[0].replace(/[–]/g, '-')));
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

/** Attachments the reader cannot read (a scanned card letter, a photo): where a missing value may stand. */
const UNREAD = /^(?:application\/pdf|image\/)/i;
/** The mail points at an attachment ("bifogar följesedeln", "se bilaga", "attached"). */
const POINTS_AT = /(?<![\p{L}])(?:bifog\p{L}*|bilaga\p{L}*|följesedel\p{L}*|se bild|attached|attachment|enclosed)(?![\p{L}])/iu;

/**
 * A person whose HSA-id (or other field) is missing while the mail points at an attachment the
 * reader cannot read: the value may well stand there, so IT staff look instead of a "saknas" reply.
 */
export function markUnreadAttachments(
  records: PersonRecord[],
  lines: readonly string[],
  attachments: ReadonlyArray<{ filename: string | null; contentType: string; tooLarge?: true }>,
): void {
  const unread = attachments.filter((a) => a.tooLarge || UNREAD.test(a.contentType) || /\.pdf$/i.test(a.filename ?? ''));
  if (unread.length === 0 || !lines.some((l) => POINTS_AT.test(l))) return;
  const where = unread.slice(0, 3).map((a) => `bilagan ${a.filename ?? a.contentType}`);
  for (const r of records) {
    for (const p of r.problems) {
      if (p.code !== 'missing' || r.unsure?.some((u) => u.field === p.field)) continue;
      r.unsure = [...(r.unsure ?? []), { field: p.field, candidates: where }];
    }
  }
}

/** The review reason for an unsure person, in Swedish, with the candidates. */
export function unsureReason(record: Pick<PersonRecord, 'unsure'>): string | null {
  if (!record.unsure?.length) return null;
  const parts = record.unsure.map((u) =>
    u.candidates.every((c) => c.startsWith('bilagan '))
      ? `${FIELD_WORDS[u.field]} kan stå i ${u.candidates.join(' eller ')} (kan inte läsas automatiskt)`
      : `${FIELD_WORDS[u.field]} kan vara ${u.candidates.join(' eller ')} (står i mejlet men kunde inte kopplas till personen)`,
  );
  return `osäker tolkning: ${parts.join('; ')}`;
}

const FIELD_WORDS: Record<Unsure['field'], string> = {
  name: 'namnet',
  function: 'funktionen',
  hsaId: 'HSA-id',
  treservaUser: 'användarnamnet',
};
