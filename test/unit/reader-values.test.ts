import { Lexicon } from '../../src/parse/lexicon';
import { LabelMatcher } from '../../src/parse/labels';
import { builtFromName } from '../../src/parse/values';
import { DEFAULT_RULES_DIR, loadRules } from '../../src/rules/load';

/** Small tables for the reader's value rules: each row a case the reader must tell apart. */

const rules = loadRules(DEFAULT_RULES_DIR);

test.each([
  ['lisber', 'Lisa Berg', true],
  ['berlis', 'Lisa Berg', true],
  ['lejhod', 'Lejla Hodzic', true],
  ['jamoso', 'Javier Morales Soto', true], // three words, each a start
  ['hh.jusan', 'Julia Sandberg', true], // a firm's prefix with a dot
  ['kvhamak', 'Hanna Mäkinen', true], // a firm's prefix glued on
  ['jwvdberg', 'Jan-Willem van der Berg', true],
  ['ahmkar2', 'Ahmed Karimi', true],
  ['hemsida', 'Anna Lind', false],
  ['svenne', 'Lisa Berg', false],
  ['kontakt', 'Kim Nordin', false],
])('builtFromName(%s, %s) is %s', (user, name, want) => {
  expect(builtFromName(user, name)).toBe(want);
});

test.each([
  ['kommer senare', true],
  ['kommer när hon gått introduktionen', true], // a placeholder word opening an explanation
  ['vet ej', true],
  ['?', true],
  ['kommer', true],
  ['kommunal', false],
  ['lisber', false],
])('isPlaceholder(%s) is %s', (value, want) => {
  expect(Lexicon.for(rules).isPlaceholder(value)).toBe(want);
});

test.each([
  ['AT', true], // Arbetsterapeut, in capitals
  ['at', false], // the English word
  ['Care assistant', true],
  ['usk', true],
])('isRole(%s) is %s', (value, want) => {
  expect(Lexicon.for(rules).isRole(value)).toBe(want);
});

test.each([
  ['Förnamn: Therese', 'name', 'given'],
  ['Efternamn: Olofsson', 'name', 'family'],
  ['Namn: Therese Olofsson', 'name', undefined],
  ['Systemanvändare (Treserva): thool01', 'treservaUser', undefined],
  ['Kortinnehavare: Johan Lundberg', 'name', undefined],
])('the line %s is labelled %s (part %s)', (line, field, part) => {
  const hit = LabelMatcher.for(rules).matchLine(line);
  expect(hit?.field).toBe(field);
  expect(hit?.part).toBe(part);
});

test.each([['Enhetens HSA-id: SE5566019427-E0012'], ['HSA-ID SE5594017369-TTH9, Treserva: thitra']])(
  'the line %s is no single label',
  (line) => {
    const hit = LabelMatcher.for(rules).matchLine(line);
    expect(hit === null || hit.rest.startsWith('SE')).toBe(true);
  },
);
