import type { Rules } from '../rules/load';
import { cleanValue } from './values';
import type { RawPerson } from './validate';
import type { FieldName } from './types';

/**
 * Persons in free Swedish prose: "Vår nya enhetschef Lisa Berg har fått sitt SITHS-kort,
 * HSA-id SE2321000016-4HK5 och användarnamnet i Treserva är lisber."
 * Each sentence is scanned for the four fields; a field seen twice starts the next person.
 */

const WORD = String.raw`\p{Lu}[\p{Ll}'’]+(?:-\p{Lu}?[\p{Ll}'’]+)*`;
const NAME = String.raw`${WORD}(?:[ \t]+(?:af[ \t]+|von[ \t]+|de[ \t]+)?${WORD}){1,3}`;
const HSA_TOKEN = /\b[Ss][Ee]\s?(?:16)?\d{10}\s?-\s?[\p{L}\d@]+/u;
const HSA_LABELLED = /\bHSA[- ]?(?:id|ID|Id)(?:[- ]?(?:t|nummer|numret))?\s*(?:är|blir|:|=)?\s*([^\s,;]+)/iu;
const USER_LABELLED =
  /(?:användarnamn(?:et)?|användar-?id(?:t)?|inloggning(?:en|snamn)?)(?:\s+(?:i|för|till|hos)\s+(?:treserva(?:\/tes)?|tes)(?:\/tes)?)?(?:\s*[:=]\s*|\s+(?:är\s+|blir\s+)?)([A-Za-z0-9._\\@-]+)(?![\p{L}])|(?:treserva|tes)(?:\/tes)?[- ]?(?:användarnamn(?:et)?|-?id)(?:\s*[:=]\s*|\s+(?:är\s+|blir\s+)?)([A-Za-z0-9._\\@-]+)(?![\p{L}])|(?<![\p{L}-])(?:treserva|tes)(?:\/tes)?(?:\s*[:=]\s*|\s+(?:är\s+)?)([a-z0-9._\\@-]{2,})(?![\p{L}])/iu;
/** A sentence that speaks of the card or the access: a name and a function alone are not enough elsewhere (signatures). */
const ABOUT_ACCESS = /siths|kort|behörighet|hsa|treserva|\btes\b|lifecare|användarnamn/i;
const STOP = /^(är|och|eller|i|för|till|som|har|ska|blir|hos|treserva|tes|samma|inte|också|ännu|än|så|ni|vi|hon|han|de|den|det|här|nedan|ovan|med|på|av|kommer|saknas|the)$/i;

function escape(s: string): string {
  return s.replace(/[.*+?^${}()|[\]\\]/g, '\\$&');
}

interface ProsePatterns {
  fnThenName: RegExp;
  nameThenFn: RegExp;
  nameHasCard: RegExp;
  fnOnly: RegExp;
}

/** Patterns built from the rules' function words, once per rules object. */
const compiled = new WeakMap<Rules, ProsePatterns | null>();

function patterns(rules: Rules): ProsePatterns | null {
  if (compiled.has(rules)) return compiled.get(rules)!;
  const fnAlt = [...rules.functions].sort((a, b) => b.length - a.length).map(escape).join('|');
  let p: ProsePatterns | null = null;
  if (fnAlt !== '') {
    // Case-insensitive function words, case-sensitive name: build the function part per letter.
    const fnCi = fnAlt.replace(/\p{L}/gu, (c) => `[${c.toLowerCase()}${c.toUpperCase()}]`);
    p = {
      fnThenName: new RegExp(`(${fnCi})(?:[ \\t]+(?:är|heter|blir))?[ \\t,]+(${NAME})`, 'u'),
      nameThenFn: new RegExp(`(${NAME})[ \\t]*(?:\\(|,[ \\t]*|[ \\t]+som[ \\t]+(?:är[ \\t]+|blir[ \\t]+|arbetar[ \\t]+som[ \\t]+)?(?:vår[ \\t]+|ny[ \\t]+)*)(${fnCi})`, 'u'),
      nameHasCard: new RegExp(`(${NAME})[ \\t]+(?:har[ \\t]+)?(?:nu[ \\t]+)?(?:fått|fick|erhållit)`, 'u'),
      fnOnly: new RegExp(`(?:^|[^\\p{L}])(${fnCi})(?![\\p{L}])`, 'u'),
    };
  }
  compiled.set(rules, p);
  return p;
}

export function extractProse(text: string, rules: Rules): RawPerson[] {
  const p = patterns(rules);
  if (!p) return [];
  const { fnThenName, nameThenFn, nameHasCard, fnOnly } = p;

  const persons: RawPerson[] = [];
  let current: RawPerson = {};
  const set = (field: FieldName, value: string | null | undefined) => {
    if (value == null) return;
    const v = cleanValue(field, value);
    if (v === null) return;
    if (current[field] != null) {
      persons.push(current);
      current = {};
    }
    current[field] = v;
  };

  const sentences = text
    .split(/\n\s*\n|(?<=[.!?])\s+(?=\p{Lu})/u)
    .map((s) => s.replace(/\s+/g, ' ').trim())
    .filter(Boolean);
  for (const s of sentences) {
    const a = fnThenName.exec(s);
    const b = a ? null : nameThenFn.exec(s);
    const hsa = HSA_TOKEN.exec(s)?.[0] ?? HSA_LABELLED.exec(s)?.[1];
    const userMatch = USER_LABELLED.exec(s);
    const user = userMatch ? (userMatch[1] ?? userMatch[2] ?? userMatch[3]) : undefined;
    const fn = fnOnly.exec(s);
    const carded = a || b ? null : nameHasCard.exec(s);
    // "Han arbetar som samordnare": the function of the person just named.
    if (!a && !b && !carded && !hsa && !user && fn && current.name != null && current.function == null) {
      set('function', fn[1]);
      continue;
    }
    const fieldsHere = [a || b || carded, hsa, user && !STOP.test(user)].filter(Boolean).length;
    if (fieldsHere === 0) continue;
    if (!hsa && !user && !ABOUT_ACCESS.test(s)) continue;
    if (a) {
      set('name', a[2]);
      set('function', a[1]);
    } else if (b) {
      set('name', b[1]);
      set('function', b[2]);
    } else {
      if (carded) set('name', carded[1]);
      if (fn && current.function == null) set('function', fn[1]);
    }
    if (hsa && (HSA_TOKEN.test(hsa) || /^(?:\d{2})?\d{6}[-+]?\d{4}$/.test(hsa) || /^SE/i.test(hsa))) set('hsaId', hsa);
    if (user && !STOP.test(user)) set('treservaUser', user);
  }
  if (Object.values(current).some((v) => v != null)) persons.push(current);
  return persons;
}
