import type { Rules } from '../rules/load';
import { LabelMatcher } from './labels';
import { extractProse } from './prose';
import { FIELDS, type FieldName } from './types';
import { cleanValue, isNoise, plausibleBare } from './values';
import type { RawPerson } from './validate';

/**
 * Finds persons in plain text lines: labelled lines ("Namn: …", value on the same or next line),
 * several labels on one line, delimited tables with a header row (tabs, ";" or "|", also what
 * HTML tables become), and free prose as a fallback.
 */

const LIST_MARKER = /^\s*(?:\(?\d{1,2}[.):]|[-*•·–o§]|\[\d+\])\s+/;
const HEADING = /^\s*(person|användare|medarbetare|anställd)\s*(nr\.?\s*)?\d{1,2}\s*:?\s*$/i;

function cleanLine(line: string): string {
  return line
    .replace(/\u00a0/g, ' ')
    .replace(LIST_MARKER, '')
    .replace(/^\s*\*+|\*+\s*$/g, '')
    .replace(/\*+\s*:\s*\**/, ': ')
    .trimEnd();
}

export const hasValue = (p: RawPerson) => FIELDS.some((f) => p[f] != null);

class PersonCollector {
  readonly persons: RawPerson[] = [];
  private current: RawPerson = {};

  set(field: FieldName, value: string | null, line?: number): void {
    if (value === null) return;
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
  return null;
}

/** Rows with a header row of labels → one person per following row. */
export function extractFromRows(rows: string[][], labels: LabelMatcher): RawPerson[] {
  const persons: RawPerson[] = [];
  let columns: Array<FieldName | null> | null = null;
  for (const row of rows) {
    const fields = row.map((c) => labels.match(c, true));
    if (new Set(fields.filter(Boolean)).size >= 2 && fields.filter(Boolean).length >= row.filter((c) => c !== '').length - 1) {
      columns = fields;
      continue;
    }
    if (!columns) continue;
    const p: RawPerson = {};
    row.forEach((cell, i) => {
      const f = columns![i];
      if (f && p[f] == null) p[f] = cleanValue(f, cell);
    });
    if (hasValue(p)) persons.push(p);
  }
  return persons;
}

export function extractFromLines(rawLines: string[], rules: Rules, labels = LabelMatcher.for(rules)): RawPerson[] {
  const lines = rawLines.map(cleanLine);
  const out = new PersonCollector();
  const consumed = new Set<number>();

  for (let i = 0; i < lines.length; i++) {
    const line = lines[i]!;
    if (line.trim() === '' || HEADING.test(line)) {
      if (HEADING.test(line)) out.flush();
      continue;
    }

    // A delimited header row starts a table: read rows until the delimiter stops.
    const split = splitCells(line);
    if (split && split.cells.filter((c) => labels.match(c, true)).length >= 2) {
      const rows = [split.cells];
      let j = i + 1;
      for (; j < lines.length; j++) {
        const next = lines[j]!;
        if (next.trim() === '') {
          if (splitCells(lines[j + 1] ?? '')?.delimiter === split.delimiter) continue;
          break;
        }
        const cells = splitCells(next);
        if (!cells || cells.delimiter !== split.delimiter) break;
        rows.push(cells.cells);
      }
      const found = extractFromRows(rows, labels);
      if (found.length > 0) {
        out.flush();
        found.forEach((p, k) => out.persons.push({ ...p, at: i + 1 + k, end: i + 1 + k }));
        for (let k = i; k < j; k++) consumed.add(k);
        i = j - 1;
        continue;
      }
    }

    // An unlabelled row "Lisa Berg, Enhetschef, SE…, lisber": fields told apart by their shape.
    const shaped = shapeRow(line, rules);
    if (shaped) {
      out.flush();
      out.persons.push({ ...shaped, at: i, end: i });
      consumed.add(i);
      continue;
    }

    // Several "label: value" pairs on one line, perhaps after "Name, function." without labels.
    const pairs = inlinePairs(line, labels);
    if (pairs.length >= 2) {
      const lead = leadingNameAndFunction(pairs.prefix, rules);
      const given = new Set(pairs.map(([f]) => f));
      if (lead.name && !given.has('name')) out.set('name', lead.name, i);
      if (lead.function && !given.has('function')) out.set('function', lead.function, i);
      for (const [field, value] of pairs) out.set(field, cleanValue(field, value), i);
      consumed.add(i);
      continue;
    }

    const hit = labels.matchLine(line);
    if (!hit) continue;
    let value = hit.rest;
    if (value === '' && hit.separated) {
      // Value on the next non-empty line, unless that line is a label of its own.
      let j = i + 1;
      while (j < lines.length && lines[j]!.trim() === '' && j - i < 3) j++;
      const next = lines[j];
      if (next !== undefined && next.trim() !== '' && !labels.matchLine(next)?.separated && !labels.match(next)) {
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
    } else if (!hit.separated && !plausibleBare(hit.field, cleanValue(hit.field, value) ?? '')) {
      continue;
    }
    consumed.add(i);
    const cleaned = cleanValue(hit.field, value);
    if (cleaned !== null && isNoise(cleaned, hit.field)) continue;
    if (cleaned === null) out.touch(hit.field);
    else out.set(hit.field, cleaned, i);
  }
  out.flush();

  // Prose: paragraphs not read as labelled lines.
  const rest = lines.map((l, i) => (consumed.has(i) || labels.matchLine(l)?.separated ? '' : l));
  const prose = extractProse(rest, rules);
  if (out.persons.length === 0) return prose;
  // One person told in prose ("vår nya samordnare Nils …") and labelled below: one person.
  if (out.persons.length === 1 && prose.length === 1) {
    const [l, p] = [out.persons[0]!, prose[0]!];
    const clash = FIELDS.some((k) => p[k] != null && l[k] != null && p[k] !== l[k]);
    if (!clash) return [{ ...p, ...Object.fromEntries(Object.entries(l).filter(([, v]) => v != null)) }];
  }
  // Labelled data wins; prose adds only persons with an HSA-id not seen yet.
  const seen = new Set(out.persons.map((p) => p.hsaId?.toUpperCase()).filter(Boolean));
  return [...out.persons, ...prose.filter((p) => p.hsaId && !seen.has(p.hsaId.toUpperCase()))];
}

const HSA_CELL = /^SE\s?(?:16)?\d{10}\s?-\s?\S+$/i;

/** A row of 3-5 cells, one an HSA-id, the others a name, a known function and a username. */
function shapeRow(line: string, rules: Rules): RawPerson | null {
  const cells = line.split(/\s*[,;\t|]\s*/).map((c) => c.trim()).filter(Boolean);
  if (cells.length < 3 || cells.length > 5) return null;
  const hsaAt = cells.findIndex((c) => HSA_CELL.test(c));
  if (hsaAt < 0) return null;
  const fns = new Set(rules.functions.map((f) => f.toLowerCase()));
  const p: RawPerson = { hsaId: cleanValue('hsaId', cells[hsaAt]!) };
  for (const [i, c] of cells.entries()) {
    if (i === hsaAt) continue;
    if (p.function == null && fns.has(c.toLowerCase())) p.function = cleanValue('function', c);
    else if (p.name == null && plausibleBare('name', c)) p.name = cleanValue('name', c);
    else if (p.treservaUser == null && /^[A-Za-z0-9._\\-]{2,40}$/.test(c)) p.treservaUser = cleanValue('treservaUser', c);
    else if (p.function == null && plausibleBare('function', c)) p.function = cleanValue('function', c);
    else return null;
  }
  return p;
}

/** "Anna Svensson, sjuksköterska." before the labelled values: a name and a known function. */
function leadingNameAndFunction(prefix: string, rules: Rules): RawPerson {
  const cells = prefix.split(/\s*(?:[,.;(]|\)|\s[-–]\s)\s*/).map((c) => c.trim()).filter(Boolean);
  if (cells.length === 0 || cells.length > 2) return {};
  const fns = new Set(rules.functions.map((f) => f.toLowerCase()));
  const out: RawPerson = {};
  for (const c of cells) {
    if (fns.has(c.toLowerCase())) out.function = cleanValue('function', c);
    else if (plausibleBare('name', c)) out.name = cleanValue('name', c);
    else return {};
  }
  return out;
}

/** "Namn: Lisa Berg, Funktion: Enhetschef, HSA-id: SE…" → pairs, when two or more labels have colons. */
function inlinePairs(line: string, labels: LabelMatcher): Array<[FieldName, string]> & { prefix: string } {
  const re = /(^|[,;|\t]\s*|\s{2,}|\s)([\p{L}][\p{L}\s/-]{0,38}?)\s*(?:\([^)]*\))?\s*:\s*/gu;
  const marks: Array<{ field: FieldName; start: number; valueStart: number }> = [];
  for (let m = re.exec(line); m; m = re.exec(line)) {
    const field = labels.match(m[2]!, m[2]!.trim().split(/\s+/).length <= 4);
    if (field) marks.push({ field, start: m.index + m[1]!.length, valueStart: m.index + m[0].length });
  }
  if (marks.length < 2) return Object.assign([], { prefix: '' });
  const pairs = marks.map((mk, i): [FieldName, string] => {
    const end = i + 1 < marks.length ? marks[i + 1]!.start : line.length;
    return [mk.field, line.slice(mk.valueStart, end).replace(/[,;|\s]+$/, '')];
  });
  return Object.assign(pairs, { prefix: line.slice(0, marks[0]!.start) });
}
