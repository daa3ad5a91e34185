/**
 * HSA-id rules (Inera): SE + optional "16" + 10-digit organisation number with a Luhn check
 * digit + "-" + a unique part of letters A-Z and digits, at most 31 characters in all.
 */

export type HsaIdVerdict = 'valid' | 'format' | 'checksum' | 'personnummer' | 'tooLong';

const HSA_FORM = /^SE(?:16)?(\d{10})-([A-Z0-9]+)$/;
const PERSONNUMMER = /^(?:\d{2})?\d{6}\s?[-+–— ]?\s?\d{4}$/;

/** Luhn over the first nine digits (weights 2,1,2,... from the left) must give the tenth. */
export function luhnCheckDigit(nineDigits: string): number {
  let sum = 0;
  for (let i = 0; i < 9; i++) {
    let d = Number(nineDigits[i]) * (i % 2 === 0 ? 2 : 1);
    if (d > 9) d -= 9;
    sum += d;
  }
  return (10 - (sum % 10)) % 10;
}

export function luhnValid(tenDigits: string): boolean {
  return /^\d{10}$/.test(tenDigits) && luhnCheckDigit(tenDigits.slice(0, 9)) === Number(tenDigits[9]);
}

/** Trimmed, upper-cased, inner spaces removed: how an HSA-id is stored. */
export function normalizeHsaId(value: string): string {
  return value.trim().replace(/\s+/g, '').toUpperCase();
}

export function looksLikePersonnummer(value: string): boolean {
  return PERSONNUMMER.test(value.trim());
}

/** A personnummer is never kept or echoed in full: the last four digits are masked, written the one way ("19800101-****"). */
export function maskPersonnummer(value: string): string {
  return value.trim().replace(/[ \t]*([-+–—]?)[ \t]*\d{4}$/, (_, sep: string) => `${sep === '+' ? '+' : '-'}****`);
}

export function checkHsaId(value: string): HsaIdVerdict {
  const v = normalizeHsaId(value);
  if (looksLikePersonnummer(value)) return 'personnummer';
  const m = HSA_FORM.exec(v);
  if (!m) return v.length > 31 && /^SE(?:16)?\d{10}-/.test(v) ? 'tooLong' : 'format';
  if (v.length > 31) return 'tooLong';
  return luhnValid(m[1]!) ? 'valid' : 'checksum';
}
