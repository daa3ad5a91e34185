import type { Rules } from '../rules/load';
import { Lexicon } from './lexicon';
import type { FieldName } from './types';
import { hasValue, type RawPerson } from './validate';
import { builtFromName, cleanValue, isFirmWord } from './values';

/**
 * Persons in free prose, in any case and hurry: "Vår nya enhetschef Lisa Berg har fått sitt
 * SITHS-kort, HSA-id SE2321000016-4HK5 och användarnamnet i Treserva är lisber." or "ny usk
 * anna svensson hsa se5565594230-b31 tes login annsve". Values are found by what they are
 * (an HSA-id by its shape, a function from the role lexicon, a name from the given-name lexicon
 * or capitalised words beside a function), then gathered into persons sentence by sentence:
 * a field seen twice starts the next person. Every pattern here is bounded (no nested repeats).
 */

const HSA_TOKEN =
  /(?<![\p{L}\d])SE[ \t]?(?:16[ \t]?)?(?:\d[ \t]?){9}\d(?:[ \t]?[-–][ \t]?|(?=[A-Za-z]))[A-Za-zÅÄÖåäö0-9]{1,32}(?![\p{L}\d])/giu;
export const TEMPLATE_ID = /[-–]\s*(?:x{2,}|n{3,}|0{3,}|\.{3,})$/i;
const HSA_LABELLED =
  /(?<![\p{L}])HSA[- ]?(?:id|identitet)?(?::t|:et|et|t|n|numret|nummer|nr)?(?:[ \t]+(?:är|blir|nr\.?))?[ \t]*[:=]?[ \t]*([^\s,;)(]{1,40})/giu;
const PERSONNUMMER = /^(?:\d{2})?\d{6}[-+–]?\d{4}$/;
/** Username after its label: "användarnamn i Treserva: x", "tes login x", "treserva-konto är x", "username x". */
const SYSTEM = String.raw`(?:treserva|tes)(?:[ \t]*\/[ \t]*(?:treserva|tes))?`;
const VALUE = String.raw`["'“”‘’«»(]?([A-Za-z0-9][A-Za-z0-9._\\@-]{1,39})(?![\p{L}\d])`;
const LINK = String.raw`(?:[ \t]+(?:är|blir)[ \t]+(?:klart?|färdigt?|skapat|upplagt)[ \t]*:[ \t]*|[ \t]*[:=][ \t]*|[ \t]+(?:är[ \t]+|blir[ \t]+|lyder[ \t]+|var[ \t]+|is[ \t]+|was[ \t]+|=[ \t]+)?)`;
/** Username after its label: "användarnamn i Treserva: x", "tes login x", "anv x", "heter x i TES", "i Treserva heter hon x". */
const USER_PATTERNS: RegExp[] = [
  new RegExp(
    String.raw`(?<![\p{L}])(?:användarnamn(?:et)?|användar-?id(?:t|et)?|användaren?|inloggning(?:en|snamn(?:et)?)?|inlogg|login(?:-?namn)?|username|user[ -]?(?:name|id)|konto(?:t)?|anv\.?(?:-?namn)?)(?:[ \t]+(?:i|för|till|hos|på|in)[ \t]+${SYSTEM})?${LINK}${VALUE}`,
    'giu',
  ),
  new RegExp(
    String.raw`(?<![\p{L}])${SYSTEM}[- ]?(?:användarnamn(?:et)?|användaren?|-?id(?:t)?|login|inlogg(?:ning)?|konto(?:t)?|user(?:name)?|[ \t]namn(?:et)?)?${LINK}${VALUE}`,
    'giu',
  ),
  new RegExp(String.raw`(?<![\p{L}])heter[ \t]+${VALUE}[ \t]+(?:i|på)[ \t]+(?:${SYSTEM}|systemet)`, 'giu'),
  new RegExp(
    String.raw`(?<![\p{L}])(?:loggar|logga|loggat)(?:[ \t]+(?:jag|hon|han|hen|vi|de))?[ \t]+in(?:[ \t]+(?:i|på)[ \t]+${SYSTEM})?[ \t]+som[ \t]+${VALUE}`,
    'giu',
  ),
  // "jag loggar in i TES med dragpet" (with the system named: "loggar in med kortet" is the card).
  new RegExp(String.raw`(?<![\p{L}])(?:loggar|logga|loggat)[ \t]+in[ \t]+(?:i|på)[ \t]+${SYSTEM}[ \t]+med[ \t]+${VALUE}`, 'giu'),
  new RegExp(
    String.raw`(?<![\p{L}])(?:användarnamn(?:et)?|inloggning(?:en)?|login)(?:[ \t]+(?:i|för|på|till)[ \t]+${SYSTEM})?[ \t]+för[ \t]+[\p{L}'’ -]{2,40}?[ \t]+(?:är|blir)[ \t]+${VALUE}`,
    'giu',
  ),
  new RegExp(
    String.raw`(?<![\p{L}])(?:i|på)[ \t]+${SYSTEM}[ \t]+(?:heter|är|har)[ \t]+(?:hon|han|hen|jag|den|det|användarnamnet)?[ \t]*(?:fått[ \t]+)?${VALUE}`,
    'giu',
  ),
];
const USER_BEFORE_LABEL =
  /(?<![\p{L}\d._-])([a-z][a-z0-9._-]{1,28}[a-z0-9])(?=[ \t]+(?:är|blir)[ \t]+(?:hennes|hans|hens|mitt|personens|deras)[ \t]+(?:användarnamn|användar-?id|inlogg|inloggning|login)(?![\p{L}]))/gu;
/** A sentence that speaks of the card or the access: a name and a function alone are not enough elsewhere (signatures). */
const ABOUT_ACCESS =
  /siths|kort|behörighet|hsa|treserva|\btes\b|lifecare|användarnamn|inlogg|login|access|tillgång|slutat|slutar|avslut|ta bort|pension/i;
/** Words that never are a username or part of a name. */
const STOP = new Set(
  'är och eller i för till som har ska blir hos man treserva tes samma inte också ännu än så ni vi hon han de den det här nedan ovan med på av kommer saknas the is och/eller efter enligt via vid om att kan har fått sitt sina nya ny nytt vår våra er era din ditt mitt min mina hennes hans deras heter namn hsa hsa-id id kort siths användarnamn login username konto tack hej mvh hälsningar jag oss sig också även idag igår imorgon from to och under innan sedan redan snart fortfarande bara endast ifyllt ifylld ifyllda bifogat bifogad bifogade klart klar klara fel rätt korrekt korrekta ej okänt okänd densamma detsamma följande oförändrat oförändrad ändrat ändrad nedanför tidigare senare ute inne hemma borta där dit hit hos mellan utan över genom mot när var vad vem vilken vilket vilka eftersom därför alltså också dessutom gärna väl nog kanske aldrig alltid ofta ibland sen mer mindre mycket lite alla inga någon något några ingen inget samt både antingen varken heller dock men utan a an the is are be to of in on for with at by it this that as we you he she they'.split(
    ' ',
  ),
);
const PARTICLES = new Set([
  'af',
  'von',
  'van',
  'de',
  'der',
  'den',
  'ter',
  'ten',
  'te',
  'el',
  'al',
  'bin',
  'ibn',
  'da',
  'di',
  'du',
  'dos',
  'das',
  'del',
  'la',
  'le',
  'zu',
]);
const NOT_NAME =
  /^(?:ab|hb|kb|aktiebolag|omsorg|hemtjänst|vård|äldreomsorg|assistans|enheten?|kommun|region|stiftelse|måndag|tisdag|onsdag|torsdag|fredag|lördag|söndag|januari|februari|mars|april|maj|juni|juli|augusti|september|oktober|november|december|örebro|sverige|lifecare|treserva|tes|siths|hsa|inera|telia|microsoft|outlook|gmail|hej|hejsan|tack|mvh|med|vänliga|hälsningar|god|morgon|dag|kväll|vi|ni|jag|hon|han|de|den|det|vår|våra|ny|nya|nytt|sjukhus|sjukhuset|hemtjänsten|kontoret|it|avdelningen|nu|här|där|också|även|person|personal|användare|medarbetare|please|hello|hi|thanks|regards|team|gruppen|huset)$/i;

interface Sentence {
  text: string;
  line: number;
}

/**
 * One sentence: up to ". " "! " "? " or a line-level break (U+2029). A dot inside a token
 * ("anna.berg", "t.ex") ends none, nor does an abbreviation's before a lower-case word ("jag är tf. enhetschef").
 */
const SENTENCE =
  /(?:(?<![\p{L}])(?:tf|t\.f|vik|bitr|leg|avd|resp|ca)\.\s+(?=\p{Ll})|[^.!?\u2029]|[.!?](?![\s.!?]|$))+(?:[.!?]+(?=\s|$))?|[.!?]+/giu;

/** The sentences of a text, by the rule of `sentences`. */
export function sentencesOf(text: string): string[] {
  return [...text.matchAll(new RegExp(SENTENCE.source, SENTENCE.flags))].map((m) => m[0].trim()).filter((x) => x !== '');
}

const ITEM = /^\s*(?:[•·*▪◦–-]|\d{1,2}[.)])\s+\S/;
const ROWISH = /^[^,;]{2,60}(?:,|;|\s[–—-]\s)[^,;]{2,60}(?:,|;|\s[–—-]\s)/;
const ROW_WITH_ID = /SE[ \t]?(?:16)?\d{10}.*(?:[,;]|\s[–—-]\s)|(?:[,;]|\s[–—-]\s).*SE[ \t]?(?:16)?\d{10}/i;
const LABELLED_LINE = /^\s*\p{Lu}[\p{L}-]{1,30}(?:[ \t][\p{L}/-]{1,20}){0,3}:[ \t]+\S/u;

/** Paragraphs of non-empty lines, split into sentences, each with the line it starts on. */
function sentences(lines: readonly string[]): Sentence[] {
  const out: Sentence[] = [];
  let i = 0;
  while (i < lines.length) {
    if (lines[i]!.trim() === '') {
      i++;
      continue;
    }
    const starts: number[] = [];
    let text = '';
    // A labelled line ("Organisation: …") starts a paragraph of its own: a name never runs into the next line's label.
    for (; i < lines.length && lines[i]!.trim() !== '' && (starts.length === 0 || !LABELLED_LINE.test(lines[i]!)); i++) {
      starts.push(text.length);
      // A heading line ("SKA TAS BORT:") and a list item end their sentence at the line's end.
      const ends = /:\s*$/.test(lines[i]!) || ITEM.test(lines[i + 1] ?? '');
      text += lines[i]!.slice(0, 2000).replace(/\s+/g, ' ').trim() + (ends ? '\u2029 ' : ' ');
      // A row holding an HSA-id ("Amanda Lööf, usk, HSA-id SE…, Treserva stamlo") ends at its line's end,
      // and so does a row above another row ("Leila Karimi, undersköterska, TES-användare leikar").
      const rows = ROWISH.test(lines[i]!) && ROWISH.test(lines[i + 1] ?? '');
      if ((ROW_WITH_ID.test(lines[i]!) || rows) && (lines[i + 1] ?? '').trim() !== '') {
        i++;
        break;
      }
    }
    const first = i - starts.length;
    const lineAt = (offset: number) => {
      let k = 0;
      while (k + 1 < starts.length && starts[k + 1]! <= offset) k++;
      return first + k;
    };
    // Sentence ends as SENTENCE says.
    const re = new RegExp(SENTENCE.source, SENTENCE.flags);
    for (let m = re.exec(text); m; m = re.exec(text)) {
      const s = m[0].trim();
      if (s !== '') out.push({ text: s, line: lineAt(m.index + (m[0].length - m[0].trimStart().length)) });
      if (m[0].length === 0) re.lastIndex++;
    }
  }
  return out;
}

/** "Lisa Bergs konto": what a genitive name owns here. */
const OWNED =
  /^(?:konto|kontot|behörighet|behörigheten|behörigheter|kort|kortet|åtkomst|åtkomsten|användarnamn|inloggning|uppgifter|HSA-id|hsa)$/iu;

/** A word naming one of the four fields ("HSA-id", "användarnamn", "Treservakonto"). */
const FIELD_WORD = /^(?:hsa|hsa-?id|användarnamn|användar-?id|treserva\S*|tes-?\S*|funktion|roll|titel|befattning|login|inlogg\S*)$/i;

const bare = (w: string) => w.replace(/^[("'“«]+|[)"'”».,:;!?]+$/g, '');
const isCap = (w: string) => /^\p{Lu}(?:['’]\p{Lu})?[\p{Ll}'’]+(?:-\p{Lu}?(?:['’]\p{Lu})?[\p{Ll}'’]+)*$/u.test(w);
const isWordish = (w: string) => /^[\p{L}][\p{L}'’-]{1,30}$/u.test(w);

interface NameHit {
  value: string;
  start: number;
  score: number;
  /** "Amirs HSA-id": a first name in the genitive, a name only beside a value of its own. */
  genitive?: boolean;
}

/** Name candidates in a sentence's words: given-name lexicon first, capitalised words beside a function next. */
function names(words: string[], lexicon: Lexicon, roleSpans: Array<[number, number]>): NameHit[] {
  const out: NameHit[] = [];
  // Lower-case writing: no capital letter but perhaps the sentence's first.
  const sloppy = !words.slice(1).some((w) => /^\p{Lu}\p{Ll}/u.test(w)) || !/^\p{Lu}/u.test(words.find((w) => /\p{L}/u.test(w)) ?? '');
  const isRoleWord = (i: number) => roleSpans.some(([a, b]) => i >= a && i < b);
  const usable = (i: number) => {
    const w = bare(words[i] ?? '');
    return w !== '' && isWordish(w) && !STOP.has(w.toLowerCase()) && !NOT_NAME.test(w) && !isFirmWord(w) && !isRoleWord(i);
  };
  for (let i = 0; i < words.length; i++) {
    if (!usable(i)) continue;
    const w = bare(words[i]!);
    const cap = isCap(w);
    // "Also John-Erik O'Brien", "Även Lisa Berg": a name starts at the given name.
    // ("Amal Hassan," with nothing after is one name: the given name after it must begin one of two words.)
    const nextName = bare(words[i + 1] ?? '');
    if (
      cap &&
      !lexicon.isGivenName(w) &&
      lexicon.isGivenName(nextName.split('-')[0]!) &&
      words[i + 1] === nextName &&
      isCap(bare(words[i + 2] ?? ''))
    )
      continue;
    // A name in lower case is read only where the writer writes everything so ("ny usk anna svensson").
    const given = (cap || sloppy) && (lexicon.isGivenName(w) || (w.includes('-') && lexicon.isGivenName(w.split('-')[0]!)));
    if (!given && !cap) continue;
    // The rest of the name: capitalised words (particles allowed), or for a lower-case given name, lower-case words.
    let j = i + 1;
    const parts = [w];
    while (j < words.length && parts.length < 4) {
      const next = bare(words[j]!);
      const endsHere = words[j - 1] !== bare(words[j - 1]!) && /[,.;:!?)]$/.test(words[j - 1]!);
      if (endsHere) break;
      if (PARTICLES.has(next) && j + 1 < words.length && isCap(bare(words[j + 1]!))) {
        parts.push(next);
        j++;
        continue;
      }
      if (!usable(j)) break;
      if (cap ? !isCap(next) : isCap(next) ? false : !/^\p{Ll}[\p{Ll}'’-]+$/u.test(next)) break;
      if (!cap && lexicon.roleAt(words, j) > 0) break;
      // "Tomasz Nowak's contract": an English possessive ends the name, without its 's; "Lisa Bergs konto" a Swedish one.
      const owner = /^(.+)['’]s$/u.exec(next)?.[1] ?? (OWNED.test(bare(words[j + 1] ?? '')) && /s$/.test(next) ? next.slice(0, -1) : null);
      const possessive = owner != null;
      parts.push(owner ?? next);
      j++;
      if (possessive) break;
      // A lower-case name is a given name and one or two more words, no more.
      if (!cap && parts.length >= 2 && !lexicon.isGivenName(next)) break;
    }
    // "Jonas är enhetschef (Treserva: jope01)": a first name alone, where a role follows it; the
    // person's full name comes from a forwarded or attached part (completeFrom), if any.
    if (parts.length < 2) {
      // "… och Kenneth sjuksköterska (Treserva mhkero)": the "är" left out after "och".
      const roleAt = words.findIndex((_, k) => k > i && isRoleWord(k));
      const isRoleAfter =
        (/^(?:är|is)$/i.test(bare(words[i + 1] ?? '')) && isRoleWord(i + 2)) ||
        // "Rebecka går in som biträdande enhetschef", "Omar börjar som vårdbiträde".
        (roleAt > i && roleAt <= i + 5 && WORKS_AS.test(`${words.slice(i + 1, roleAt).join(' ')} `)) ||
        (/^(?:och|samt|and)$/i.test(words[i - 1] ?? '') && isRoleWord(i + 1));
      if (cap && given && isRoleAfter && words[i] === w) out.push({ value: w, start: i, score: 1 });
      // "Amirs HSA-id är …": a first name in the genitive before a field's word.
      else if (cap && !given && /s$/.test(w) && lexicon.isGivenName(w.slice(0, -1)) && FIELD_WORD.test(bare(words[i + 1] ?? '')))
        out.push({ value: w.slice(0, -1), start: i, score: 1, genitive: true });
      continue;
    }
    const besideRole = isRoleWord(i - 1) || isRoleWord(j) || (isRoleWord(i - 2) && /^(?:är|heter|blir)$/i.test(bare(words[i - 1] ?? '')));
    const afterCue = /^(?:heter|namn|namnet|name|är|kollega|kollegan|medarbetare|medarbetaren|användare|användaren)$/i.test(
      bare(words[i - 1] ?? ''),
    );
    // "Lisa Berg har fått sitt kort", "Lisa Berg (usk)", "Lisa Berg som är ...".
    const beforeCue =
      cap &&
      /^(?:har|hade|fick|fått|är|blir|börjar|började|ska|behöver|som|slutar|slutade|has|is|got|he|she|should|was|had|will|who)$/i.test(
        bare(words[j] ?? ''),
      );
    const score = (given ? 2 : 0) + (besideRole ? 2 : 0) + (afterCue ? 1 : 0) + (beforeCue ? 1 : 0) + (cap ? 1 : 0);
    if (!given && !besideRole && !afterCue && !beforeCue) continue;
    out.push({ value: parts.join(' '), start: i, score });
    i = j - 1;
  }
  return out.sort((a, b) => b.score - a.score || a.start - b.start);
}

/** Example language: an HSA-id in such a sentence shows the form, it is nobody's. */
const EXAMPLE =
  /(?<![\p{L}])(?:har formen|har form|i formen|på formen|i formatet|in the form|in the format|of the form|till exempel|t\.\s?ex|exempelvis|exempel|ser ut som|ser ut så|such as|for example|e\.g\.)(?![\p{L}])/iu;

interface Event {
  pos: number;
  field: FieldName;
  value: string;
}

const words0 = (text: string) => [...text.matchAll(/\S+/g)].map((m) => m[0]);

/** Every value in a sentence, in the order written. */
function events(text: string, lexicon: Lexicon): Event[] {
  const out: Event[] = [];
  const example = EXAMPLE.test(text);
  const hsaSpans: Array<[number, number]> = [];
  if (!example) {
    for (const m of text.matchAll(HSA_TOKEN)) {
      // "SE2321000016-XXXX": a template, nobody's id.
      if (TEMPLATE_ID.test(m[0])) continue;
      out.push({ pos: m.index, field: 'hsaId', value: m[0] });
      hsaSpans.push([m.index, m.index + m[0].length]);
      // "Ali Rezaei undersköterska SE…-AR7T alirez": a bare token right after the id, ending the record, is the username;
      // after "och" or a comma ("(HSA SE…, emmjoh)", "SE… och linstr") or mid-sentence, only when built from a name there.
      const tail = text.slice(m.index + m[0].length);
      const after = /^[ \t]*(,[ \t]*|[ \t](?:och|and)[ \t]+|[ \t]+)([a-z][a-z0-9._-]{1,28}[a-z0-9])(?=[).!,;]*(?:\s|$))/.exec(tail);
      if (after && !STOP.has(after[2]!) && !lexicon.isRole(after[2]!)) {
        const ends = /^[ \t]+$/.test(after[1]!) && /^[.!]?$/.test(tail.slice(after[0].length));
        const v = after[2]!;
        if (ends || names(words0(text), lexicon, []).some((n) => builtFromName(v, n.value)))
          out.push({ pos: m.index + m[0].length + after[0].length - v.length, field: 'treservaUser', value: v });
      }
    }
    for (const m of text.matchAll(HSA_LABELLED)) {
      const v = m[1]!;
      const at = m.index + m[0].length - v.length;
      if (hsaSpans.some(([a, b]) => at >= a && at < b)) continue;
      if (PERSONNUMMER.test(v) || /^SE\s?\d/i.test(v) || /^\d{10,}/.test(v)) out.push({ pos: at, field: 'hsaId', value: v });
    }
  }
  for (const re of USER_PATTERNS) {
    for (const m of text.matchAll(re)) {
      const v = m[1]!;
      const at = m.index + m[0].length - v.length;
      // After a bare space ("användarnamn annstr") the value must end the clause: "användarnamn vet jag inte" gives none.
      const link = text.slice(m.index, at);
      const after = text.slice(at + v.length);
      const endsClause =
        /^\s*(?:$|[,.;:!?)\]–—/-]|(?:och|and|samt|i|på|hos|hon|han|hen|men|så|tack|mvh|hälsningar|från|kan|ska|behöver|börjar)(?![\p{L}]))/iu.test(
          after,
        );
      if (
        !/[:=]|(?<![\p{L}])(?:är|blir|lyder|var|is|was|heter|som|fått)(?![\p{L}])|["'“(]\s*$/iu.test(link) &&
        !endsClause &&
        !/[\d._]/.test(v)
      )
        continue;
      // "användarnamnet nedan.": the sentence's full stop is no part of the word.
      const word = v.replace(/\.+$/, '').toLowerCase();
      if (STOP.has(word) || /^(?:SE\d|\d{6})/i.test(v) || lexicon.isPlaceholder(v) || lexicon.isRole(word)) continue;
      if (out.some((e) => e.field === 'treservaUser' && e.pos === at)) continue;
      // "användarnamn i TES: rog pet" ending the sentence: the value is all after the colon (a space makes it wrong).
      const rest = /:/.test(link) ? /^[ \t]([a-z0-9]{1,20})[.!]?$/.exec(after) : null;
      out.push({ pos: at, field: 'treservaUser', value: rest && !STOP.has(rest[1]!) ? `${v} ${rest[1]}` : v });
    }
  }
  // "lisber är hennes användarnamn i Treserva": the value before its label.
  for (const m of text.matchAll(USER_BEFORE_LABEL)) {
    const v = m[1]!;
    if (!STOP.has(v) && !lexicon.isRole(v) && !out.some((e) => e.field === 'treservaUser' && e.pos === m.index))
      out.push({ pos: m.index, field: 'treservaUser', value: v });
  }
  // Word positions, for roles and names.
  const words: string[] = [];
  const starts: number[] = [];
  for (const m of text.matchAll(/\S+/g)) {
    words.push(m[0]);
    starts.push(m.index);
  }
  const bareWords = words.map(bare);
  const roleSpans: Array<[number, number]> = [];
  for (let i = 0; i < words.length; i++) {
    const n = lexicon.roleAt(bareWords, i);
    if (n > 0) {
      roleSpans.push([i, i + n]);
      // "My manager Marcus asked me", "min chef": the role of someone the writer relates to, no one's function here.
      if (!RELATION.test(bareWords[i - 1] ?? ''))
        out.push({ pos: starts[i]!, field: 'function', value: bare(words.slice(i, i + n).join(' ')) });
      i += n - 1;
    }
  }
  // "Our nurse: Marcus Öberg, sjuksköterska": a role heading the line yields to the role written after the colon.
  const roles = out.filter((e) => e.field === 'function');
  if (roles.length >= 2 && /^\s*:/.test(text.slice(roles[0]!.pos + roles[0]!.value.length))) out.splice(out.indexOf(roles[0]!), 1);
  const identified = out.some((e) => e.field === 'hsaId' || e.field === 'treservaUser');
  for (const hit of names(words, lexicon, roleSpans)) {
    if (hit.genitive && !identified) continue;
    // "Min chef Elisabeth Svan sa att …": someone the writer relates to, not a person announced.
    const role = roleSpans.find(([, b]) => b === hit.start)?.[0] ?? (BOSS.test(bareWords[hit.start - 1] ?? '') ? hit.start - 1 : -1);
    if (role > 0 && !identified && RELATION.test(bareWords[role - 1] ?? '')) continue;
    out.push({ pos: starts[hit.start]!, field: 'name', value: hit.value });
    // "Jessica Holm (jeshol)": a username in brackets right after a name.
    const after = words[hit.start + hit.value.split(' ').length];
    const inBrackets = after && /^\(([A-Za-z0-9][A-Za-z0-9._-]{1,39})\)[,.;:]?$/.exec(after);
    // Only a token that could be this person's username ("(cc)" after a name is a copy, not a login).
    const couldBe = (v: string) => !/^SE\d/i.test(v) && (builtFromName(v, hit.value) || /\d/.test(v));
    if (
      inBrackets &&
      couldBe(inBrackets[1]!) &&
      !lexicon.isRole(inBrackets[1]!) &&
      !out.some((e) => e.field === 'treservaUser' && e.value === inBrackets[1])
    ) {
      out.push({ pos: starts[hit.start + hit.value.split(' ').length]!, field: 'treservaUser', value: inBrackets[1]! });
    }
  }
  // "Omar Ali har gått i pension, ta bort honom (omaali)": a word in brackets built from the name the sentence gives.
  const named = out.filter((e) => e.field === 'name' && e.value.includes(' '));
  if (named.length === 1 && !out.some((e) => e.field === 'treservaUser')) {
    for (const [k, w] of words.entries()) {
      const b = /^\(([a-z][a-z0-9._-]{1,28}[a-z0-9])\)[,.;:]?$/.exec(w)?.[1];
      if (b && !STOP.has(b) && builtFromName(b, named[0]!.value)) {
        out.push({ pos: starts[k]!, field: 'treservaUser', value: b });
        break;
      }
    }
  }
  // Values overlapping an HSA-id or a username are parts of them (a name inside "Treserva Lisa", a role word inside an id).
  const taken = out.filter((e) => e.field === 'hsaId' || e.field === 'treservaUser').map((e) => [e.pos, e.pos + e.value.length] as const);
  return out
    .filter((e) => (e.field === 'name' || e.field === 'function' ? !taken.some(([a, b]) => e.pos >= a && e.pos < b) : true))
    .sort((a, b) => a.pos - b.pos);
}

/** The name and function a sentence mentions, if any ("från vår nya undersköterska Tesfay Gebremedhin"). */
export function mention(text: string, rules: Rules): { name?: string; function?: string } {
  const found = events(text, Lexicon.for(rules));
  const name = found.find((e) => e.field === 'name')?.value;
  const fn = found.find((e) => e.field === 'function')?.value;
  return { ...(name ? { name } : {}), ...(fn ? { function: fn } : {}) };
}

export interface ProseOptions {
  /** Persons our quoted mail names: an answer calls them by first name ("Ida är sjuksköterska"). */
  known?: readonly string[];
}

/** The first names, lower-cased, of the persons our quoted mail names. */
export const knownFirstNames = (opts: ProseOptions): Set<string> =>
  new Set((opts.known ?? []).map((n) => n.split(/\s+/)[0]!.toLocaleLowerCase('sv')));

export function extractProse(lines: readonly string[], rules: Rules, opts: ProseOptions = {}): RawPerson[] {
  const lexicon = Lexicon.for(rules);
  const knownFirst = knownFirstNames(opts);
  /** A word naming a person of our quoted mail by first name ("Ida", "Piotrs"), as written. */
  const knownAs = (w: string): string | null => {
    const lower = w.toLocaleLowerCase('sv');
    if (knownFirst.has(lower)) return w;
    return /s$/.test(lower) && knownFirst.has(lower.slice(0, -1)) ? w.slice(0, -1) : null;
  };
  const persons: RawPerson[] = [];
  let current: RawPerson = {};
  let currentCue: 'revoke' | 'grant' | null = null;
  // Lines whose phrases another person took: they say nothing of the persons beside them.
  const cueLines = new Set<number>();
  const push = () => {
    if (hasValue(current)) {
      const intent = currentCue ?? heading;
      if (intent) {
        current.intent = intent;
        for (let l = current.at ?? 0; l <= (current.end ?? -1); l++) cueLines.add(l);
      } else if (current.at != null && cueLines.has(current.at)) current.intent = 'grant';
      persons.push(current);
    }
    current = {};
    currentCue = null;
  };
  const set = (field: FieldName, value: string | null | undefined, line: number) => {
    if (value == null) return;
    const v = cleanValue(field, value);
    if (v === null) return;
    // "Lisa Nyqvists nya kort … Lisa är undersköterska": the first name refers to the person just named.
    const firstOf = (n: string | null | undefined) => n?.split(' ')[0]?.replace(/s$/, '');
    if (field === 'name' && !v.includes(' ') && firstOf(current.name) === v.replace(/s$/, '')) return;
    if (current[field] != null) push();
    current[field] = v;
    if (field === 'name' && !v.includes(' ')) current.firstOnly = true;
    current.at ??= line;
    current.end = line;
  };

  // A name (and function) in a sentence that says nothing of access waits for the next sentence's values.
  let pending: { name: string; role: string | undefined; line: number } | null = null;
  // A phrase in a sentence without values ("Följande har slutat:") governs the persons after it.
  let heading: 'revoke' | 'grant' | null = null;
  let lastLine = -2;
  let comingRole: string | null = null;
  // Persons named together in one sentence, whose values later sentences give by first name.
  let roster: RawPerson[] = [];
  for (const s of sentences(lines)) {
    const text = s.text;
    if (s.line > lastLine + 1 && lines.slice(lastLine + 1, s.line).some((l) => l.trim() === '')) pending = null;
    lastLine = s.line;
    const cues = lexicon.cues(text);
    const cue = cues.some((c) => c.kind === 'revoke') ? 'revoke' : cues.length > 0 ? 'grant' : null;
    const found = events(text, lexicon);
    // In an answer to our mail, the first name of a person it names is that person's name.
    let answering = found.some((e) => e.field === 'name' && knownAs(e.value.split(' ')[0]!) != null);
    if (knownFirst.size > 0 && (found.length > 0 || RESPECTIVELY.test(text))) {
      // Each first name of ours not already part of a name found ("Användarnamnet för Tobias är tobsun och Fadumo …").
      const spans = found.filter((e) => e.field === 'name').map((e) => [e.pos, e.pos + e.value.length] as const);
      for (const m of text.matchAll(/\p{Lu}[\p{L}'’-]+/gu)) {
        const as = knownAs(m[0].replace(/[’']s$/, 's'));
        if (!as || spans.some(([a, b]) => m.index >= a && m.index < b)) continue;
        found.push({ pos: m.index, field: 'name', value: as });
        answering = true;
      }
      found.sort((a, b) => a.pos - b.pos);
    }
    const has = (f: FieldName) => found.some((e) => e.field === f);
    const about = ABOUT_ACCESS.test(text) || answering;
    // "Hanna Öberg och Ali Rezaei, båda sjuksköterskor, har fått sina kort": persons named together, their values told after.
    const together = found.filter((e) => e.field === 'name' && (e.value.includes(' ') || knownAs(e.value) != null));
    const respectively = RESPECTIVELY.test(text);
    // ("Vi har två nya sommarvikarier: Hanna Johansson och Ali Mohammadi." speaks of new staff, if not of access.)
    const newStaff = /(?<![\p{L}])(?:ny|nya|new)(?![\p{L}])/iu.test(text);
    if (together.length >= 2 && ((!has('hsaId') && !has('treservaUser')) || respectively) && (about || newStaff) && !KEEP.test(text)) {
      push();
      roster = together.map((e): RawPerson => ({ name: e.value, at: s.line, end: s.line }));
      const roles = found.filter((e) => e.field === 'function');
      for (const [k, p] of roster.entries()) {
        // One role for all ("båda som sjuksköterska"), or each name's own role after it.
        const own = roles.filter((r) => r.pos > together[k]!.pos && r.pos < (together[k + 1]?.pos ?? Infinity));
        // A single role before or after all the names ("med funktionen undersköterska …: Hanna Ström och Ali Hassan").
        const outside = roles.length === 1 && (roles[0]!.pos < together[0]!.pos || roles[0]!.pos > together.at(-1)!.pos);
        const role = own.length === 1 ? own[0] : roles.length === 1 && (ALL.test(text) || outside) ? roles[0] : undefined;
        if (role) p.function = cleanValue('function', role.value);
        // "Emma Ståhl börjar på måndag och ersätter Lena Gran som slutar": each name's own words say which.
        // Words between one name and the next are that person's; after the last name, only a "som" clause is.
        const last = k === together.length - 1;
        const after = text.slice(together[k]!.pos + together[k]!.value.length, together[k + 1]?.pos ?? text.length);
        if (last && !/^[\s,]*som\s/iu.test(after)) continue;
        const said = lexicon.cues(after);
        if (said.some((c) => c.kind === 'revoke')) p.intent = 'revoke';
        else if (said.length > 0) p.intent = 'grant';
      }
      // "Malin Ek och Peter Sandberg har slutat": one phrase for all; beside a leaver told apart, the others are grants.
      if (roster.some((p) => p.intent != null)) for (const p of roster) p.intent ??= 'grant';
      else if (cue) for (const p of roster) p.intent = cue;
      persons.push(...roster);
      // "Piotr och Tekle har användarnamnen pinowi respektive tekgeb": the values in the same sentence.
      if (respectively) toRoster(text, roster, lexicon);
      continue;
    }
    const listed = RESPECTIVELY.test(text) || (THEY.test(text) && USER_WORD.test(text));
    if (roster.length > 0 && (has('hsaId') || has('treservaUser') || listed) && toRoster(text, roster, lexicon)) continue;
    if (!has('hsaId') && !has('treservaUser') && !(has('name') && about && !KEEP.test(text))) {
      const role = found.find((e) => e.field === 'function')?.value;
      const name = found.find((e) => e.field === 'name')?.value;
      if (
        NO_ACCESS.test(text) &&
        current.intent == null &&
        currentCue === 'revoke' &&
        current.hsaId == null &&
        current.treservaUser == null
      ) {
        current = {};
        currentCue = null;
        continue;
      }
      // "Båda arbetar som undersköterska.": the function of every person named together.
      if (role && !name && roster.length > 0 && ALL.test(text)) {
        for (const p of roster) p.function ??= cleanValue('function', role);
        continue;
      }
      // "Hanna jobbar som sjuksköterska hos oss.", "Fatima är undersköterska och Jonas är sjuksköterska.": by first name.
      if (roster.length > 0 && role && name) {
        let told = 0;
        for (const clause of text.split(/\s+(?:och|samt|and)\s+|,\s+/u)) {
          const c = events(clause, lexicon);
          const n = c.find((e) => e.field === 'name')?.value;
          const r = c.find((e) => e.field === 'function')?.value;
          const member = n && r && !n.includes(' ') ? roster.find((p) => p.name?.split(' ')[0] === n) : undefined;
          if (member && r) {
            member.function ??= cleanValue('function', r);
            told++;
          }
        }
        if (told > 0) continue;
      }
      // "Han arbetar som samordnare", "Jobbar som ssk": the function of the person just named or writing.
      // The writer's own function ("Jag är tf enhetschef") is no one else's.
      const mine = FIRST_PERSON.test(text);
      if (
        !name &&
        role &&
        current.function == null &&
        ((current.name != null && !mine && REFERS_BACK.test(text)) ||
          (current.name == null && (mine || WORKS_AS.test(text))) ||
          // "Fredrik ska in i lifecare. ssk. treserva fremal": a function alone between sentences of one
          // line (alone on its line, it is a signature's title).
          (lexicon.isRole(text.replace(/[.!,;:]+$/, '')) && lines[s.line]!.replace(/\s+/g, ' ').trim().length > text.length + 1))
      )
        set('function', role, s.line);
      else if (name) pending = KEEP.test(text) ? null : { name, role, line: s.line };
      // "Kan du anmäla vår nya usk?" then "Hon heter Wilma Sjögren, HSA-id …": the role of the one named next.
      else if (role && !hasValue(current) && NEW_ROLE.test(text.slice(0, Math.max(0, text.toLowerCase().indexOf(role.toLowerCase())))))
        comingRole = role;
      if (cue) {
        // "Hon har slutat." after a person's values is that person's; before any, or ending in a
        // colon ("SKA TAS BORT:"), a heading of the persons after it.
        if (/:\s*$/.test(text) && hasValue(current)) push();
        if (hasValue(current)) currentCue = cue === 'revoke' || currentCue !== 'revoke' ? cue : currentCue;
        else heading = cue;
      }
      continue;
    }
    if (!has('name') && pending) {
      // The values belong to the person named just before, not to the one before that.
      if (current.name != null && current.name !== pending.name) push();
      set('name', pending.name, pending.line);
      if (pending.role && !has('function')) set('function', pending.role, pending.line);
    }
    pending = null;
    // "Me: HSA-ID …, username gramwa" then "Our nurse: Marcus Öberg, …, HSA-ID …": a named line with its own id is
    // its own person, not the name of the nameless one before it.
    if (
      current.name == null &&
      (current.hsaId != null || current.treservaUser != null) &&
      has('name') &&
      (has('hsaId') || has('treservaUser'))
    )
      push();
    let named: Event | undefined;
    if (comingRole && !has('function') && has('name')) {
      named = found.find((e) => e.field === 'name')!;
      if (current.name != null && current.name !== named.value) push();
      set('name', named.value, s.line);
      set('function', comingRole, s.line);
    }
    comingRole = null;
    for (const e of found) {
      if (e === named) continue;
      if (
        e.field === 'function' &&
        current.function != null &&
        current.name != null &&
        !found.some((x) => x.field === 'name' && x.pos > e.pos)
      )
        continue;
      const before = persons.length;
      set(e.field, e.value, s.line);
      if (persons.length > before) currentCue = null;
      currentCue = cue ?? currentCue ?? heading;
    }
  }
  push();
  return persons;
}

/** "båda", "alla", "both": one value for every person just named. */
const ALL = /(?<![\p{L}])(?:båda|bägge|alla|samtliga|both|all)(?![\p{L}])/iu;
/** "hanobe respektive alirez": values given in the order the persons were named. */
const RESPECTIVELY = /(?<![\p{L}])(?:respektive|resp\.|respectively)(?![\p{L}])/iu;
const RESPECTIVE_LIST =
  /(?<![\p{L}\d])([A-Za-z0-9][\w.-]{1,39})((?:[ \t]*,[ \t]*[A-Za-z0-9][\w.-]{1,39}){0,8})[ \t]+(?:respektive|resp\.|respectively)[ \t]+([A-Za-z0-9][\w.-]{1,39})/gu;
/** "I Treserva heter de hanvir och alirez": with a plural pronoun, "och" lists in the order named too. */
const THEY = /(?<![\p{L}])(?:de|deras|dem|they|their)(?![\p{L}])/iu;
const AND_LIST =
  /(?<![\p{L}\d])([a-z][a-z0-9._-]{1,39})((?:[ \t]*,[ \t]*[a-z][a-z0-9._-]{1,39}){0,8})[ \t]+(?:och|and)[ \t]+([a-z][a-z0-9._-]{1,39})(?=[.!,;]?(?:\s|$))/gu;
/** AND_LIST without `g`, for `test` (which then keeps no state). */
const AND_LIST_ONE = new RegExp(AND_LIST.source, 'u');
const USER_WORD = /(?<![\p{L}])(?:treserva|tes|användarnamn\p{L}*|användar-?id|login|inlogg\p{L}*|username)(?![\p{L}])/iu;

/**
 * Values for persons named together earlier: "Hannas HSA-id är SE… och Alis är SE…" (each clause by
 * its first name), "de heter hanobe respektive alirez" (in the order named). True when the
 * sentence's values went to persons named together; false leaves it to the reading in order.
 */
function toRoster(text: string, roster: RawPerson[], lexicon: Lexicon): boolean {
  const values = (t: string) => events(t, lexicon).filter((e) => e.field !== 'name');
  const give = (p: RawPerson, e: Event) => {
    const v = cleanValue(e.field, e.value);
    if (v != null && p[e.field] == null) p[e.field] = v;
  };
  if (RESPECTIVELY.test(text) || (THEY.test(text) && USER_WORD.test(text) && AND_LIST_ONE.test(text))) {
    const found = values(text);
    // "I Treserva heter de hanobe respektive alirez": a username label, then the list (of ids it is not).
    const lists = [...text.matchAll(RESPECTIVE_LIST), ...(THEY.test(text) ? text.matchAll(AND_LIST) : [])];
    const list = lists.find((m) => !/^SE\d/i.test(m[1]!) && USER_WORD.test(text.slice(0, m.index)));
    if (list) {
      const tokens = [list[1]!, ...list[2]!.split(/\s*,\s*/).filter(Boolean), list[3]!];
      if (tokens.length === roster.length && tokens.every((t) => !STOP.has(t.toLowerCase()) && !lexicon.isRole(t) && !/^SE\d/i.test(t))) {
        const others = found.filter((e) => e.field !== 'treservaUser');
        found.length = 0;
        found.push(...others, ...tokens.map((t) => ({ pos: text.indexOf(t), field: 'treservaUser' as const, value: t })));
      }
    }
    const fields = [...new Set(found.map((e) => e.field))];
    if (fields.length === 0 || fields.some((f) => found.filter((e) => e.field === f).length !== roster.length)) return false;
    for (const f of fields) found.filter((e) => e.field === f).forEach((e, k) => give(roster[k]!, e));
    return true;
  }
  const first = (p: RawPerson) => p.name!.split(' ')[0]!.toLowerCase();
  let target: RawPerson | undefined;
  let placed = 0;
  for (const clause of text.split(/\s+(?:och|samt|and)\s+|[;]\s*|,\s+(?=\p{Lu}\p{Ll})/u)) {
    const words = clause.split(/\s+/).map((w) =>
      bare(w)
        .toLowerCase()
        .replace(/['’]?s$/, ''),
    );
    const named = roster.filter((p) => words.some((w) => w === first(p)));
    if (named.length === 1) target = named[0];
    const found = values(clause);
    if (found.length === 0) continue;
    if (!target || named.length > 1) return false;
    for (const e of found) give(target, e);
    // "Omar: ssk, SE…, omaali": a bare word built from the person's name, after the clause's values.
    if (target.treservaUser == null) {
      const built = clause
        .split(/[\s,;:()]+/)
        .map((w) => w.replace(/[.!?]+$/, ''))
        .find((w) => /^[a-z][a-z0-9._-]{1,28}[a-z0-9]$/.test(w) && !STOP.has(w) && builtFromName(w, target!.name!));
      if (built) target.treservaUser = built;
    }
    // "Lena ska tas bort ur lifecare, hennes hsa är …".
    if (lexicon.cues(clause).some((c) => c.kind === 'revoke')) target.intent = 'revoke';
    placed++;
  }
  return placed > 0;
}

/** "min chef", "min enhetschef", "my manager": the person named next is the writer's relation. */
const RELATION = /^(?:min|mitt|my)$/iu;
const BOSS = /^(?:chef|chefen|manager|boss|handledare|supervisor|kollega|colleague)$/iu;

/** "vår nya usk", "en ny undersköterska", "our new nurse": a role announced before its person's name. */
const NEW_ROLE = /(?<![\p{L}])(?:ny|nya|nytt|new)\s+$/iu;

/** "Jobbar som ssk", "arbetar här som undersköterska". */
const WORKS_AS =
  /(?<![\p{L}])(?:jobbar|jobba|jobbat|arbetar|arbeta|arbetat|anställd|anställts|börjar|börja|börjat|tjänstgör|går[ \t]+in|gå[ \t]+in|hoppar[ \t]+in|vikarierar|vikariera|works|working|employed|works[ \t]+here)(?:[ \t]+(?:här|hos[ \t]+oss|nu|hos[ \t]+oss[ \t]+nu))?[ \t]+(?:som|as)[ \t]/iu;
/** "Ingrid stannar kvar, hennes behörighet ska vara kvar": nothing to do for that person. */
const KEEP =
  /(?<![\p{L}])(?:stannar kvar|ska vara kvar|ska ha kvar|får behålla|ska behålla|behåller|fortsätter som vanligt|ingen ändring|väntar fortfarande på|väntar på sitt kort|inte fått sitt kort)(?![\p{L}])/iu;
/** "Hon hade ingen egen behörighet i Lifecare": a leaver just named who has nothing to remove. */
const NO_ACCESS =
  /(?<![\p{L}])(?:hade|har)\s+(?:aldrig\s+haft\s+|ingen\s+(?:egen\s+)?|inte\s+(?:haft\s+)?(?:någon\s+)?)(?:behörighet|inloggning|konto|tillgång)(?![\p{L}])/iu;
/** "Han arbetar som samordnare", "Hon är usk": a sentence about the person just named. */
const REFERS_BACK = /(?<![\p{L}])(?:hon|han|hen|he|she|som|är|is)(?![\p{L}])/iu;
/** First-person writing (a self-announcer), not "Skickat från min iPhone". */
export const FIRST_PERSON =
  /(?<![\p{L}])(?:jag|mitt|min|mina|mig|i have|i am|i started|my|me(?=\s*:))(?![\p{L}])(?![ \t]+(?:iphone|ipad|android|samsung|galaxy|mobil|telefon))/iu;
