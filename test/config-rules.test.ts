import { spawnSync } from 'node:child_process';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import YAML from 'yaml';
import { parseConfig } from '../src/config';
import { AppError } from '../src/errors';
import { DEFAULT_RULES_DIR, loadRules } from '../src/rules/load';

describe('configuration', () => {
  test('defaults give the embedded mode', () => {
    const c = parseConfig({});
    expect(c.databaseUrl).toBeUndefined();
    expect(c.imap).toBeUndefined();
    expect(c.smtp).toBeUndefined();
    expect(c.pgliteDir).toBe(path.resolve('data/pglite'));
    expect(c.http).toEqual({ enabled: true, host: '127.0.0.1', port: 8080, secureCookie: false });
    expect(Object.isFrozen(c)).toBe(true);
  });

  test('booleans accept only "true" and "false"; each bad variable is named', () => {
    let err: unknown;
    try {
      parseConfig({ IMAP_SECURE: 'yes', IMAP_PORT: 'abc', MAIL_FROM: 'not-an-address', POLL_CRON: 'every minute' });
    } catch (e) {
      err = e;
    }
    expect(err).toBeInstanceOf(AppError);
    expect((err as AppError).code).toBe('CONFIG_INVALID');
    const msg = (err as AppError).message;
    for (const v of ['IMAP_SECURE', 'IMAP_PORT', 'MAIL_FROM', 'POLL_CRON']) expect(msg).toContain(v);
  });

  test('IMAP needs a user and a password (or OAuth2)', () => {
    expect(() => parseConfig({ IMAP_HOST: 'imap.example.se' })).toThrow(/IMAP_USER: required when IMAP_HOST is set/);
    expect(() => parseConfig({ IMAP_HOST: 'imap.example.se', IMAP_USER: 'u' })).toThrow(/IMAP_PASSWORD/);
    expect(
      parseConfig({ IMAP_HOST: 'h', IMAP_USER: 'u', OAUTH_TENANT_ID: 't', OAUTH_CLIENT_ID: 'c', OAUTH_CLIENT_SECRET: 's' }).oauth,
    ).toEqual({ tenantId: 't', clientId: 'c', clientSecret: 's' });
  });

  test('"false" is false', () => {
    const c = parseConfig({ IMAP_HOST: 'h', IMAP_USER: 'u', IMAP_PASSWORD: 'p', IMAP_SECURE: 'false', REPLY_RECEIPT: 'false' });
    expect(c.imap?.secure).toBe(false);
    expect(c.replies.receipt).toBe(false);
  });

  test('the CLI exits non-zero and names the bad variable', () => {
    const root = path.resolve(__dirname, '..');
    const r = spawnSync(path.join(root, 'node_modules/.bin/tsx'), ['src/cli.ts', 'check-config'], {
      cwd: root,
      env: { ...process.env, SMTP_SECURE: 'ja' },
      encoding: 'utf8',
    });
    expect(r.status).toBe(78);
    expect(r.stderr).toContain('SMTP_SECURE');
  });
});

describe('rules', () => {
  function copyRules(): string {
    const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'lci-rules-'));
    fs.cpSync(DEFAULT_RULES_DIR, dir, { recursive: true });
    return dir;
  }

  test('the shipped rules load', () => {
    const r = loadRules(DEFAULT_RULES_DIR);
    expect(r.fields.hsaId.labels).toContain('HSA-id');
    expect(r.replies.missingInfo.body).toContain('{form}');
  });

  test('a bad rule names the file and the field', () => {
    const dir = copyRules();
    const file = path.join(dir, 'fields.yaml');
    const doc = YAML.parse(fs.readFileSync(file, 'utf8')) as { fields: { name: { labels: string[] } } };
    doc.fields.name.labels = [];
    fs.writeFileSync(file, YAML.stringify(doc));
    expect(() => loadRules(dir)).toThrow(/fields\.yaml: fields\.name\.labels: needs at least one label/);
  });

  test('a reply template without the case reference is refused', () => {
    const dir = copyRules();
    const file = path.join(dir, 'replies.yaml');
    fs.writeFileSync(
      file,
      fs.readFileSync(file, 'utf8').replace("subject: 'Komplettering behövs [{ref}] {subject}'", "subject: 'Komplettering'"),
    );
    expect(() => loadRules(dir)).toThrow(/replies\.yaml: missingInfo\.subject: must contain \{ref\}/);
  });

  test('broken YAML and a bad pattern are named', () => {
    const dir = copyRules();
    fs.writeFileSync(path.join(dir, 'senders.yaml'), 'providers: [\n');
    expect(() => loadRules(dir)).toThrow(/senders\.yaml: not valid YAML/);
    fs.writeFileSync(path.join(dir, 'senders.yaml'), "automated:\n  subjects: ['(unclosed']\n");
    expect(() => loadRules(dir)).toThrow(/senders\.yaml: automated\.subjects\.0: is not a valid regular expression/);
  });
});
