import type { Rules } from '../rules/load';
import { FIELDS, type FieldName } from './types';

/** Lower-case, å/ä → a, ö → o, letters and digits only: "Användar-ID:" → "anvandarid". */
export function foldLabel(s: string): string {
  return s
    .toLowerCase()
    .normalize('NFD')
    .replace(/[\u0300-\u036f]/g, '')
    .replace(/[^a-z0-9]/g, '');
}

/** Optimal string alignment distance (one transposition counts as one edit), capped. */
function distance(a: string, b: string, cap: number): number {
  if (Math.abs(a.length - b.length) > cap) return cap + 1;
  const d: number[][] = Array.from({ length: a.length + 1 }, (_, i) => [i, ...new Array<number>(b.length).fill(0)]);
  for (let j = 1; j <= b.length; j++) d[0]![j] = j;
  for (let i = 1; i <= a.length; i++) {
    for (let j = 1; j <= b.length; j++) {
      const cost = a[i - 1] === b[j - 1] ? 0 : 1;
      let v = Math.min(d[i - 1]![j]! + 1, d[i]![j - 1]! + 1, d[i - 1]![j - 1]! + cost);
      if (i > 1 && j > 1 && a[i - 1] === b[j - 2] && a[i - 2] === b[j - 1]) v = Math.min(v, d[i - 2]![j - 2]! + 1);
      d[i]![j] = v;
    }
  }
  return d[a.length]![b.length]!;
}

/** Definite and possessive endings a label may carry ("namnet", "HSA-id:t", "användarnamnets"). */
const SUFFIXES = ['ets', 'ens', 'et', 'en', 't', 'n', 's', 'na'];

/** Labels that speak of something else: the unit, the firm, a contact, a manager. */
const OTHER_THING =
  /enhet|foretag|verksamhet|bolag|utforare|firma|company|organi|arbetsplats|hemtjanst|omsorg|chef|kontakt|avsandare|bestallare|ansvarig|narmast|epost|mail|telefon|mobil|adress/;

/** A label's field by its stem: the wordings nobody listed. */
function stemField(label: string): FieldName | null {
  const words = label
    .toLowerCase()
    .split(/[^\p{L}\d]+/u)
    .filter(Boolean);
  if (words.length === 0 || words.length > 6) return null;
  const f = foldLabel(label);
  if (/hsa/.test(f)) return 'hsaId';
  if (
    /treserva|anvandarnamn|anvandarid|anvnamn|username|userid|login|inlogg|konto|account/.test(f) ||
    /^anv\b/.test(label.trim().toLowerCase()) ||
    words.includes('tes') ||
    words.includes('user')
  )
    return 'treservaUser';
  if (OTHER_THING.test(f)) return null;
  if (/funktion|roll|befattning|titel|title|role|tjanst|yrke|position|function/.test(f)) return 'function';
  if (/namn|name/.test(f)) return 'name';
  return null;
}

const UNIT_OWNED =
  /^(?:enhetens|verksamhetens|organisationens|arbetsplatsens|företagets|bolagets|vårdenhetens|avdelningens|unit|organisation|organization|company)\s/iu;

/** "Enhetens HSA-id: SE…": a line of the unit's data, nobody's value. */
export const isUnitLine = (line: string): boolean => UNIT_OWNED.test(line.trim()) && /^[^:]{3,40}:/.test(line.trim());

const CACHE_MAX = 20_000;
function remember<V>(cache: Map<string, V>, key: string, value: V): void {
  if (cache.size >= CACHE_MAX) cache.clear();
  cache.set(key, value);
}

export interface LabelHit {
  field: FieldName;
  /** The value after the label and its separator (may be empty: value on the next line). */
  rest: string;
  /** Whether a colon, tab, "=" or dash separated label and value. */
  separated: boolean;
  /** A first-name or surname label ("Förnamn:", "Efternamn:"): half of a name. */
  part?: 'given' | 'family';
}

/** Recognises the labels providers use for each field (rules/fields.yaml). */
export class LabelMatcher {
  private readonly labels: Array<{ field: FieldName; folded: string }>;
  /** Exact folded label → field, and the labels by length (for the one-typo search). */
  private readonly exact = new Map<string, FieldName>();
  private readonly byLength = new Map<number, Array<{ field: FieldName; folded: string }>>();
  /** Mail repeats its lines (text and HTML parts, look-ahead): answers are remembered, a bounded number. */
  private readonly matchCache = new Map<string, FieldName | null>();
  private readonly lineCache = new Map<string, LabelHit | null>();
  private static readonly cache = new WeakMap<Rules, LabelMatcher>();

  /** One matcher per rules object. */
  static for(rules: Rules): LabelMatcher {
    let m = LabelMatcher.cache.get(rules);
    if (!m) LabelMatcher.cache.set(rules, (m = new LabelMatcher(rules)));
    return m;
  }

  /** Folded first-name and surname labels. */
  private readonly parts = new Map<string, 'given' | 'family'>();

  constructor(readonly rules: Rules) {
    const { givenLabels, familyLabels } = rules.fields.name;
    for (const l of givenLabels) this.parts.set(foldLabel(l), 'given');
    for (const l of familyLabels) this.parts.set(foldLabel(l), 'family');
    const labelsOf = (field: FieldName) =>
      field === 'name' ? [...rules.fields.name.labels, ...givenLabels, ...familyLabels] : rules.fields[field].labels;
    this.labels = FIELDS.flatMap((field) => labelsOf(field).map((l) => ({ field, folded: foldLabel(l) })))
      .filter((l) => l.folded !== '')
      .sort((a, b) => b.folded.length - a.folded.length);
    for (const l of this.labels) {
      if (!this.exact.has(l.folded)) this.exact.set(l.folded, l.field);
      if (l.folded.length >= 5) this.byLength.set(l.folded.length, [...(this.byLength.get(l.folded.length) ?? []), l]);
    }
  }

  /**
   * The field a whole text names, allowing one typo in labels of five letters or more and
   * Swedish definite/possessive endings ("Användarnamnet", "HSA-id:t"). `loose`: a short text
   * known to be a label (before a colon, a table header) may also name its field by a stem
   * ("Treserva-konto", "Personens fullständiga namn", "Role / title").
   */
  match(text: string, loose = false): FieldName | null {
    const key = (loose ? '1' : '0') + text;
    const known = this.matchCache.get(key);
    if (known !== undefined) return known;
    const field = this.matchUncached(text, loose);
    remember(this.matchCache, key, field);
    return field;
  }

  private matchUncached(text: string, loose: boolean): FieldName | null {
    // "Enhetens HSA-id", "Verksamhetens namn", "Unit HSA ID": the unit's, not a person's.
    if (UNIT_OWNED.test(text.trim())) return null;
    // "Systemanvändare (Treserva)", "Användare (TES)": a user named by the system in brackets is its username.
    if (/\((?:i\s+)?(?:treserva|tes)\b[^)]*\)/i.test(text) && /(?:anv[äa]ndare|user|konto|account|login|inlogg)\p{L}*\s*\(/iu.test(text))
      return 'treservaUser';
    const cleaned = text.replace(/\([^)]*\)/g, ' ').replace(/[*_]/g, ' ');
    const f = foldLabel(cleaned);
    if (f === '' || f.length > 40) return null;
    const hit = this.exact.get(f);
    if (hit) return hit;
    for (const suffix of SUFFIXES) {
      if (f.length > suffix.length + 3 && f.endsWith(suffix)) {
        const stemHit = this.exact.get(f.slice(0, -suffix.length));
        if (stemHit) return stemHit;
      }
    }
    // One typo, but never a digit for a letter ("Person 1" is no label).
    if (!/\d/.test(f)) {
      for (let len = f.length - 1; len <= f.length + 1; len++) {
        for (const l of this.byLength.get(len) ?? []) if (distance(f, l.folded, 1) <= 1) return l.field;
      }
    }
    // "Kortets id-nummer (HSA)": the bracket may be what names the field.
    return loose ? (stemField(cleaned) ?? stemField(text.replace(/[()*_]/g, ' '))) : null;
  }

  /** Whether a label names the given name or the surname ("Förnamn", "Last name"), or neither. */
  partOf(label: string): 'given' | 'family' | undefined {
    return this.parts.get(foldLabel(label.replace(/\([^)]*\)/g, ' ')));
  }

  /** A line that starts with a label: "HSA-id: SE…", "Namn\tLisa Berg", "Funktion Enhetschef". */
  matchLine(line: string): LabelHit | null {
    const known = this.lineCache.get(line);
    if (known !== undefined) return known;
    const hit = this.matchLineUncached(line);
    remember(this.lineCache, line, hit);
    return hit;
  }

  private matchLineUncached(line: string): LabelHit | null {
    const sep = /^(.{1,70}?)\s*(?::|=|\t|»|→|->|=>|\.{3,}|\s[-–—]\s)\s*(.*)$/.exec(line);
    // A "label" holding an id or a number ("HSA-ID SE…-TTH9, Treserva") is a label and its value, not one label;
    // one holding a comma ("Lisa Berg, usk, HSA-id: …") is a row with a labelled cell.
    if (sep && !/\d{6}/.test(sep[1]!) && !sep[1]!.includes(',')) {
      const field = this.match(sep[1]!, sep[1]!.trim().split(/\s+/).length <= 5);
      // "HSA-ID:t: SE…": a definite ending written after the colon belongs to the label.
      const part = field === 'name' ? this.parts.get(foldLabel(sep[1]!.replace(/\([^)]*\)/g, ' '))) : undefined;
      const rest = sep[2]!.replace(/^(?:t|et|en|n|s|ets|ens)\s*:\s*/i, '').trim();
      if (field) return part ? { field, rest, separated: true, part } : { field, rest, separated: true };
    }
    const words = line.trim().split(/\s+/);
    for (let k = Math.min(6, words.length); k >= 1; k--) {
      const field = this.match(words.slice(0, k).join(' '));
      if (field) return { field, rest: words.slice(k).join(' '), separated: false };
    }
    return null;
  }
}
