/**
 * The reader's stages, each with a small table: labels, the lexicon (roles, placeholders, names,
 * intent phrases), structure (headings, rows, legends, transposed tables), prose, our own words and
 * intent per person. No servers.
 */
import { extractFromLines } from '../src/parse/extract';
import { assignIntent } from '../src/parse/intent';
import { LabelMatcher } from '../src/parse/labels';
import { Lexicon } from '../src/parse/lexicon';
import { takeOwnWords } from '../src/parse/own-words';
import { extractProse } from '../src/parse/prose';
import { DEFAULT_RULES_DIR, loadRules } from '../src/rules/load';

const rules = loadRules(DEFAULT_RULES_DIR);
const labels = LabelMatcher.for(rules);
const lexicon = Lexicon.for(rules);
const values = (ps: Array<Record<string, unknown>>) =>
  ps.map(({ name, function: fn, hsaId, treservaUser }) => ({ name, function: fn, hsaId, treservaUser }));

describe('labels: listed, with Swedish endings, by stem (after a colon), never a digit for a letter', () => {
  test.each([
    ['Namn på behörig', false, 'name'],
    ['Användarnamnet', false, 'treservaUser'],
    ['HSA-ID:t', false, 'hsaId'],
    ['Befatning', false, 'function'],
    ['Treserva-konto', true, 'treservaUser'],
    ['Personens fullständiga namn', true, 'name'],
    ['Role / title', true, 'function'],
    ['anv.namn', true, 'treservaUser'],
    ['Enhetens namn', true, null],
    ['Person 1', true, null],
    ['Telefon', true, null],
  ] as const)('%s (loose %s) → %s', (text, loose, field) => {
    expect(labels.match(text, loose)).toBe(field);
  });
});

describe('lexicon', () => {
  test.each([
    ['usk', true],
    ['Undersköterska', true],
    ['undersjöterska', true],
    ['nattsjuksköterska', true],
    ['planerar', false],
    ['personal', false],
    ['Lisa Berg', false],
  ])('role %s → %s', (v, yes) => expect(lexicon.isRole(v)).toBe(yes));

  test.each([
    ['vet ej', true],
    ['Kommer senare (kortet är inte hämtat)', true],
    ['–', true],
    ['samma som tidigare', true],
    ['lisber', false],
    ['SE2321000016-4HK5', false],
  ])('placeholder %s → %s', (v, yes) => expect(lexicon.isPlaceholder(v)).toBe(yes));

  test.each([
    ['Anna', true],
    ['anna', true],
    ['hans', false],
    ['Hans', true],
    ['tre', false],
  ])('given name %s → %s', (w, yes) => expect(lexicon.isGivenName(w)).toBe(yes));

  test.each([
    ['Lisa Berg har slutat hos oss', ['revoke']],
    ['ta bort hennes behörighet', ['revoke']],
    ['Please remove the access for Kwame', ['revoke']],
    ['Nya användare:', ['grant']],
    ['Lisa har fått sitt SITHS-kort', ['grant']],
    ['Hej, här kommer uppgifterna', []],
  ])('phrases in %s → %j', (text, kinds) => expect(lexicon.cues(text).map((c) => c.kind)).toEqual(kinds));
});

describe('structure', () => {
  test.each([
    [
      'a heading line names the person of the labelled block below',
      ['**Lisa Berg**', '· Funktion: Enhetschef', '· HSA-id: SE2321000016-4HK5', '· Användarnamn: lisber'],
      [{ name: 'Lisa Berg', function: 'Enhetschef', hsaId: 'SE2321000016-4HK5', treservaUser: 'lisber' }],
    ],
    [
      'rows with en dashes and a legend after the list',
      [
        'Lisa Berg – usk – SE2321000016-4HK5 – lisber',
        'Kalle Ek – ssk – SE2321000016-9KE2 – kalek',
        '(namn – funktion – HSA-id – användarnamn)',
      ],
      [
        { name: 'Lisa Berg', function: 'Usk', hsaId: 'SE2321000016-4HK5', treservaUser: 'lisber' },
        { name: 'Kalle Ek', function: 'Ssk', hsaId: 'SE2321000016-9KE2', treservaUser: 'kalek' },
      ],
    ],
    [
      'a table with one column per person',
      [
        '\tPerson 1\tPerson 2',
        'Namn\tLisa Berg\tKalle Ek',
        'Funktion\tusk\tssk',
        'HSA-id\tSE2321000016-4HK5\tSE2321000016-9KE2',
        'TES\tlisber\tkalek',
      ],
      [
        { name: 'Lisa Berg', function: 'Usk', hsaId: 'SE2321000016-4HK5', treservaUser: 'lisber' },
        { name: 'Kalle Ek', function: 'Ssk', hsaId: 'SE2321000016-9KE2', treservaUser: 'kalek' },
      ],
    ],
    [
      'a value shared by all, and an HSA-id with spaces around its dash',
      ['Funktion för samtliga: Undersköterska', 'Namn: Lisa Berg', 'HSA-id: SE2321000016 - 4HK5', 'TES: lisber'],
      [{ name: 'Lisa Berg', function: 'Undersköterska', hsaId: 'SE2321000016-4HK5', treservaUser: 'lisber' }],
    ],
    [
      'a remark after the value is not the value; an explanation is no username',
      [
        'Name: Daniel O’Connor',
        'Role: Nurse',
        'HSA-ID: SE2321000016-DOC7 (from the letter)',
        'Username: I have not received it yet – Sanna sends it',
      ],
      [{ name: 'Daniel O’Connor', function: 'Nurse', hsaId: 'SE2321000016-DOC7', treservaUser: null }],
    ],
  ])('%s', (_label, lines, want) => {
    expect(values(extractFromLines(lines, rules, labels))).toEqual(want);
  });
});

describe('prose', () => {
  test.each([
    [
      'ny usk anna svensson hsa se5565594230-b31 tes login annsve',
      [{ name: 'anna svensson', function: 'Usk', hsaId: 'se5565594230-b31', treservaUser: 'annsve' }],
    ],
    [
      'Fatima Ali Hassan (undersköterska, HSA-id SE5568719032-FA3, Treserva fatali) och Niklas Berglöf som är enhetschef – hans HSA-id är SE5568719032-NB8 och användarnamnet nikber.',
      [
        { name: 'Fatima Ali Hassan', function: 'Undersköterska', hsaId: 'SE5568719032-FA3', treservaUser: 'fatali' },
        { name: 'Niklas Berglöf', function: 'Enhetschef', hsaId: 'SE5568719032-NB8', treservaUser: 'nikber' },
      ],
    ],
    ['HSA-id har formen SE2321000016-4HK5 och står på följesedeln.', []],
    ['Vi har inga användarnamn under tiden.', []],
  ])('%s', (text, want) => {
    expect(values(extractProse([text], rules))).toEqual(want);
  });
});

describe('our own words', () => {
  const ours = [
    'Svara på det här mejlet och fyll i uppgifterna nedan (skriv efter kolonet). Behåll',
    'Lisa Berg, Enhetschef:',
    '  - HSA-id saknas. Det står på följesedeln som kom med SITHS-kortet och har formen SE2321000016-4HK5.',
    '',
  ];
  test('an untouched form yields nobody; our sentences are taken out', () => {
    const r = takeOwnWords(
      [...ours, 'Namn på behörig: Lisa Berg', 'Funktion: Enhetschef', 'HSA-id:', 'Användarnamn i Treserva/TES: lisber'],
      rules,
    );
    expect(r.persons).toEqual([]);
    expect(r.rest.filter((l) => l.trim() !== '')).toEqual([]);
  });
  test('a field our problem list asked for, typed in, makes the block a person', () => {
    const r = takeOwnWords(
      [...ours, 'Namn på behörig: Lisa Berg', 'Funktion: Enhetschef', 'HSA-id: SE2321000016-9XY1', 'Användarnamn i Treserva/TES: lisber'],
      rules,
    );
    expect(values(r.persons)).toEqual([{ name: 'Lisa Berg', function: 'Enhetschef', hsaId: 'SE2321000016-9XY1', treservaUser: 'lisber' }]);
  });
  test('without a sentence of ours, the routine labels are the provider own', () => {
    expect(
      takeOwnWords(['Namn på behörig: Lisa Berg', 'Funktion: Enhetschef', 'HSA-id:', 'Användarnamn i Treserva/TES: lisber'], rules).persons,
    ).toEqual([]);
  });
});

describe('intent per person', () => {
  test.each([
    ['a phrase on the person own lines', ['Lisa Berg, SE2321000016-4HK5 – har slutat', 'Kalle Ek, SE2321000016-9KE2'], ['revoke', 'grant']],
    [
      'a heading governs the list below it',
      ['Har slutat:', 'Lisa Berg, SE2321000016-4HK5', 'Kalle Ek, SE2321000016-9KE2'],
      ['revoke', 'revoke'],
    ],
    [
      'a later heading of the other kind takes over',
      ['Slutat:', 'Lisa Berg, SE2321000016-4HK5', 'Nya användare:', 'Kalle Ek, SE2321000016-9KE2'],
      ['revoke', 'grant'],
    ],
    ['a heading with both kinds governs nobody', ['Två nya och en som har slutat:', 'Lisa Berg, SE2321000016-4HK5'], ['grant']],
  ])('%s', (_label, lines, want) => {
    const persons = extractFromLines(lines, rules, labels);
    assignIntent(persons, lines, rules, null);
    expect(persons.map((p) => p.intent)).toEqual(want);
  });
});
