import type { FieldName } from './types';

/** How a found value is cleaned, and whether it can be a value at all. */

/** Strips quotes, trailing punctuation and filler from a value. */
export function cleanValue(field: FieldName, value: string): string | null {
  let v = value
    .replace(/\u00a0/g, ' ')
    .replace(/\*+/g, '')
    .trim();
  v = v.replace(/^["'“”‘’«»<[]+|["'“”‘’«»>\]]+$/g, '').trim();
  // Brackets only when they do not close something the value opened: "Team leader (Gruppledare)" stays whole.
  if (/^\(/.test(v) && !/\)/.test(v.slice(1))) v = v.slice(1).trim();
  if (/^\(.*\)$/.test(v)) v = v.slice(1, -1).trim();
  if (/\)$/.test(v) && !v.includes('(')) v = v.slice(0, -1).trim();
  v = v.replace(/^(är|blir|=|:)\s+/i, '').trim();
  v = v.replace(/\s*[–—]+$/, '').trim();
  if (field !== 'treservaUser') v = v.replace(/[.,;:]+$/, '').trim();
  if (field !== 'treservaUser' && /\($/.test(v)) v = v.slice(0, -1).trim();
  else v = v.replace(/[,;:]+$|\.$/, '').trim();
  // "Kortet är beställt, kommer vecka 10": a remark in the HSA-id's place, no id.
  if (field === 'hsaId' && !/\d{4}/.test(v) && v.split(/\s+/).length >= 3) return null;
  // "SE5500079198–T1X": Word's en dash for the hyphen.
  if (field === 'hsaId') v = v.replace(/\s*[-–—]\s*/g, '-');
  if (field === 'hsaId' && /^SE\s?\d/i.test(v)) v = v.replace(/\s+/g, '');
  // A function is capitalised ("Usk"), but not an abbreviation before it ("tf enhetschef", "t.f. samordnare").
  if (field === 'function' && !/^(?:tf\.?|t\.f\.?|vik\.|stf\.?|tillf\.)\s/i.test(v)) v = v.charAt(0).toLocaleUpperCase('sv') + v.slice(1);
  if (v === '' || /^[-–_.?]+$/.test(v) || /^(saknas|ej känt|okänt|vet ej|n\/a)$/i.test(v)) return null;
  return v;
}

/** A value given without a separator must look like its field, or the line is prose. */
export function plausibleBare(field: FieldName, v: string): boolean {
  switch (field) {
    case 'hsaId':
      return /^SE\s?\d/i.test(v) || /^\d{6,8}[-+]?\d{4}$/.test(v);
    case 'treservaUser':
      return /^[A-Za-z0-9._\\@-]{2,40}$/.test(v) && !/^(är|och|i|för|till|som|har|ska|blir)$/i.test(v);
    case 'name':
      return /^\p{Lu}[\p{L}'-]+(\s+\p{Lu}[\p{L}'-]+){1,3}$/u.test(v);
    case 'function':
      return /^\p{L}[\p{L} -]{1,40}$/u.test(v) && v.split(/\s+/).length <= 4;
  }
}

/** A value that is clearly contact detail or boilerplate, never a field value. */
export function isNoise(v: string, field?: FieldName): boolean {
  // A long digit run in the HSA-id place (a card number) is a wrong HSA-id, not contact detail.
  if (field === 'hsaId') return /^(tel|telefon|mobil|mob|fax|e-?post|mail|adress|www)\b/i.test(v);
  return (
    /^(tel|telefon|mobil|mob|fax|e-?post|mail|adress|org\.?\s*nr|organisationsnummer|www)\b/i.test(v) ||
    (/^\+?\d[\d\s-]{6,}$/.test(v) && !/^\d{6,8}[-+]\d{4}$/.test(v))
  );
}

const fold = (s: string) =>
  s
    .normalize('NFD')
    .replace(/[\u0300-\u036f]/g, '')
    .toLowerCase();

/**
 * Whether a username is built from the name, as Treserva usernames usually are: the start of the
 * given name then the start of the surname ("lejhod" for Lejla Hodzic, "petsjo" for Petra Sjöberg),
 * the other way round, or an initial and the surname; digits may follow. A check true of this
 * domain, used to accept a bare token as the username only when it fits the person.
 */
export function builtFromName(user: string, name: string): boolean {
  // A firm's prefix may stand first: "hh.jusan", "cn_tono", "kvhamak" (at most four letters).
  const folded = fold(user).replace(/\d+$/, '');
  const sep = /^[a-z]{1,4}[._-](?=[a-z]{4})/.exec(folded);
  if (sep) return builtFromName(folded.slice(sep[0].length), name);
  for (let k = 0; k <= 4 && folded.length - k >= 4; k++) if (joinsName(folded.slice(k), name)) return true;
  return false;
}

function joinsName(user: string, name: string): boolean {
  const u = user;
  const words = fold(name)
    .split(/[\s-]+/)
    .filter((w) => /^[a-z']{2,}$/.test(w));
  if (u.length < 4 || words.length < 2 || !/^[a-z]+$/.test(u)) return false;
  // Starts of two or more of the name's words, in their order ("jamoso": Javier Morales Soto).
  const pieces = (rest: string, from: number, used: number, firstLen: number): boolean => {
    if (rest === '') return used >= 2 && (firstLen >= 2 || u.length - firstLen >= 3);
    for (let k = from; k < words.length; k++) {
      const w = words[k]!;
      for (let n = Math.min(w.length, rest.length); n >= 1; n--) {
        if (rest.slice(0, n) === w.slice(0, n) && pieces(rest.slice(n), k + 1, used + 1, used === 0 ? n : firstLen)) return true;
      }
    }
    return false;
  };
  // Or the surname's start then the given name's ("berlis").
  return pieces(u, 0, 0, 0) || joins(u, words[words.length - 1]!, words[0]!);
}

/** The start of `a` then the start of `b`. */
function joins(u: string, a: string, b: string): boolean {
  for (let i = 1; i <= Math.min(a.length, u.length - 1); i++) {
    if (u.slice(0, i) !== a.slice(0, i)) break;
    const rest = u.slice(i);
    if (rest.length >= 1 && b.startsWith(rest) && (i >= 2 || rest.length >= 3)) return true;
  }
  return false;
}

/** Words that make a "name" a firm or a place ("Varberga Hemtjänst AB", "Omsorgshuset Norrliden"). */
const FIRM_WORD =
  /^(?:ab|hb|kb|aktiebolag|ekonomisk|förening|stiftelse|(?:omsorg|hemtjänst|hemomsorg|vårdpool|assistans|äldreomsorg|kommun|region|bemanning)\p{L}*|\p{L}*(?:omsorg|omsorgen|hemtjänst|hemtjänsten|assistans))$/iu;

export const isFirmWord = (w: string) => FIRM_WORD.test(w.replace(/[.,]/g, ''));

export function firmLike(v: string): boolean {
  return v.split(/\s+/).some(isFirmWord);
}
