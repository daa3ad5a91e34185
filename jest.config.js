/** Jest runs the TypeScript sources through SWC; each test file gets its own database. */
// ESM-only packages (openid-client and its dependencies) are compiled to CommonJS for jest too.
const ESM_PACKAGES = ['openid-client', 'oauth4webapi', 'jose'];
module.exports = {
  testEnvironment: 'node',
  roots: ['<rootDir>/test'],
  testMatch: ['**/*.test.ts'],
  transform: {
    // pdf.js is an ES module loaded with import(): this one file keeps it (jest runs with --experimental-vm-modules).
    'src/parse/pdf\\.ts$': ['@swc/jest', { jsc: { target: 'es2022' }, module: { type: 'commonjs', ignoreDynamic: true } }],
    '^.+\\.ts$': ['@swc/jest', { jsc: { target: 'es2022' }, module: { type: 'commonjs' } }],
    [`node_modules/(${ESM_PACKAGES.join('|')})/.+\\.js$`]: ['@swc/jest', { jsc: { target: 'es2022' }, module: { type: 'commonjs' } }],
  },
  // The sources' dynamic imports name the compiled file (`import('./x.js')`, as Node needs); jest reads x.ts.
  moduleNameMapper: { '^(\\.{1,2}/.*)\\.js$': '$1' },
  transformIgnorePatterns: [`/node_modules/(?!(${ESM_PACKAGES.join('|')})/)`],
  testTimeout: 60000,
  maxWorkers: 2,
};
