import { checkHsaId, luhnValid, maskPersonnummer } from '../src/parse/hsa-id';
import { validatePerson } from '../src/parse/validate';
import { DEFAULT_RULES_DIR, loadRules } from '../src/rules/load';

const rules = loadRules(DEFAULT_RULES_DIR);

test.each([
  ['2321000016', true],
  ['5565594230', true],
  ['2120001967', true], // Örebro kommun
  ['2321000017', false],
  ['5565594231', false],
  ['232100001', false],
])('Luhn over the organisation number %s → %s', (digits, ok) => {
  expect(luhnValid(digits)).toBe(ok);
});

test.each([
  ['SE2321000016-4HK5', 'valid'],
  ['SE5565594230-B31', 'valid'],
  ['SE162321000164-0175', 'valid'],
  ['SE162321000165-0175', 'checksum'],
  ['se162321000016-abc9', 'valid'],
  [' SE2321000016-4hk5 ', 'valid'],
  ['SE2321000017-4HK5', 'checksum'],
  ['SE2321000016', 'format'],
  ['SE2321000016-', 'format'],
  ['SE2321000016-ÅÄÖ1', 'format'],
  ['SE2321000016-a@b', 'format'],
  ['2321000016-4HK5', 'format'],
  ['SE2321000016-ABCDEFGHIJKLMNOPQRS', 'tooLong'],
  ['19800101-1234', 'personnummer'],
  ['800101-1234', 'personnummer'],
  ['198001011234', 'personnummer'],
])('HSA-id %s is %s', (value, verdict) => {
  expect(checkHsaId(value)).toBe(verdict);
});

test('31 characters is the limit', () => {
  const id = 'SE162321000016-' + 'A'.repeat(16);
  expect(id).toHaveLength(31);
  expect(checkHsaId(id)).toBe('valid');
  expect(checkHsaId(id + 'B')).toBe('tooLong');
});

test('a personnummer is masked and its problem message never repeats it', () => {
  expect(maskPersonnummer('19800101-1234')).toBe('19800101-****');
  // Written without the dash (or with an en dash), masked the one way; "+" (a centenarian) is kept.
  expect(maskPersonnummer('198001011234')).toBe('19800101-****');
  expect(maskPersonnummer('800101–1234')).toBe('800101-****');
  expect(maskPersonnummer('800101+1234')).toBe('800101+****');
  const r = validatePerson({ name: 'Erik Ek', function: 'Planerare', hsaId: '19800101-1234', treservaUser: 'eriek' }, rules);
  expect(r.hsaId).toBe('19800101-****');
  expect(r.problems).toEqual([{ field: 'hsaId', code: 'invalid', message: rules.fields.hsaId.messages.personnummer }]);
});

test('all four fields are required; each problem names its field, code and a Swedish message', () => {
  const r = validatePerson({ name: '  ', function: null, hsaId: undefined, treservaUser: 'lis ber' }, rules);
  expect(r.problems.map((p) => [p.field, p.code])).toEqual([
    ['name', 'missing'],
    ['function', 'missing'],
    ['hsaId', 'missing'],
    ['treservaUser', 'invalid'],
  ]);
  expect(r.problems[3]!.message).toMatch(/mellanslag/);
});

test('values are normalised: name collapsed, HSA-id upper-cased', () => {
  const r = validatePerson({ name: ' Lisa \n Berg ', function: 'Enhetschef', hsaId: 'se2321000016-4hk5', treservaUser: 'lisber' }, rules);
  expect(r).toEqual({
    name: 'Lisa Berg',
    function: 'Enhetschef',
    hsaId: 'SE2321000016-4HK5',
    treservaUser: 'lisber',
    intent: 'grant',
    problems: [],
  });
});
