import { containsPersonnummer, hasInvisible, maskPersonnummerInText, USERNAME } from '../../src/cases/sanitize';
import { refInSubject } from '../../src/cases/refs';
import { subjectInfo } from '../../src/parse/thread';

/** Small pure helpers of the case steps and the thread stage, each with a table. */

test.each([
  ['Lisa 19800101-1234 börjar', 'Lisa 19800101-**** börjar'],
  ['pnr 800101 1234.', 'pnr 800101-****.'],
  ['200001011234', '20000101-****'],
  ['HSA SE2321000016-4HK5', 'HSA SE2321000016-4HK5'],
  ['tel 019-21 10 00', 'tel 019-21 10 00'],
])('personnummer masked in text: %p → %p', (text, masked) => {
  expect(maskPersonnummerInText(text)).toBe(masked);
  expect(containsPersonnummer(text)).toBe(masked !== text);
});

test.each([
  ['Lisa Berg', false],
  ['Lisa\u200bBerg', true],
  ['abc\u202edef', true],
  ['soft\u00adhyphen', true],
  ['tab\there', true],
  ['Åsa Öberg-Ängström', false],
])('invisible characters in %p → %p', (value, found) => {
  expect(hasInvisible(value)).toBe(found);
});

test.each([
  ['lisber01', true],
  ['lisa.berg_2-x', true],
  ['.lisa', false],
  ['lisa berg', false],
  ['åsa', false],
  ['a'.repeat(64), true],
  ['a'.repeat(65), false],
])('username %p is acceptable → %p', (value, ok) => {
  expect(USERNAME.test(value)).toBe(ok);
});

test.each([
  ['SV: VB: Ny behörighet', { base: 'Ny behörighet', reply: true, forward: false }],
  ['VB: SV: Ny behörighet', { base: 'Ny behörighet', reply: false, forward: true }],
  ['Re[2]: SITHS', { base: 'SITHS', reply: true, forward: false }],
  ['Fwd: Anmälan', { base: 'Anmälan', reply: false, forward: true }],
  ['Svarta listan', { base: 'Svarta listan', reply: false, forward: false }],
])('subject %p → %p', (subject, info) => {
  expect(subjectInfo(subject)).toEqual(info);
});

test.each([
  ['SV: Ärende LSP-2026-0042 komplett', 'LSP-2026-0042'],
  ['lsp-2026-12345', 'LSP-2026-12345'],
  ['LSP-26-0042', null],
  ['XLSP-2026-0042', null],
])('case reference in subject %p → %p', (subject, ref) => {
  expect(refInSubject(subject)).toBe(ref);
});
