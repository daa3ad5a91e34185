import type { Rules } from '../rules/load';
import { isUnitLine, LabelMatcher } from './labels';
import { extractProse, knownFirstNames, mention, sentencesOf, type ProseOptions } from './prose';
import { FIELDS, type FieldName } from './types';
import { Lexicon } from './lexicon';
import { builtFromName, cleanValue, firmLike, isNoise, plausibleBare } from './values';
import { hasValue, type RawPerson } from './validate';

/**
 * Finds persons in plain text lines: labelled lines ("Namn: …", value on the same or next line),
 * several labels on one line, delimited tables with a header row (tabs, ";" or "|", also what
 * HTML tables become), and free prose as a fallback.
 */

const LIST_MARKER = /^\s*(?:\(?\d{1,2}[.):]|[-*•·–o§]|\[\d+\])\s+/;
const HEADING = /^\s*(person|användare|medarbetare|anställd|user|employee)\s*(nr\.?\s*)?\d{1,2}\s*:?\s*$/i;
/** "Person 2: Erik Ek", "1) Erik Ek": a numbered heading that names the person. */
const NAMED_HEADING =
  /^\s*(?:(?:person|användare|medarbetare|anställd|user|employee)\s*(?:nr\.?\s*)?\d{1,2}|\d{1,2})\s*[:.)–-]\s*(\S.{0,80})$/i;
/** A legend naming the column order of unlabelled rows: "(namn – funktion – HSA-id – användarnamn)". */
function legendOf(line: string, labels: LabelMatcher): FieldName[] | null {
  // A delimited header row is a table's, read with its rows below.
  if (/[\t;|]/.test(line)) return null;
  // "Ordningen är namn, funktion, HSA-id och användarnamn i Treserva. Hör av er …": one sentence of the line.
  for (const sentence of sentencesOf(line)) {
    const found = legendSentence(sentence, labels);
    if (found) return found;
  }
  return null;
}

function legendSentence(sentence: string, labels: LabelMatcher): FieldName[] | null {
  const body = sentence
    .replace(/^\s*[([]|[)\]]\s*$/g, '')
    .replace(/^\s*(?:ordningen är|i ordningen|ordning|format|kolumner|columns|the order is|nedan följer|här kommer)\s*:?\s*/i, '')
    .replace(/\s+(?:för|for|till)\s+[^,]{2,40}:?\s*$|[.:]\s*$/i, '');
  // "namn, funktion, HSA-id och användarnamn": "och" joins the last.
  const cells = body
    .split(/\s*(?:[,;\t|]|\s[-–—]\s|[–—]|\s(?:och|and)\s|\s\/\s)\s*/)
    .map((c) => c.trim())
    .filter(Boolean);
  if (cells.length < 3 || cells.length > 5) return null;
  // "Namn: Nils Ek, HSA-id: SE…": labels with their values, a person's line, no legend.
  if (cells.some((c) => /:\s*\S/.test(c) || /\d{3}/.test(c))) return null;
  const fields = cells.map((c) => labels.match(c, true));
  if (fields.some((f) => f === null) || new Set(fields).size !== fields.length) return null;
  return fields as FieldName[];
}

function cleanLine(line: string): string {
  return (
    line
      .replace(/\u00a0/g, ' ')
      // Emoji and pictographs mark list items and moods, never values.
      .replace(/(?:[\p{Extended_Pictographic}\u{2705}\u{2714}\u{274C}]|\u{FE0F}|\u{200D}|\u{20E3})+\s*/gu, ' ')
      .replace(/^\s+(?=\S)/, (m) => (m.includes('\t') ? m : ''))
      // "SE5593184061 - NH2270": an HSA-id with spaces around its dash is one value.
      .replace(/\b(SE\s?(?:16)?\d{10})\s+[-–]\s+([A-Za-z0-9]{1,24})\b/gi, '$1-$2')
      .replace(LIST_MARKER, '')
      // "**Lisa Berg** (undersköterska)": bold marks of a plain-text part.
      .replace(/\*\*([^*]{1,200})\*\*/g, '$1')
      .replace(/^\s*\*+|\*+\s*$/g, '')
      .replace(/\*+\s*:\s*\**/, ': ')
      .trimEnd()
  );
}

class PersonCollector {
  readonly persons: RawPerson[] = [];
  private current: RawPerson = {};

  /** Which half of a name the current person's name is, when a "Förnamn:"/"Efternamn:" line gave it. */
  private namePart: 'given' | 'family' | null = null;

  /** "Förnamn: Therese" then "Efternamn: Olofsson" (either order): one name. */
  setNamePart(value: string, part: 'given' | 'family', line: number): void {
    const had = this.current.name;
    if (had != null && this.namePart !== null && this.namePart !== part) {
      this.current.name = part === 'family' ? `${had} ${value}` : `${value} ${had}`;
      this.current.end = line;
      this.namePart = null;
      return;
    }
    this.set('name', value, line);
    this.namePart = part;
  }

  set(field: FieldName, value: string | null, line?: number): void {
    if (value === null) return;
    if (field === 'name') this.namePart = null;
    if (this.current[field] != null) this.flush();
    this.current[field] = value;
    if (line !== undefined) {
      this.current.at ??= line;
      this.current.end = line;
    }
  }

  /** A label with no value at all still marks a person's block ("HSA-id:" left blank). */
  touch(field: FieldName): void {
    if (this.current[field] !== undefined) this.flush();
    this.current[field] = null;
  }

  flush(): void {
    if (hasValue(this.current)) this.persons.push(this.current);
    this.current = {};
    this.namePart = null;
  }
}

function splitCells(line: string): { cells: string[]; delimiter: string } | null {
  for (const d of ['\t', ';', '|']) {
    if (line.includes(d)) {
      const cells = line.split(d).map((c) => c.trim());
      if (d === '|' && cells[0] === '') cells.shift();
      if (d === '|' && cells[cells.length - 1] === '') cells.pop();
      if (cells.length >= 2) return { cells, delimiter: d };
    }
  }
  // A fixed-width report ("EMP_NO  NAME  TITLE  HSA_ID"): columns two or more spaces apart.
  const cells = line.trim().split(/ {2,}/);
  return cells.length >= 3 ? { cells, delimiter: '  ' } : null;
}

/** Rows with a header row of labels → one person per following row. */
export function extractFromRows(rows: string[][], labels: LabelMatcher, lexicon?: Lexicon): RawPerson[] {
  const persons: RawPerson[] = [];
  let columns: Array<FieldName | null> | null = null;
  // "Last name;First name": the column of the given name, which comes first in the name.
  let givenAt = -1;
  for (let row of rows) {
    const fields = row.map((c) => labels.match(c, true));
    // A header row: at least two of our fields named, and most of its cells labels (extra columns such as "Enhet" allowed).
    const named = new Set(fields.filter(Boolean)).size;
    if (named >= 2 && (fields.filter(Boolean).length >= row.filter((c) => c !== '').length - 1 || named >= 3)) {
      columns = fields;
      givenAt = row.findIndex((c, k) => fields[k] === 'name' && labels.partOf(c) === 'given');
      continue;
    }
    if (!columns) continue;
    // "Konsult | Roll | HSA-ID | Treserva": with no name column, a column whose cells are names is it.
    if (!columns.includes('name') && lexicon) {
      const k = row.findIndex((c, i) => columns![i] === null && plausibleName(c.trim(), lexicon));
      if (k >= 0) columns = columns.map((f, i) => (i === k ? 'name' : f));
    }
    // A note under the table ("Sammanställt av …") is one long cell, not a person.
    const filledCells = row.filter((c) => c.trim() !== '');
    if (filledCells.length < 2 && !(filledCells[0] && /^SE\s?\d/i.test(filledCells[0]))) continue;
    // A cell spanning rows (a unit in the first column) is missing from the rows below it: align them right.
    const header = columns;
    const lead = header.findIndex((f) => f !== null);
    const shift = header.length - row.length;
    if (shift > 0 && shift <= lead && header[shift] === 'name' && row[0] && plausibleName(row[0], Lexicon.for(labels.rules))) {
      row = [...new Array<string>(shift).fill(''), ...row];
    }
    // Two name columns, one of them holding usernames ("Namn | … | Användare"): that one is the username's.
    const cols: Array<FieldName | null> = columns;
    const nameCols: number[] = cols.flatMap((f, k) => (f === 'name' ? [k] : []));
    if (nameCols.length === 2 && givenAt < 0 && lexicon) {
      const user = nameCols.find(
        (k: number) => looksLikeUsername((row[k] ?? '').trim(), lexicon) && !plausibleName((row[k] ?? '').trim(), lexicon),
      );
      if (user !== undefined) columns = cols.map((f, k) => (k === user ? 'treservaUser' : f));
    }
    const p: RawPerson = {};
    row.forEach((cell, i) => {
      const f = columns![i];
      if (!f) return;
      const v = cleanValue(f, cell);
      // Separate first-name and surname columns make one name, the given name first.
      if (f === 'name' && p.name != null && v != null) p.name = i === givenAt ? `${v} ${p.name}` : `${p.name} ${v}`;
      else if (p[f] == null) p[f] = v;
    });
    // An action column ("Ny", "Slutar", "Ta bort") says what the row asks for.
    if (lexicon) {
      // A cell is a heading of its row: "Ta bort" reads as "Ta bort:".
      const cues = row
        .filter((_, k) => !columns![k] || columns![k] === null)
        .flatMap((c) => lexicon.cues(/:\s*$/.test(c) ? c : `${c.trim()}:`));
      if (cues.some((c) => c.kind === 'revoke')) p.intent = 'revoke';
      else if (cues.length > 0) p.intent = 'grant';
    }
    if (hasValue(p)) persons.push(p);
  }
  return persons;
}

export function extractFromLines(rawLines: string[], rules: Rules, labels = LabelMatcher.for(rules), opts: ProseOptions = {}): RawPerson[] {
  const lines = rawLines.map(cleanLine).map((l) => (isUnitLine(l) ? '' : l));
  const out = new PersonCollector();
  const consumed = new Set<number>();
  const lexicon = Lexicon.for(rules);
  const defaults: RawPerson = {};
  let legend: FieldName[] | null = null;
  for (const [k, l] of lines.entries()) {
    const inner = /\(([^()]{10,120})\)/.exec(l)?.[1];
    const found = l.length < 300 ? (legendOf(l, labels) ?? (inner ? legendOf(inner, labels) : null)) : null;
    if (found) {
      legend = found;
      if (!inner || legendOf(l, labels)) consumed.add(k);
      // The legend in brackets inside a sentence is taken out of it, so it is not read as values.
      else lines[k] = l.replace(`(${inner})`, '');
    }
  }
  const roleLine = (k: number) =>
    k < lines.length && lines[k]!.trim() !== '' && !labels.matchLine(lines[k]!) && lexicon.isRole(lines[k]!.trim());
  /** Whether the labelled block starting at line `from` names no person of its own. */
  const blockHasNoName = (from: number) => {
    let seenLabel = false;
    for (let k = from; k < Math.min(lines.length, from + 8); k++) {
      const l = lines[k]!;
      if (l.trim() === '') {
        if (seenLabel) break;
        continue;
      }
      const hit = labels.matchLine(l);
      if (!hit) return seenLabel;
      if (hit.field === 'name') return false;
      seenLabel = true;
    }
    return seenLabel;
  };

  const knownFirst = knownFirstNames(opts);
  for (let i = 0; i < lines.length; i++) {
    // "Kevin: kevlun" in an answer to our mail: a person our mail names, and one value told by its shape.
    const firstColon = knownFirst.size > 0 ? /^\s*(\p{Lu}[\p{L}'’-]+)\s*:\s*(\S{2,40})\s*$/u.exec(lines[i]!) : null;
    if (firstColon && knownFirst.has(firstColon[1]!.toLocaleLowerCase('sv')) && !labels.match(firstColon[1]!, true)) {
      const v = firstColon[2]!;
      const field: FieldName | null = HSA_CELL.test(v)
        ? 'hsaId'
        : lexicon.isRole(v)
          ? 'function'
          : looksLikeUsername(v, lexicon)
            ? 'treservaUser'
            : null;
      if (field) {
        out.flush();
        out.set('name', firstColon[1]!, i);
        out.set(field, cleanValue(field, v), i);
        out.flush();
        consumed.add(i);
        continue;
      }
    }
    // "Dmitrij Ivanov: role undersköterska, Treserva login dmiiva": a name, then that person's values.
    const nameColon = NAME_COLON.exec(lines[i]!);
    if (
      nameColon &&
      (lexicon.isGivenName(nameColon[1]!.split(/[\s-]/)[0]!) || VALUE_WORDS.test(nameColon[2]!)) &&
      plausibleName(nameColon[1]!, lexicon) &&
      !labels.match(nameColon[1]!, true)
    ) {
      out.set('name', cleanValue('name', nameColon[1]!), i);
      lines[i] = nameColon[2]!;
    }
    const line = lines[i]!;
    if (line.trim() === '' || HEADING.test(line)) {
      if (HEADING.test(line)) out.flush();
      continue;
    }

    if (consumed.has(i)) continue;
    // A table with one column per person: label in the first cell of each row.
    const transposed = transposedTable(lines, i, labels);
    if (transposed) {
      out.flush();
      for (const p of transposed.persons) out.persons.push({ ...p, at: i, end: transposed.end });
      for (let k = i; k <= transposed.end; k++) consumed.add(k);
      i = transposed.end;
      continue;
    }
    // "Funktion för samtliga: Undersköterska": one value for every person of the mail.
    const shared = SHARED.exec(line);
    const sharedField = shared ? labels.match(shared[1]!, true) : null;
    if (shared && sharedField) {
      defaults[sharedField] = cleanValue(sharedField, shared[2]!);
      consumed.add(i);
      continue;
    }
    // A heading that names the person whose labelled values follow ("**Lisa Berg**", "Person 2: Erik Ek").
    const named = NAMED_HEADING.exec(line)?.[1]?.trim() ?? (labels.matchLine(line) ? null : line.trim());
    let heading = named ? headingOf(named, rules, lexicon) : null;
    // "Hennes ersättare Fredrik Olofsson börjar samma dag:" above a labelled block without a name.
    if (!heading && /:\s*$/.test(line) && !labels.matchLine(line)?.rest) {
      const m = mention(line, rules);
      if (m.name) heading = m.function ? { name: m.name, function: m.function } : { name: m.name };
    }
    if (heading && (blockHasNoName(i + 1) || (roleLine(i + 1) && blockHasNoName(i + 2)))) {
      out.flush();
      out.set('name', cleanValue('name', heading.name), i);
      // "Ny enhetschef är Amal Hassan:" above "Funktion: Enhetschef": the block's own label says it.
      const labelsFunction = lines.slice(i + 1, i + 7).some((l) => labels.matchLine(l)?.field === 'function');
      if (heading.function && !labelsFunction) out.set('function', cleanValue('function', heading.function), i);
      consumed.add(i);
      // "Ingrid Wallin de Vries" then "Sjuksköterska" on a line of its own, then the labelled values.
      if (!heading.function && roleLine(i + 1)) {
        out.set('function', cleanValue('function', lines[i + 1]!.trim()), i + 1);
        consumed.add(i + 1);
        i++;
      }
      continue;
    }

    // A delimited header row starts a table: read rows until the delimiter stops.
    const split = splitCells(line);
    if (split && split.cells.filter((c) => !/:\s*\S/.test(c) && labels.match(c, true)).length >= 2) {
      const rows = [split.cells];
      let j = i + 1;
      for (; j < lines.length; j++) {
        const next = lines[j]!;
        if (next.trim() === '') {
          if (splitCells(lines[j + 1] ?? '')?.delimiter === split.delimiter) continue;
          break;
        }
        // "|------|------|" or "-------": a rule under the header row, not the table's end.
        if (/^[\s|+:=_-]{3,}$/.test(next) && /-{3}|={3}/.test(next)) continue;
        const cells = splitCells(next);
        if (!cells || cells.delimiter !== split.delimiter) break;
        rows.push(cells.cells);
      }
      const found = extractFromRows(rows, labels, lexicon);
      if (found.length > 0) {
        out.flush();
        found.forEach((p, k) => out.persons.push({ ...p, at: i + 1 + k, end: i + 1 + k }));
        for (let k = i; k < j; k++) consumed.add(k);
        i = j - 1;
        continue;
      }
    }

    // An unlabelled row "Lisa Berg, Enhetschef, SE…, lisber": fields told apart by their shape.
    const shaped = shapeRow(line, rules, legend);
    if (shaped) {
      out.flush();
      out.persons.push({ ...shaped, at: i, end: i });
      consumed.add(i);
      continue;
    }

    // Several "label: value" pairs on one line, perhaps after "Name, function." without labels.
    const pairs = inlinePairs(line, labels, lexicon);
    // "Vi anmäler härmed två medarbetare. Namn på behörig: …": a sentence ended before the labels leads nothing.
    // That sentence is left for prose to read ("… och jag är tf. enhetschef under tiden.").
    let sentence = '';
    if (pairs.prefix.trim().split(/\s+/).length > 6 && /[.!?]\s*$/.test(pairs.prefix)) [sentence, pairs.prefix] = [pairs.prefix, ''];
    // In a sentence ("… behöver Lifecare: Dragana (Sjuksköterska, HSA-id: …)") the values are prose's to read.
    const wordy = (t: string) => t.trim().split(/\s+/).length > 6;
    if (pairs.length >= 2 && !wordy(pairs.prefix) && !pairs.some(([, v]) => wordy(v))) {
      const lead = leadingNameAndFunction(pairs.prefix, rules);
      // "Lisa Berg ska ha behörighet. Funktion: …": the name in the sentence before the labels.
      if (!lead.name && pairs.prefix.trim() !== '') {
        const said = mention(pairs.prefix, rules).name;
        if (said && plausibleName(said, lexicon)) lead.name = said;
      }
      const given = new Set(pairs.map(([f]) => f));
      if (lead.name && !given.has('name')) out.set('name', lead.name, i);
      if (lead.function && !given.has('function')) out.set('function', lead.function, i);
      for (const [label, value] of pairs) {
        // "Namn: …, användare: amijus": a value tells its field where a label is ambiguous.
        const field = label === 'name' && given.has('name') && looksLikeUsername(value.trim(), lexicon) ? 'treservaUser' : label;
        const both = field === 'name' && !given.has('function') ? nameAndRole(value, lexicon) : null;
        if (both) {
          out.set('name', cleanValue('name', both.name), i);
          out.set('function', cleanValue('function', both.role), i);
        } else out.set(field, cleanValue(field, value), i);
      }
      if (sentence) lines[i] = sentence;
      else consumed.add(i);
      continue;
    }

    // "HSA-id/användarnamn: SE… / lisber": two labels, two values.
    const combo = COMBO.exec(line);
    const comboFields = combo ? [labels.match(combo[1]!, true), labels.match(combo[2]!, true)] : [];
    const comboValues = combo ? combo[3]!.split(/\s*[/,;]\s*|\s+(?:och|and)\s+/) : [];
    if (combo && comboFields[0] && comboFields[1] && comboFields[0] !== comboFields[1] && comboValues.length === 2) {
      comboFields.forEach((f, k) => out.set(f!, labelledValue(f!, comboValues[k]!, lexicon), i));
      consumed.add(i);
      continue;
    }
    // "Dino Hasanović, användarnamn i TES: dino": a name before the label.
    const forName = FOR_NAME.exec(line);
    // "HSA-id för Sanna: SE…" in an answer: a first name our mail holds is a name too.
    if (forName && (plausibleName(forName[2]!.trim(), lexicon) || knownFirst.has(forName[2]!.trim().toLocaleLowerCase('sv')))) {
      const field = labels.match(forName[1]!, true);
      if (field && field !== 'name') {
        out.set('name', cleanValue('name', forName[2]!.trim()), i);
        out.set(field, labelledValue(field, forName[3]!, lexicon), i);
        consumed.add(i);
        continue;
      }
    }
    // "Julia Eng (Treserva: ohjuen)": a name and one labelled value in brackets.
    const inBrackets = NAME_BRACKET.exec(line);
    const bracketField = inBrackets && plausibleName(inBrackets[1]!, lexicon) ? labels.match(inBrackets[2]!, true) : null;
    if (inBrackets && bracketField && bracketField !== 'name') {
      out.set('name', cleanValue('name', inBrackets[1]!), i);
      out.set(bracketField, labelledValue(bracketField, inBrackets[3]!, lexicon), i);
      consumed.add(i);
      continue;
    }
    const lead = LEAD_NAME.exec(line);
    const leadName = lead && plausibleName(lead[1]!.trim(), lexicon) ? lead[1]!.trim() : null;
    const hit = labels.matchLine(leadName ? line.slice(lead![0].length) : line);
    if (!hit) continue;
    if (leadName && hit.field !== 'name') out.set('name', cleanValue('name', leadName), i);
    let value = hit.rest;
    if (value === '' && hit.separated) {
      // Value on the next non-empty line, unless that line is a label of its own.
      let j = i + 1;
      while (j < lines.length && lines[j]!.trim() === '' && j - i < 3) j++;
      const next = lines[j];
      // "Treserva usernames:" above rows ("Ahmed Yusuf – ahmyus"): a heading, not a label with its value below.
      const row = next !== undefined && (/\s[-–—]\s|\t/.test(next.trim()) || shapeRow(next, rules, legend) !== null);
      if (next !== undefined && next.trim() !== '' && !row && !labels.matchLine(next)?.separated && !labels.match(next)) {
        value = next.trim();
        consumed.add(j);
        i = j;
      }
    } else if (value === '' && !hit.separated) {
      // A bare label on its own line ("Namn" then "Lisa Berg").
      const next = lines[i + 1];
      if (next !== undefined && next.trim() !== '' && !labels.matchLine(next) && plausibleBare(hit.field, next.trim())) {
        value = next.trim();
        consumed.add(i + 1);
        i = i + 1;
      } else continue;
    } else if (!hit.separated && (!plausibleBare(hit.field, cleanValue(hit.field, value) ?? '') || labels.match(value, true))) {
      // "Treserva username": a label of two words, not a label and its value.
      continue;
    }
    consumed.add(i);
    const cleaned = labelledValue(hit.field, value, lexicon);
    if (cleaned !== null && isNoise(cleaned, hit.field)) continue;
    // A value tells its field where a label is ambiguous ("Användare: noalin" is a username).
    const field = hit.field === 'name' && cleaned !== null && looksLikeUsername(cleaned, lexicon) ? 'treservaUser' : hit.field;
    // "Behörig: Åsa Öberg (undersköterska)": the function in brackets after the name.
    const role = field === 'name' ? /\(([^()]{2,40})\)\s*$/.exec(value)?.[1] : undefined;
    if (role && lexicon.isRole(role)) out.set('function', cleanValue('function', role), i);
    // "Namn: Ebba Lindahl, usk": the function after a comma.
    const both = field === 'name' && !role && cleaned !== null ? nameAndRole(cleaned, lexicon) : null;
    if (both) {
      out.set('name', cleanValue('name', both.name), i);
      out.set('function', cleanValue('function', both.role), i);
      continue;
    }
    if (cleaned === null) out.touch(field);
    else if (field === 'name' && hit.part) out.setNamePart(cleaned, hit.part, i);
    else out.set(field, cleaned, i);
  }
  out.flush();
  for (const p of out.persons) for (const f of FIELDS) if (p[f] == null && defaults[f] != null) p[f] = defaults[f];
  // A letter to the person ("Hej Amanda Holm," … "Ditt HSA-id: …") names the person it greets.
  if (out.persons.length === 1 && out.persons[0]!.name == null && lines.some((l) => SECOND_PERSON.test(l))) {
    const greeted = lines.map((l) => GREETING.exec(l)?.[1]).find((n) => n !== undefined && plausibleName(n, lexicon));
    if (greeted) out.persons[0]!.name = greeted;
  }

  // "Jag heter Johanna … efter Anders, som har gått i pension": the writer introducing herself is not a leaver.
  const selfIntro = (p: RawPerson) => p.treservaUser == null && p.at != null && SELF_INTRO.test(lines[p.at] ?? '');
  // Prose: paragraphs not read as labelled lines.
  const rest = lines.map((l, i) => (consumed.has(i) || labels.matchLine(l)?.separated ? '' : l));
  const prose = extractProse(rest, rules, opts);
  // "Amira Haddad / Sjuksköterska / SE… / TES: amihad": a labelled line closing an unlabelled block
  // (no blank line between) is that block's person's.
  for (const l of [...out.persons]) {
    if (l.name != null || l.hsaId != null || l.at == null) continue;
    const block = prose.filter(
      (p) =>
        p.at != null &&
        p.at < l.at! &&
        lines.slice(p.at, l.at).every((x) => x.trim() !== '') &&
        !FIELDS.some((f) => p[f] != null && l[f] != null),
    );
    const p = block.at(-1);
    if (!p) continue;
    for (const f of FIELDS) if (l[f] != null) p[f] = l[f];
    p.end = Math.max(p.end ?? l.at, l.end ?? l.at);
    out.persons.splice(out.persons.indexOf(l), 1);
  }
  if (out.persons.length === 0) return prose;
  // "Här är uppgifterna för Nadia Eriksson som är sommarvikarie" above one nameless block: its name.
  const nameless = out.persons.length === 1 && out.persons[0]!.name == null && prose.length === 0 ? out.persons[0]! : null;
  if (nameless && nameless.at != null) {
    const named = [...new Set(rest.slice(0, nameless.at).flatMap((l) => mention(l, rules).name ?? []))];
    if (named.length === 1 && plausibleName(named[0]!, lexicon)) {
      nameless.name = named[0]!;
      const said = rest
        .slice(0, nameless.at)
        .map((l) => mention(l, rules))
        .find((m) => m.name === named[0] && m.function);
      if (said && nameless.function == null) nameless.function = said.function!;
    }
  }
  // One person told in prose ("vår nya samordnare Nils …") and labelled below: one person.
  if (out.persons.length === 1 && prose.length === 1) {
    const [l, p] = [out.persons[0]!, prose[0]!];
    const clash = FIELDS.some((k) => p[k] != null && l[k] != null && p[k] !== l[k]);
    if (!clash) return [{ ...p, ...Object.fromEntries(Object.entries(l).filter(([, v]) => v != null)) }];
  }
  // Labelled data wins; a prose person that shares an id with a labelled one only fills its gaps,
  // another who is named and identified (or a named leaver) stands beside them, in text order.
  const same = (a: RawPerson, b: RawPerson) =>
    (a.hsaId != null && a.hsaId.toUpperCase() === b.hsaId?.toUpperCase()) ||
    (a.treservaUser != null && a.treservaUser === b.treservaUser) ||
    (a.name != null && a.name === b.name);
  const persons = [...out.persons];
  for (const p of prose) {
    const match = persons.find((l) => same(l, p));
    if (match) {
      for (const f of FIELDS) if (match[f] == null && p[f] != null) match[f] = p[f];
    } else if (
      p.name != null &&
      (p.hsaId != null ||
        p.treservaUser != null ||
        (p.intent === 'revoke' && !selfIntro(p)) ||
        // "Tomasz arbetar som undersköterska." under "HSA-id för Sanna: …": a person of our mail, by first name.
        (p.function != null && knownFirst.has(p.name.split(' ')[0]!.toLocaleLowerCase('sv'))))
    )
      persons.push(p);
  }
  return persons.sort((a, b) => (a.at ?? 0) - (b.at ?? 0));
}

const SELF_INTRO = /(?<![\p{L}])(?:jag heter|mitt namn är|my name is|i am the|jag är ny)(?![\p{L}])/iu;
// The dash may be missing ("SE9697842152JMS5"): still the HSA-id's place, read as a wrong HSA-id.
const HSA_CELL = /^SE[ \t]?(?:16)?(?:\d[ \t]?){9}\d(?:[ \t]?-[ \t]?[A-Za-zÅÄÖåäö0-9]{1,24}|[A-Za-z][A-Za-z0-9]{0,23})$/i;
const USER_CELL = /^[A-Za-z0-9][A-Za-z0-9._\\@-]{1,39}$/;
const PNR_CELL = /^(?:\d{2})?\d{6}[-+–]?\d{4}$/;

/** A name: capitalised words, or a known given name and one or two more words in any case. */
export function plausibleName(v: string, lexicon: Lexicon): boolean {
  if (firmLike(v)) return false;
  // Particles ("Ingrid Wallin de Vries", "Elin von Schantz") between capitalised words.
  const withoutParticles = v.replace(/\s(?:af|von|van|de|der|den|ter|ten|te|da|di|du|dos|das|del|la|le|el|al|bin|ibn|zu)(?=\s\p{L})/gu, '');
  if (withoutParticles !== v && plausibleName(withoutParticles, lexicon)) return true;
  if (plausibleBare('name', v)) return !lexicon.isRole(v) && !/^(?:med|vänliga|hälsningar|hej|tack|best|kind)\b/i.test(v);
  const words = v.split(/\s+/);
  // All in lower case or all capitalised ("Malin Ek usk" is a name and a function).
  const oneCase = words.every((w) => /^\p{Ll}/u.test(w)) || words.every((w) => /^\p{Lu}/u.test(w));
  return (
    oneCase &&
    words.length >= 2 &&
    words.length <= 3 &&
    lexicon.isGivenName(words[0]!) &&
    words.every((w, k) => /^[\p{L}'’-]{2,30}$/u.test(w) && (k === 0 || lexicon.roleAt(words, k) === 0)) &&
    !lexicon.isRole(v)
  );
}

/**
 * A row of 2-5 cells, one an HSA-id (or a personnummer in its place), the others told apart by
 * shape: a known function, a name, a username. `legend`: the column order the mail gave.
 */
function shapeRow(line: string, rules: Rules, legend: FieldName[] | null): RawPerson | null {
  if (line.length > 300) return null;
  // Dashes between the fields ("Erik Nyström - Vårdbiträde - HSA-id kommer senare, kortet är beställt - eriny"):
  // a comma then is part of a cell.
  const dashed = (line.match(/\s[-–—]\s/g) ?? []).length >= 2;
  const cells = line
    .split(dashed ? /\s+[-–—]\s+/ : /\s*(?:[,;\t|]|\s[-–—/]\s|[–—])\s*/)
    .map((c) => c.trim())
    .filter(Boolean);
  const lexicon = Lexicon.for(rules);
  // "Lena Ohlsson (enhetschef)", "Rebecka Lind (SE…)": a name and its function or id in one cell.
  const paren = cells[0] ? /^(.{3,50}?)\s*\(([^()]{2,40})\)$/.exec(cells[0]) : null;
  if (paren && plausibleName(paren[1]!, lexicon) && (lexicon.isRole(paren[2]!) || HSA_CELL.test(paren[2]!.trim())))
    cells.splice(0, 1, paren[1]!, paren[2]!.trim());
  // "Lisa Berg är undersköterska, SE…, lisber": a name and its function in one cell.
  for (let k = 0; k < cells.length; k++) {
    const m = /^(.{3,50}?)\s+(?:är|is|blir|jobbar som|arbetar som)\s+(?:en\s+|ny\s+|vår\s+)?(.{2,40})$/u.exec(cells[k]!);
    if (m && plausibleName(m[1]!, lexicon) && lexicon.isRole(m[2]!)) cells.splice(k, 1, m[1]!, m[2]!);
    // "Undersköterska Karl Persson, HSA-id …": the function before the name.
    const words = cells[k]!.split(/\s+/);
    const n = words.length > 2 ? lexicon.roleAt(words, 0) : 0;
    if (n > 0 && plausibleName(words.slice(n).join(' '), lexicon))
      cells.splice(k, 1, words.slice(0, n).join(' '), words.slice(n).join(' '));
  }
  // "Ahmed Yusuf – ahmyus": a name and a username built from it.
  if (cells.length === 2 && plausibleName(cells[0]!, lexicon) && USER_CELL.test(cells[1]!) && builtFromName(cells[1]!, cells[0]!))
    return { name: cleanValue('name', cells[0]!), treservaUser: cleanValue('treservaUser', cells[1]!) };
  if (cells.length < 2 || cells.length > 5) return null;
  // "HSA ID — SE…", "Name — Lucía Romero": a label and its value, not a row.
  if (cells.length === 2 && LabelMatcher.for(rules).match(cells[0]!)) return null;
  // "HSA-id saknas än", "HSA-id kommer": the HSA-id's place, with nothing in it.
  // A number there ("HSA-id: 9752 2100 0005 1186", a card number) is a wrong value, read elsewhere, not a placeholder.
  const hsaPlaceholder = cells.findIndex((c) => /^hsa[- ]?id\S*\s+\S/i.test(c) && !/\d{3}/.test(c));
  // "HSA-id: SE…" as a cell: the id without its label and the sentence's full stop.
  for (const [k, c] of cells.entries()) {
    const id = c.replace(/^hsa(?:[- ]?id)?\S*?\s*[:=]?\s+(?=SE)/i, '').replace(/[.;]+$/, '');
    if (id !== c && HSA_CELL.test(id)) cells[k] = id;
  }
  const hsaAt = cells.findIndex((c) => HSA_CELL.test(c));
  const pnrAt = hsaAt < 0 ? cells.findIndex((c) => PNR_CELL.test(c)) : -1;
  const idAt = hsaAt >= 0 ? hsaAt : pnrAt >= 0 ? pnrAt : hsaPlaceholder;
  if (legend && legend.length === cells.length && (idAt < 0 || legend[idAt] === 'hsaId') && cells.length >= 3) {
    const p: RawPerson = {};
    // A cell may carry its own label ("tres: hodwar").
    const unlabelled = (f: FieldName, c: string) => {
      const own = /:/.test(c) ? LabelMatcher.for(rules).matchLine(c) : null;
      return own?.separated && own.field === f && own.rest !== '' ? own.rest : c;
    };
    legend.forEach((f, k) => (p[f] = k === hsaPlaceholder && hsaAt < 0 ? null : cleanValue(f, unlabelled(f, cells[k]!))));
    return hasValue(p) ? p : null;
  }
  if (idAt < 0 || (pnrAt >= 0 && cells.length < 3)) return null;
  const p: RawPerson = { hsaId: idAt === hsaPlaceholder ? null : cleanValue('hsaId', cells[idAt]!) };
  const labels = LabelMatcher.for(rules);
  for (const [i, c] of cells.entries()) {
    if (i === idAt) continue;
    // "Mohammed Al-Sayed – ? – SE… – mohals": a placeholder holds a place, it is no value.
    if (lexicon.isPlaceholder(c)) continue;
    // "…, SE…, tres: hodwar", "…, användarnamn lisber.": a cell with its own label.
    const own = labels.matchLine(c.replace(/[.;]+$/, ''));
    const labelled = own && own.rest !== '' && (own.separated || (own.field === 'treservaUser' && /^\S+$/.test(own.rest)));
    if (own && labelled && own.field !== 'hsaId' && p[own.field] == null) {
      p[own.field] = cleanValue(own.field, own.rest);
      continue;
    }
    if (p.function == null && lexicon.isRole(c)) p.function = cleanValue('function', c);
    else if (p.name == null && plausibleName(c, lexicon)) p.name = cleanValue('name', c);
    else if (p.treservaUser == null && USER_CELL.test(c) && !lexicon.isRole(c)) p.treservaUser = cleanValue('treservaUser', c);
    // A few words that are no known function, but no sentence either ("Moa är vårdbiträde" is one).
    else if (p.function == null && plausibleBare('function', c) && !/\s(?:är|is|blir|heter|har)\s/i.test(c))
      p.function = cleanValue('function', c);
    else return null;
  }
  return (p.name != null || cells.length >= 3) && hasValue(p) ? p : null;
}

const GREETING =
  /^\s*(?:hej|hejsan|hallå|god\s+morgon|hello|hi|dear|kära)\s+(\p{Lu}[\p{L}'’-]+(?:\s+\p{Lu}[\p{L}'’-]+){1,3})\s*[,!.]?\s*$/iu;
const SECOND_PERSON = /(?<![\p{L}])(?:ditt|din|dina|du|your)(?![\p{L}])/iu;

/** "HSA-id för Kerstin Ahl: SE…": a label, the person it is for, the value. */
const FOR_NAME = /^\s*([\p{L}-]{2,20}(?:\s[\p{L}-]{1,20}){0,2}?)\s+(?:för|till|for|åt)\s+([\p{L}'’ -]{3,50}?)\s*:\s*(\S.{0,80})$/u;
const NAME_BRACKET = /^\s*(\p{Lu}[\p{L}'’-]+(?:\s[\p{L}'’-]+){1,3})\s*\(\s*([^():]{2,30}?)\s*:\s*([^():]{1,60}?)\s*\)\s*[.,;]?\s*$/u;
const VALUE_WORDS = /(?<![\p{L}])(?:roll|role|funktion|function|hsa|treserva|tes|användar\p{L}*|login|username)(?![\p{L}])/iu;
const NAME_COLON = /^\s*(?:[^:]{0,60}?[.!?]\s+)?(\p{Lu}[\p{L}'’-]+(?:\s[\p{L}'’-]+){1,3})\s*:\s+(\S.{4,200})$/u;
const COMBO = /^\s*([^:/]{2,30})\/([^:/]{2,30}):\s*(\S.{0,120})$/;
const LEAD_NAME = /^\s*([\p{L}'’ -]{3,50}?)\s*,\s*(?=[\p{L}-]{2,30}(?:\s+[\p{L}/-]{1,20}){0,3}\s*:)/u;

/** A labelled value as the provider meant it: the HSA-id without the remark after it, a username without its explanation. */
function labelledValue(field: FieldName, raw: string, lexicon: Lexicon): string | null {
  let v = raw.trim();
  // "19910522-4415 – kortet är inte hämtat": the value ends where a remark begins.
  if (field !== 'function') v = v.replace(/\s+[–—]\s*(?:\S.*)?$|\s+-\s+\S.*$/, '').trim();
  if (field === 'hsaId') {
    const token = /^(SE[ \t]?(?:16)?(?:\d[ \t]?){9}\d\S*)\s+[([–-]/i.exec(v);
    if (token) v = token[1]!;
  } else if (field === 'treservaUser') {
    // "Treserva (ahmkar), TES (ahmkar)", "TES: ahmkar": the system's name before the value.
    const named =
      /^(?:treserva|tes)(?:\s*\/\s*(?:treserva|tes))?\s*(?:\(\s*([A-Za-z0-9][A-Za-z0-9._\\@-]{1,39})\s*\)|[:=]\s*([A-Za-z0-9][A-Za-z0-9._\\@-]{1,39})\b)/i.exec(
        v,
      );
    if (named) v = (named[1] ?? named[2])!;
    const token = /^([A-Za-z0-9][A-Za-z0-9._\\@-]{1,39})\s+(?:\(|\[|–|—|-\s)/.exec(v);
    if (token) v = token[1]!;
    // An explanation instead of a username ("I have not received it yet – …") says it is missing.
    else if (v.split(/\s+/).length > 3) return null;
  } else if (field === 'name') {
    v = v.replace(/\s+\([^()]{1,60}\)\s*$/, '');
  }
  if (lexicon.isPlaceholder(v)) return null;
  return cleanValue(field, v);
}

/** A label that speaks for everyone: "Funktion för samtliga:", "Roll (alla):". */
const SHARED =
  /(?:^|[.!?]\s+)([^:.!?]{0,40}?(?<![\p{L}])(?:samtliga|för alla|alla är|alla|båda|bägge|everyone|all of them|both)(?![\p{L}])[^:.!?]{0,20}?)\s*:\s*(\S.{0,60})$/iu;

/** Rows "Label<TAB>value<TAB>value…" (two or more rows, two or more values each): one person per column. */
function transposedTable(lines: string[], i: number, labels: LabelMatcher): { persons: RawPerson[]; end: number } | null {
  const rows: Array<{ field: FieldName; values: string[] }> = [];
  let j = i;
  // A heading row ("", "Person 1", "Person 2") may stand first.
  if (/^\t/.test(lines[j] ?? '') || ((lines[j]?.split('\t').length ?? 0) >= 3 && !labels.match(lines[j]!.split('\t')[0]!, true))) {
    const cells = lines[j]!.split('\t');
    if (cells.length >= 3 && !labels.match(cells[0]!, true)) j++;
  }
  for (; j < lines.length; j++) {
    // Several tabs in a row align a column; they are not empty cells.
    const cells = lines[j]!.split(/\t+/).map((c) => c.trim());
    if (cells.length < 3) break;
    const field = labels.match(cells[0]!, true);
    if (!field) break;
    rows.push({ field, values: cells.slice(1) });
  }
  const width = rows[0]?.values.length ?? 0;
  if (rows.length < 2 || width < 2 || new Set(rows.map((r) => r.field)).size !== rows.length || rows.some((r) => r.values.length !== width))
    return null;
  const persons = Array.from({ length: width }, (_, k) => {
    const p: RawPerson = {};
    for (const r of rows) p[r.field] = cleanValue(r.field, r.values[k] ?? '');
    return p;
  }).filter(hasValue);
  return persons.length > 0 ? { persons, end: j - 1 } : null;
}

/** One token in lower case or with digits, not a known given name: a username, not a name. */
function looksLikeUsername(v: string, lexicon: Lexicon): boolean {
  return USER_CELL.test(v) && (/\d/.test(v) || /^[a-z._-]+$/.test(v)) && !lexicon.isGivenName(v.charAt(0).toUpperCase() + v.slice(1));
}

/** A heading line that names a person: "Lisa Berg", "Lisa Berg, Enhetschef", "Lisa Berg (usk)". */
function headingOf(text: string, rules: Rules, lexicon: Lexicon): { name: string; function?: string } | null {
  if (text.length > 80) return null;
  // "Ny från 1 maj: Hanna Lindqvist, undersköterska".
  const afterColon = /^[^:]{2,40}:\s*(\S.*)$/.exec(text)?.[1];
  if (afterColon) return headingOf(afterColon, rules, lexicon);
  if (plausibleName(text, lexicon)) return { name: text };
  // "Malin Ek usk", "Ola Berglund tf enhetschef": a name and a function with nothing between.
  const words = text.trim().split(/\s+/);
  for (let n = 1; n <= 3 && n < words.length - 1; n++) {
    const name = words.slice(0, -n).join(' ');
    const role = words.slice(-n).join(' ');
    if (lexicon.isRole(role) && plausibleName(name, lexicon) && !lexicon.isRole(name)) return { name, function: role };
  }
  const lead = leadingNameAndFunction(text, rules);
  return lead.name ? { name: lead.name, ...(lead.function ? { function: lead.function } : {}) } : null;
}

/** "Anna Svensson, sjuksköterska." before the labelled values: a name and a known function. */
function leadingNameAndFunction(prefix: string, rules: Rules): RawPerson {
  const cells = prefix
    .split(/\s*(?:[,.;(]|\)|\s[-–]\s)\s*/)
    .map((c) => c.trim())
    .filter(Boolean);
  if (cells.length === 0 || cells.length > 2) return {};
  const lexicon = Lexicon.for(rules);
  const out: RawPerson = {};
  for (const c of cells) {
    if (lexicon.isRole(c)) out.function = cleanValue('function', c);
    else if (plausibleName(c, lexicon)) out.name = cleanValue('name', c);
    else return {};
  }
  return out;
}

/** "Namn: Lisa Berg, Funktion: Enhetschef, HSA-id: SE…" → pairs, when two or more labels have colons. */
/** "Ebba Lindahl, usk": a name and a known function after a comma. */
function nameAndRole(value: string, lexicon: Lexicon): { name: string; role: string } | null {
  const m = /^(.{3,60}?)\s*,\s*([^,]{2,40})$/.exec(value.trim());
  return m && lexicon.isRole(m[2]!) && plausibleName(m[1]!, lexicon) ? { name: m[1]!, role: m[2]!.trim() } : null;
}

function inlinePairs(line: string, labels: LabelMatcher, lexicon?: Lexicon): Array<[FieldName, string]> & { prefix: string } {
  const re = /(^|[,;|\t]\s*|\s{2,}|\s)([\p{L}][\p{L}\s/_-]{0,38}?)\s*(?:\([^)]*\))?\s*[:=]\s*/gu;
  const marks: Array<{ field: FieldName; start: number; valueStart: number }> = [];
  for (let m = re.exec(line); m; m = re.exec(line)) {
    const field = labels.match(m[2]!, m[2]!.trim().split(/\s+/).length <= 4);
    if (field) marks.push({ field, start: m.index + m[1]!.length, valueStart: m.index + m[0].length });
  }
  // "HSA-ID SE…-TTH9, Treserva: thitra": an HSA-id label needs no colon before its id.
  for (const m of line.matchAll(/(^|[,;]\s*)(HSA[\p{L}\s-]{0,12}?)\s+(?=SE[ \t]?\d)/giu)) {
    const start = m.index + m[1]!.length;
    if (labels.match(m[2]!) === 'hsaId' && !marks.some((k) => k.start === start))
      marks.push({ field: 'hsaId', start, valueStart: m.index + m[0].length });
  }
  marks.sort((a, b) => a.start - b.start);
  if (marks.length < 2) return Object.assign([], { prefix: '' });
  const pairs = marks.map((mk, i): [FieldName, string] => {
    const end = i + 1 < marks.length ? marks[i + 1]!.start : line.length;
    return [mk.field, line.slice(mk.valueStart, end).replace(/[,;|\s]+$/, '')];
  });
  // "… – TES-login: lisber – usk": dashes between the pairs end each value; a function may stand unlabelled after the last.
  const dashes = /\s[-–—]\s/;
  if (pairs.every(([f, v], k) => f === 'name' || !dashes.test(v) || k === pairs.length - 1)) {
    for (const p of pairs) p[1] = p[1].replace(/\s[-–—]\s*$/, '');
    const last = pairs[pairs.length - 1]!;
    const [value, ...more] = last[1].split(dashes);
    if (more.length === 1 && last[0] !== 'function' && !pairs.some(([f]) => f === 'function') && lexicon?.isRole(more[0]!.trim())) {
      last[1] = value!.trim();
      pairs.push(['function', more[0]!.trim()]);
    }
  }
  return Object.assign(pairs, { prefix: line.slice(0, marks[0]!.start) });
}
