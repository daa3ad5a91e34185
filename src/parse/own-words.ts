import type { Rules } from '../rules/load';
import { Lexicon } from './lexicon';
import { FIELDS, type FieldName } from './types';
import { cleanValue } from './values';
import { isBoundary } from './thread';
import type { RawPerson } from './validate';

/**
 * Our own words are never data. Lines of our reply templates and field messages (quoted, pasted
 * or echoed by an auto-responder) are dropped before extraction, and our ready-to-fill form is
 * read only where the provider typed into it: a field our problem list asked for, now filled, or a
 * block with every field filled. An untouched copy of the form yields nothing.
 */

const fold = (s: string) =>
  s
    .replace(/^(\s*>)+/, '')
    .toLocaleLowerCase('sv')
    .replace(/lsp-\d{4}-\d+/g, '#')
    .replace(/[\w.+-]+@[\w.-]+/g, '#')
    .replace(/[^\p{L}\d#]+/gu, ' ')
    .trim();

interface Compiled {
  corpus: string;
  /** Field of each problem message, by its folded text. */
  messages: Array<{ text: string; field: FieldName }>;
  formLabels: Array<{ field: FieldName; folded: string }>;
  /** "ni skrev": the line under a problem that shows the value the provider wrote. */
  youWrote: string;
}

const cache = new WeakMap<Rules, Compiled>();

function compiled(rules: Rules): Compiled {
  let c = cache.get(rules);
  if (c) return c;
  const { phrases, earlier, outOfOffice: _ooo, ...named } = rules.replies;
  // The current templates and phrases, and the texts we sent before (providers still quote them).
  const templates = [...Object.values(named).flatMap((t) => [t.subject, t.body]), ...Object.values(phrases), ...earlier];
  const messages = FIELDS.flatMap((field) => Object.values(rules.fields[field].messages).map((m) => ({ text: fold(m), field })));
  // Placeholders become "#", so a line with a filled-in reference or address still matches.
  const corpus = [
    ...templates.map((t) => t.replace(/\{\w+\}/g, ' # ')),
    ...Object.values(rules.fields).flatMap((f) => Object.values(f.messages)),
  ]
    .map((t) =>
      t
        .split(/\n\s*\n/)
        .map(fold)
        .join(' | '),
    )
    .join(' | ');
  c = {
    corpus,
    messages,
    formLabels: FIELDS.map((field) => ({ field, folded: fold(rules.fields[field].label) })),
    youWrote: fold(phrases.youWrote),
  };
  cache.set(rules, c);
  return c;
}

/** A line that is one of our sentences (or a run of words from one), wherever it stands. */
export function isOwnLine(line: string, rules: Rules): boolean {
  const f = fold(line);
  // A run of at least five words: a label such as "Användarnamn i Treserva/TES" is not a sentence of ours.
  if (f.replace(/#/g, '').trim().length < 24 || f.split(' ').length < 5) return false;
  return compiled(rules).corpus.includes(f);
}

/** "Namn på behörig: Lisa Berg" with our exact label (quote marks allowed) → its field and value. */
function formLine(line: string, c: Compiled): { field: FieldName; value: string } | null {
  const m = /^(?:\s*>)*\s*([^:]{2,60}):[ \t]*(.*)$/.exec(line);
  if (!m) return null;
  const label = fold(m[1]!);
  const hit = c.formLabels.find((l) => l.folded === label);
  return hit ? { field: hit.field, value: m[2]!.trim() } : null;
}

const blank = (l: string) => l.replace(/^(\s*>)+/, '').trim() === '';

/** A line of one of our problem messages: a list item, or a run of five words or more from one. */
function isMessageLine(line: string, c: Compiled): { field: FieldName | null } | undefined {
  const f = fold(line).replace(/^#\s*/, '');
  const item = /^(?:\s*>)*\s*[-•*–]\s/.test(line);
  // A list item may be our message's first sentence alone ("- Funktion saknas.").
  if (item && f.split(' ').length >= 2) {
    const head = c.messages.find((m) => m.text.startsWith(`${f} `) || m.text === f);
    if (head) return head;
  }
  if (f.length < 16 || (!item && f.split(' ').length < 5)) return undefined;
  return c.messages.find((m) => m.text.includes(f));
}

export interface OwnFormResult {
  /** Persons typed into our form. */
  persons: RawPerson[];
  /** The lines left once our own words and our form are taken out. */
  rest: string[];
  /** The mail holds words of ours: it answers (or carries) one of our replies. */
  ours: boolean;
  /** The persons our quoted mail names (its form and problem list), as we wrote them. */
  names: string[];
}

/**
 * Takes our sentences and our form out of a mail's lines; reads the form blocks the provider
 * typed into. `asked` (from our quoted problem list, "Lisa Berg, Enhetschef:" then messages)
 * tells which fields were empty when we sent the form.
 */
export function takeOwnWords(lines: string[], rules: Rules): OwnFormResult {
  const c = compiled(rules);
  // Without a sentence of ours in the mail, a block with our labels is the provider's own (the routine's labels are ours too).
  const ours = lines.some((l) => isOwnLine(l, rules));
  if (!ours) return { persons: [], rest: lines, ours, names: [] };
  const asked = new Map<string, Set<FieldName>>();
  let who: string | null = null;
  const rest: string[] = [];
  const persons: RawPerson[] = [];
  const names = new Set<string>();
  const unquoted = lines.map((l) => l.replace(/^(\s*>)+ ?/, ''));
  // Inside a message of ours: from one of our sentences to the next quoted message's header.
  let inOurs = false;
  for (let i = 0; i < lines.length; i++) {
    const line = lines[i]!;
    if (isBoundary(unquoted, i)) inOurs = false;
    // A form block: our labels, in our order, on consecutive lines.
    const first = formLine(line, c);
    if (inOurs && first && first.field === FIELDS[0]) {
      const block: Array<{ field: FieldName; value: string }> = [first];
      let j = i + 1;
      while (j < lines.length && block.length < FIELDS.length) {
        // HTML mail puts a blank line after every paragraph: at most one between form lines.
        const k = blank(lines[j]!) && j + 1 < lines.length ? j + 1 : j;
        // A value typed on the line under an empty label ("HSA-id:" then "SE…") belongs to it.
        const last = block[block.length - 1]!;
        if (
          last.value === '' &&
          !blank(lines[k]!) &&
          !formLine(lines[k]!, c) &&
          !isOwnLine(lines[k]!, rules) &&
          lines[k]!.trim().length <= 80
        ) {
          last.value = lines[k]!.replace(/^(\s*>)+\s*/, '').trim();
          j = k + 1;
          continue;
        }
        const next = formLine(lines[k]!, c);
        if (!next || next.field !== FIELDS[block.length]) break;
        block.push(next);
        j = k + 1;
      }
      const tail = block[block.length - 1]!;
      if (
        block.length === FIELDS.length &&
        tail.value === '' &&
        j < lines.length &&
        !blank(lines[j]!) &&
        !isOwnLine(lines[j]!, rules) &&
        lines[j]!.trim().length <= 80 &&
        !formLine(lines[j]!, c)
      ) {
        tail.value = lines[j]!.replace(/^(\s*>)+\s*/, '').trim();
        j++;
      }
      if (block.length === FIELDS.length) {
        const values = Object.fromEntries(block.map((b) => [b.field, b.value])) as Record<FieldName, string>;
        if (values.name) names.add(values.name);
        const wanted = asked.get(fold(values.name)) ?? asked.get('');
        const typed = wanted ? [...wanted].some((f) => values[f] !== '') : block.every((b) => b.value !== '');
        if (typed) {
          const p: RawPerson = { at: i };
          // What was typed obeys the value rules of any other label: a placeholder or a remark is missing.
          for (const b of block)
            p[b.field] = b.value === '' || Lexicon.for(rules).isPlaceholder(b.value) ? null : cleanValue(b.field, b.value);
          persons.push(p);
        }
        for (let k = i; k < j; k++) rest.push('');
        i = j - 1;
        continue;
      }
    }
    // Under a problem of ours, the value the provider wrote ("Ni skrev: SE123"): shown back, not new data.
    if (/^(?:\s*>)*\s*\S/.test(line) && fold(line).startsWith(`${c.youWrote} `)) {
      rest.push('');
      continue;
    }
    // Our problem list: "Lisa Berg, Enhetschef:" followed by "- <message>" lines.
    const message =
      isMessageLine(line, c) ?? (inOurs && who !== null && /^(?:\s*>)*\s*[-•*–]\s+\S/.test(line) ? { field: null } : undefined);
    if (message) {
      if (who !== null && message.field) {
        const set = asked.get(who) ?? new Set<FieldName>();
        set.add(message.field);
        asked.set(who, set);
      }
      rest.push('');
      continue;
    }
    const after = blank(lines[i + 1] ?? '') ? lines[i + 2] : lines[i + 1];
    // Inside a message of ours, "Name, Function:" above "- …" items is our problem list whatever its wording.
    const item = (l: string | undefined) => l !== undefined && /^(?:\s*>)*\s*[-•*–]\s+\S/.test(l);
    if (/^(\s*>)*\s*[^:]{2,80}:\s*$/.test(line) && after !== undefined && (isMessageLine(after, c) || (inOurs && item(after)))) {
      // The person heading of our problem list: the name before the first comma.
      const heading = line
        .replace(/^(\s*>)*\s*/, '')
        .split(',')[0]!
        .replace(/:\s*$/, '')
        .trim();
      if (!/^person \d+/i.test(heading)) names.add(heading);
      who = fold(
        line
          .replace(/^(\s*>)*\s*/, '')
          .split(',')[0]!
          .replace(/:\s*$/, ''),
      );
      if (/^person \d+/.test(who)) who = '';
      rest.push('');
      continue;
    }
    const mine = isOwnLine(line, rules);
    if (mine) inOurs = true;
    rest.push(mine ? '' : line);
  }
  return { persons, rest, ours, names: [...names] };
}
