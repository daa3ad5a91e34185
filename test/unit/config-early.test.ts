import { earlyVariable, parseConfig } from '../../src/config';

/** What runs before the configuration (the logger's level, `parse --rules`) reads its variable by the schema's own rule. */

const saved = { LOG_LEVEL: process.env.LOG_LEVEL, RULES_DIR: process.env.RULES_DIR };
afterEach(() => {
  for (const [k, v] of Object.entries(saved)) {
    if (v === undefined) delete process.env[k];
    else process.env[k] = v;
  }
});

test.each([
  ['LOG_LEVEL', 'debug', 'debug'],
  ['LOG_LEVEL', 'silent', 'silent'],
  ['LOG_LEVEL', 'loud', undefined],
  ['LOG_LEVEL', undefined, undefined],
  ['RULES_DIR', '/etc/lci/rules', '/etc/lci/rules'],
  ['RULES_DIR', undefined, undefined],
] as const)('%s=%p → %p', (name, value, expected) => {
  if (value === undefined) delete process.env[name];
  else process.env[name] = value;
  expect(earlyVariable(name)).toBe(expected);
});

test('a LOG_LEVEL the logger ignores is still named by the configuration', () => {
  expect(() => parseConfig({ LOG_LEVEL: 'loud' })).toThrow(/LOG_LEVEL/);
});
