import { parseConfig } from '../src/config';
import { mailOptions, type OutboxRow } from '../src/replies/transport';

/** RFC 3834: template replies say they are automatic; a reply an officer wrote does not. */
const row = (kind: OutboxRow['kind']) =>
  ({
    kind,
    toAddr: 'anna@omsorgshuset.se',
    subject: 'S',
    bodyText: 'Hej',
    messageId: '<lci-1@orebro.se>',
    createdAt: new Date(),
    inReplyTo: null,
    references: [],
  }) as unknown as OutboxRow;

test.each([
  ['missing_info', 'auto-replied'],
  ['receipt', 'auto-replied'],
  ['manual', undefined],
] as const)('%s: Auto-Submitted %s', (kind, want) => {
  const headers = mailOptions(row(kind), 'LSP-2026-0001', parseConfig({ DATA_DIR: '/tmp/lci-unused' })).headers as Record<string, string>;
  expect(headers['Auto-Submitted']).toBe(want);
  expect(headers['X-Lifecare-Intake']).toBe(`LSP-2026-0001; ${kind}`);
});
