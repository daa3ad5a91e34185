import type { Rules } from '../rules/load';

/**
 * The reader's vocabulary, compiled once per rules object: functions (roles with their
 * abbreviations and compound endings), placeholders, given names and intent cues.
 */

export interface Cue {
  kind: 'revoke' | 'grant';
  /** Character offset of the phrase in the text searched. */
  at: number;
}

const fold = (s: string) => s.toLocaleLowerCase('sv').replace(/\s+/g, ' ').trim();
const escape = (s: string) => s.replace(/[.*+?^${}()|[\]\\]/g, '\\$&');
/** A phrase as a regex source, any run of spaces between words (the word boundaries are the caller's). */
const phraseSource = (p: string) => escape(fold(p)).replace(/ /g, '\\s+');

/** Words that are also given names but in lower case are ordinary words (Swedish, and English in English mail). */
const COMMON_WORDS = new Set(
  'hans per dag bo sten stig liv sol ask ek ulf rut tor gun maj vi man mats alla klara tim tom dan jan lo mi le ra sam max mark roll rose hej tack ingen kim noa bill bob bud don hon han de den det mot bor via vid dina mina en ett två tre fyra fem sex sju åtta nio tio elva tolv kille tjej gånger gång andra annan annat någon några alla grant will may june hope joy faith art chase drew frank gay lane lee ray rich rob sue wade april august summer'.split(
    ' ',
  ),
);

/** Whether two words differ by at most one substitution, insertion or deletion. */
function withinOne(a: string, b: string): boolean {
  if (a === b) return true;
  let i = 0;
  while (i < a.length && i < b.length && a[i] === b[i]) i++;
  if (a.length === b.length) return a.slice(i + 1) === b.slice(i + 1);
  return a.length > b.length ? a.slice(i + 1) === b.slice(i) : a.slice(i) === b.slice(i + 1);
}

export class Lexicon {
  private static readonly cache = new WeakMap<Rules, Lexicon>();
  private readonly roles: Set<string>;
  /** Two-letter abbreviations written in capitals ("AT", "EC"): in lower case they are words ("at"). */
  private readonly capsOnly: Set<string>;
  private readonly roleMaxWords: number;
  private readonly singleWordRoles: string[];
  private readonly endings: readonly string[];
  private readonly modifiers: Set<string>;
  private readonly placeholders: Set<string>;
  private readonly placeholderPrefixes: readonly string[];
  private readonly cueRe: RegExp;
  private readonly cueKinds: Array<'revoke' | 'grant'>;

  static for(rules: Rules): Lexicon {
    let l = Lexicon.cache.get(rules);
    if (!l) Lexicon.cache.set(rules, (l = new Lexicon(rules)));
    return l;
  }

  constructor(private readonly rules: Rules) {
    this.roles = new Set(rules.functions.map(fold));
    this.capsOnly = new Set(rules.functions.filter((f) => /^\p{Lu}{2}$/u.test(f)).map(fold));
    this.roleMaxWords = Math.max(1, ...[...this.roles].map((r) => r.split(' ').length));
    this.singleWordRoles = [...this.roles].filter((r) => !r.includes(' ') && r.length >= 8);
    this.endings = rules.lexicon.roleEndings.map(fold);
    this.modifiers = new Set(rules.lexicon.roleModifiers.map(fold));
    this.placeholders = new Set(rules.lexicon.placeholders.map(fold));
    // "kommer senare", and "kommer när hon gått introduktionen": a placeholder word opens an explanation.
    this.placeholderPrefixes = [...this.placeholders];
    const cues = [
      ...rules.lexicon.revoke.map((p) => ({ p, k: 'revoke' as const })),
      ...rules.lexicon.grant.map((p) => ({ p, k: 'grant' as const })),
    ].sort((a, b) => b.p.length - a.p.length);
    this.cueKinds = cues.map((c) => c.k);
    // The word boundaries stand once around all the phrases (the same matches as around each, and twice as fast).
    this.cueRe = new RegExp(`(?<![\\p{L}\\d])(?:${cues.map((c) => `(${phraseSource(c.p)})`).join('|')})(?![\\p{L}\\d])`, 'giu');
  }

  /** Whether a whole value is a known function, an abbreviation of one, or a compound ending in one. */
  isRole(value: string): boolean {
    const v = fold(value).replace(/[.,:;]+$/, '');
    if (v === '' || v.length > 60) return false;
    if (this.capsOnly.has(v)) return /^\p{Lu}{2}\b/u.test(value.trim());
    if (this.roles.has(v) || this.nearRole(v)) return true;
    const words = v.split(' ');
    // "tf enhetschef": a modifier and a function.
    if (words.length > 1 && this.modifiers.has(words[0]!)) return this.isRole(value.trim().split(/\s+/).slice(1).join(' '));
    if (words.length > 4) return false;
    const last = words[words.length - 1]!;
    // "Moa är vårdbiträde" is a sentence, not a compound function.
    if (words.some((w) => /^(?:är|is|blir|och|som|har|heter|and)$/.test(w))) return false;
    return this.endings.some((e) => last.length > e.length + 2 && last.endsWith(e)) && words.every((w) => /^[\p{L}.-]+$/u.test(w));
  }

  /** The longest role phrase starting at word `i` of `words` (how many words it takes), or 0. */
  roleAt(words: readonly string[], i: number): number {
    if (this.modifiers.has(fold(words[i] ?? ''))) {
      const n = this.roleAt(words, i + 1);
      if (n > 0) return n + 1;
    }
    for (let n = Math.min(this.roleMaxWords, words.length - i); n >= 1; n--) {
      const phrase = words.slice(i, i + n).join(' ');
      const key = fold(phrase).replace(/[,:;]+$/, '');
      if (this.capsOnly.has(key) && !/^\p{Lu}{2}\b/u.test(phrase)) continue;
      if (this.roles.has(key)) return n;
    }
    const w = fold(words[i] ?? '').replace(/[.,:;]+$/, '');
    if (this.nearRole(w)) return 1;
    return /^\p{L}+$/u.test(w) && this.endings.some((e) => w.length > e.length + 2 && w.endsWith(e)) ? 1 : 0;
  }

  /** A one-word role written with one wrong letter ("undersjöterska"), for words of eight letters or more. */
  private nearRole(w: string): boolean {
    if (w.length < 8 || w.includes(' ')) return false;
    // One letter written wrong, not one more or fewer ("planerar" is a verb, not "planerare").
    for (const r of this.singleWordRoles) if (r.length === w.length && withinOne(w, r)) return true;
    return false;
  }

  /** Whether a text follows up on access already asked for ("har fortfarande inte kommit in"). */
  isFollowUp(text: string): boolean {
    const t = fold(text);
    return this.rules.lexicon.followUp.some((p) => t.includes(fold(p)));
  }

  /** A value that only says it is not known ("vet ej", "kommer senare", "?"). */
  isPlaceholder(value: string): boolean {
    const v = fold(value)
      .replace(/^[("'“]+|[)"'”.!,;:]+$/g, '')
      .trim();
    if (v === '' || this.placeholders.has(v)) return true;
    if (/^[-–—_.?!x*\s]+$/i.test(v)) return true;
    return this.placeholderPrefixes.some(
      (p) => v.startsWith(p) && (p.includes(' ') ? !/[\p{L}\d]/u.test(v.charAt(p.length)) : /^\s+\S+\s+\S/u.test(v.slice(p.length))),
    );
  }

  /** A given name, in any case; in lower case only if it is not also an ordinary word. */
  isGivenName(word: string): boolean {
    const w = word.replace(/[.,:;!?)]+$/, '');
    const lower = w.toLocaleLowerCase('sv');
    if (!this.rules.givenNames.has(lower)) return false;
    return /^\p{Lu}/u.test(w) || (!COMMON_WORDS.has(lower) && lower.length >= 3);
  }

  /** Revoke and grant phrases in a text, in order. */
  cues(text: string): Cue[] {
    const out: Cue[] = [];
    const t = text.toLocaleLowerCase('sv');
    this.cueRe.lastIndex = 0;
    for (let m = this.cueRe.exec(t); m; m = this.cueRe.exec(t)) {
      const group = m.findIndex((g, i) => i > 0 && g !== undefined);
      out.push({ kind: this.cueKinds[group - 1]!, at: m.index });
    }
    return out;
  }
}
