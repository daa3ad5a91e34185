/**
 * `npm run test:unit`: the fast tier. Pure logic only: no PostgreSQL, Dovecot, Chromium or SMTP
 * server, no root; the whole tier runs in well under 30 s. `npm test` runs these too (jest.config.js).
 * A file belongs here when nothing in it needs a server; test/unit/ holds the small table specs.
 */
const base = require('./jest.config.js');

/** Existing test files that need no server. */
const UNIT_FILES = ['config-rules', 'loop', 'oauth', 'parse-attachments', 'parse-stages', 'validate'];

module.exports = {
  ...base,
  testMatch: ['<rootDir>/test/unit/**/*.test.ts', ...UNIT_FILES.map((f) => `<rootDir>/test/${f}.test.ts`)],
  testTimeout: 20000,
};
