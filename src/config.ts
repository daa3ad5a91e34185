import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { parseEnv } from 'node:util';
import { validate as validateCron } from 'node-cron';
import { z } from 'zod';
import { AppError } from './errors';

/**
 * All configuration, parsed once at start-up from the environment (and an optional `.env`).
 * Every variable is documented in `.env.example` and the README's configuration table.
 */

const bool = (def: 'true' | 'false') =>
  z
    .enum(['true', 'false'], { message: 'must be "true" or "false"' })
    .default(def)
    .transform((v) => v === 'true');

const int = (def: number, min = 0, max = Number.MAX_SAFE_INTEGER) => z.coerce.number().int().min(min).max(max).default(def);

const optionalString = z
  .string()
  .optional()
  .transform((v) => (v === undefined || v.trim() === '' ? undefined : v.trim()));

const email = z
  .string()
  .trim()
  .toLowerCase()
  .pipe(z.email({ message: 'must be an e-mail address' }));

export const configSchema = z
  .object({
    DATABASE_URL: optionalString,
    DATA_DIR: z.string().default('./data'),
    RULES_DIR: z.string().default('./rules'),
    LOG_LEVEL: z.enum(['fatal', 'error', 'warn', 'info', 'debug', 'trace', 'silent']).default('info'),

    IMAP_HOST: optionalString,
    IMAP_PORT: int(993, 1, 65535),
    IMAP_SECURE: bool('true'),
    IMAP_USER: optionalString,
    IMAP_PASSWORD: optionalString,
    IMAP_MAILBOX: z.string().default('INBOX'),
    IMAP_PROCESSED_FOLDER: z.string().default('Behandlat'),
    IMAP_REVIEW_FOLDER: z.string().default('Granskas'),
    IMAP_IGNORED_FOLDER: z.string().default('Automatiskt'),
    IMAP_IDLE: bool('true'),

    OAUTH_TENANT_ID: optionalString,
    OAUTH_CLIENT_ID: optionalString,
    OAUTH_CLIENT_SECRET: optionalString,
    OAUTH_AUTHORITY: z
      .url({ message: 'must be a URL such as https://login.microsoftonline.com' })
      .default('https://login.microsoftonline.com'),
    OAUTH_SECRET_EXPIRES: optionalString.pipe(z.iso.date({ message: 'must be a date, YYYY-MM-DD' }).optional()),

    SMTP_HOST: optionalString,
    SMTP_PORT: int(587, 1, 65535),
    SMTP_SECURE: bool('false'),
    SMTP_USER: optionalString,
    SMTP_PASSWORD: optionalString,
    SMTP_CONNECTIONS: int(3, 1, 10),
    MAIL_FROM: email.default('vardochstod@orebro.se'),
    MAIL_FROM_NAME: z.string().default('Örebro kommun, Vård och stöd IT'),

    POLL_CRON: z
      .string()
      .default('* * * * *')
      .refine((v) => validateCron(v), { message: 'must be a cron expression such as "* * * * *"' }),
    MAIL_MAX_BYTES: int(10 * 1024 * 1024, 1024),
    FOLLOWUP_WINDOW_DAYS: int(30, 0, 3650),
    MAIL_TRUSTED_AUTHSERV_ID: optionalString,
    MAIL_AUTH_TIMEOUT_MS: int(10_000, 100, 120_000),
    REPLY_UNKNOWN_SENDERS: bool('true'),
    REPLY_PERSONAL_DATA: z.enum(['verified', 'all'], { message: 'must be "verified" or "all"' }).default('verified'),
    REPLY_MAX_BYTES: int(64 * 1024, 1024, 10 * 1024 * 1024),
    MAX_PERSONS_PER_MAIL: int(50, 1, 100_000),
    MAX_PERSONS_PER_CASE: int(50, 1, 100_000),
    TASK_FOUR_EYES: bool('false'),
    REPLY_RECEIPT: bool('true'),
    REPLY_DONE_CONFIRMATION: bool('true'),
    REPLY_MAX_PER_CASE_PER_DAY: int(3, 1),
    REPLY_MAX_PER_RECIPIENT_PER_HOUR: int(5, 1),
    REPLY_DONE_BATCH_MINUTES: int(15, 0, 1440),
    REPLY_CONTACT: z
      .string()
      .default('Har ni frågor? Svara på det här mejlet, så hör en handläggare på IT-avdelningen av sig.')
      .transform((v) => v.trim()),
    REMINDER_AFTER_DAYS: int(5, 1, 60),
    REMINDER_MAX: int(2, 0, 10),
    REMINDER_CRON: z
      .string()
      .default('0 9 * * 1-5')
      .refine((v) => validateCron(v), { message: 'must be a cron expression such as "0 9 * * 1-5"' }),
    SEND_MAX_ATTEMPTS: int(8, 1, 100),
    SEND_CLAIM_STALE_SECONDS: int(120, 5, 86_400),
    PARSE_TIMEOUT_MS: int(10_000, 100, 600_000),
    PARSE_MEMORY_MB: int(256, 32, 8192),
    PARSE_THREADS: int(0, 0, 64),
    INTAKE_BATCH: int(50, 1, 500),
    LEASE_SECONDS: int(30, 2, 3600),
    SHUTDOWN_TIMEOUT_MS: int(8_000, 100, 600_000),
    RETENTION_DAYS: int(365, 0, 36500),
    RETENTION_CRON: z
      .string()
      .default('15 3 * * *')
      .refine((v) => validateCron(v), { message: 'must be a cron expression such as "15 3 * * *"' }),

    HTTP_ENABLED: bool('true'),
    HTTP_HOST: z.string().default('127.0.0.1'),
    HTTP_PORT: int(8080, 0, 65535),
    SESSION_SECURE_COOKIE: optionalString.pipe(z.enum(['true', 'false'], { message: 'must be "true" or "false"' }).optional()),
    HTTP_TRUST_PROXY: z
      .string()
      .default('false')
      .refine((v) => v === 'true' || v === 'false' || v.split(',').every((a) => /^[0-9a-fA-F.:]+(\/\d{1,3})?$/.test(a.trim())), {
        message: 'must be "false", "true" or a comma-separated list of proxy addresses (CIDR allowed)',
      }),
    HEALTH_MAX_POLL_AGE_MINUTES: int(15, 1, 10_080),
    METRICS_TOKEN: optionalString,

    OIDC_ISSUER: optionalString.pipe(
      z.url({ message: 'must be the issuer URL, e.g. https://login.microsoftonline.com/<tenant>/v2.0' }).optional(),
    ),
    OIDC_CLIENT_ID: optionalString,
    OIDC_CLIENT_SECRET: optionalString,
    OIDC_REDIRECT_URL: optionalString.pipe(z.url({ message: 'must be the full URL of /auth/callback' }).optional()),
    OIDC_ADMIN_GROUPS: optionalString,
    OIDC_HANDLAGGARE_GROUPS: optionalString,
    OIDC_BUTTON_LABEL: z.string().default('Logga in med Microsoft'),
  })
  .superRefine((c, ctx) => {
    if (c.IMAP_HOST && !c.IMAP_USER) {
      ctx.addIssue({ code: 'custom', path: ['IMAP_USER'], message: 'required when IMAP_HOST is set' });
    }
    const oauth = [c.OAUTH_TENANT_ID, c.OAUTH_CLIENT_ID, c.OAUTH_CLIENT_SECRET].filter(Boolean).length;
    if (oauth > 0 && oauth < 3) {
      ctx.addIssue({
        code: 'custom',
        path: ['OAUTH_CLIENT_SECRET'],
        message: 'OAUTH_TENANT_ID, OAUTH_CLIENT_ID and OAUTH_CLIENT_SECRET go together',
      });
    }
    const oidc = [c.OIDC_ISSUER, c.OIDC_CLIENT_ID, c.OIDC_CLIENT_SECRET, c.OIDC_REDIRECT_URL].filter(Boolean).length;
    if (oidc > 0 && oidc < 4) {
      ctx.addIssue({
        code: 'custom',
        path: ['OIDC_ISSUER'],
        message: 'OIDC_ISSUER, OIDC_CLIENT_ID, OIDC_CLIENT_SECRET and OIDC_REDIRECT_URL go together',
      });
    }
    if (c.IMAP_HOST && !c.IMAP_PASSWORD && oauth === 0) {
      ctx.addIssue({ code: 'custom', path: ['IMAP_PASSWORD'], message: 'required when IMAP_HOST is set (or set the OAUTH_* variables)' });
    }
  });

export type RawConfig = z.output<typeof configSchema>;

/** Readonly all the way down (arrays and dates as they are: fastify wants a mutable trustProxy list). */
type DeepReadonly<T> = T extends unknown[] | Date ? T : T extends object ? { readonly [K in keyof T]: DeepReadonly<T[K]> } : T;

/** The configuration the program uses: derived from the schema's output by `toConfig`, frozen. */
export type Config = DeepReadonly<ReturnType<typeof toConfig>>;

const LOOPBACK = /^(127\.\d+\.\d+\.\d+|localhost|::1|\[::1\])$/i;
const list = (v: string | undefined): string[] =>
  (v ?? '')
    .split(',')
    .map((x) => x.trim())
    .filter(Boolean);

/** Reads a `.env` file (node's own parser); values already in the environment win. */
export function readDotEnv(file: string): Record<string, string | undefined> {
  return fs.existsSync(file) ? parseEnv(fs.readFileSync(file, 'utf8')) : {};
}

export function parseConfig(env: Record<string, string | undefined>): Config {
  const result = configSchema.safeParse(env);
  if (!result.success) {
    const lines = result.error.issues.map((i) => `  ${i.path.join('.') || '(environment)'}: ${i.message}`);
    throw new AppError('CONFIG_INVALID', `Invalid configuration:\n${lines.join('\n')}`, {
      variables: result.error.issues.map((i) => i.path.join('.')),
    });
  }
  return Object.freeze(toConfig(result.data));
}

function toConfig(c: RawConfig) {
  const dataDir = path.resolve(c.DATA_DIR);
  return {
    databaseUrl: c.DATABASE_URL,
    dataDir,
    pgliteDir: path.join(dataDir, 'pglite'),
    maildropDir: path.join(dataDir, 'maildrop'),
    outboxDir: path.join(dataDir, 'outbox'),
    rulesDir: path.resolve(c.RULES_DIR),
    logLevel: c.LOG_LEVEL,
    imap: c.IMAP_HOST
      ? {
          host: c.IMAP_HOST,
          port: c.IMAP_PORT,
          secure: c.IMAP_SECURE,
          user: c.IMAP_USER!,
          password: c.IMAP_PASSWORD,
          mailbox: c.IMAP_MAILBOX,
          folders: { processed: c.IMAP_PROCESSED_FOLDER, review: c.IMAP_REVIEW_FOLDER, ignored: c.IMAP_IGNORED_FOLDER },
          idle: c.IMAP_IDLE,
        }
      : undefined,
    oauth:
      c.OAUTH_TENANT_ID && c.OAUTH_CLIENT_ID && c.OAUTH_CLIENT_SECRET
        ? { tenantId: c.OAUTH_TENANT_ID, clientId: c.OAUTH_CLIENT_ID, clientSecret: c.OAUTH_CLIENT_SECRET }
        : undefined,
    smtp: c.SMTP_HOST
      ? {
          host: c.SMTP_HOST,
          port: c.SMTP_PORT,
          secure: c.SMTP_SECURE,
          user: c.SMTP_USER,
          password: c.SMTP_PASSWORD,
          connections: c.SMTP_CONNECTIONS,
        }
      : undefined,
    mailFrom: c.MAIL_FROM,
    mailFromName: c.MAIL_FROM_NAME,
    pollCron: c.POLL_CRON,
    maxMailBytes: c.MAIL_MAX_BYTES,
    followupWindowDays: c.FOLLOWUP_WINDOW_DAYS,
    /** Sender verification: whose Authentication-Results count, and how long a local DKIM/DMARC check may take. */
    auth: { trustedAuthservId: c.MAIL_TRUSTED_AUTHSERV_ID?.toLowerCase(), timeoutMs: c.MAIL_AUTH_TIMEOUT_MS },
    caps: { personsPerMail: c.MAX_PERSONS_PER_MAIL, personsPerCase: c.MAX_PERSONS_PER_CASE },
    taskFourEyes: c.TASK_FOUR_EYES,
    replies: {
      unknownSenders: c.REPLY_UNKNOWN_SENDERS,
      /** `verified`: replies naming persons only to verified senders of a known provider; others get a neutral acknowledgement. */
      personalData: c.REPLY_PERSONAL_DATA,
      maxBytes: c.REPLY_MAX_BYTES,
      receipt: c.REPLY_RECEIPT,
      doneConfirmation: c.REPLY_DONE_CONFIRMATION,
      maxPerCasePerDay: c.REPLY_MAX_PER_CASE_PER_DAY,
      maxPerRecipientPerHour: c.REPLY_MAX_PER_RECIPIENT_PER_HOUR,
      doneBatchMs: c.REPLY_DONE_BATCH_MINUTES * 60_000,
      contact: c.REPLY_CONTACT,
      maxAttempts: c.SEND_MAX_ATTEMPTS,
      /** A `sending` claim older than this is taken again (its sender died). */
      claimStaleMs: c.SEND_CLAIM_STALE_SECONDS * 1000,
    },
    reminders: { afterDays: c.REMINDER_AFTER_DAYS, max: c.REMINDER_MAX, cron: c.REMINDER_CRON },
    parse: {
      timeoutMs: c.PARSE_TIMEOUT_MS,
      memoryMb: c.PARSE_MEMORY_MB,
      // One core left to the main thread (IMAP, the database, the sender): on 2 cores a second parse thread cost more CPU than it saved time.
      threads: c.PARSE_THREADS || Math.max(1, Math.min(4, os.availableParallelism() - 1)),
    },
    intakeBatch: c.INTAKE_BATCH,
    leaseMs: c.LEASE_SECONDS * 1000,
    shutdownTimeoutMs: c.SHUTDOWN_TIMEOUT_MS,
    retentionDays: c.RETENTION_DAYS,
    retentionCron: c.RETENTION_CRON,
    // Secure cookies unless said otherwise or bound to loopback only (plain HTTP there is local).
    http: {
      enabled: c.HTTP_ENABLED,
      host: c.HTTP_HOST,
      port: c.HTTP_PORT,
      secureCookie: c.SESSION_SECURE_COOKIE ? c.SESSION_SECURE_COOKIE === 'true' : !LOOPBACK.test(c.HTTP_HOST),
    },
    /** Token endpoint base for the client-credentials flow (Entra ID, or a test server). */
    oauthAuthority: c.OAUTH_AUTHORITY.replace(/\/+$/, ''),
    /** When the client secret expires: warned about 30 days before. */
    oauthSecretExpires: c.OAUTH_SECRET_EXPIRES ? new Date(`${c.OAUTH_SECRET_EXPIRES}T00:00:00Z`) : undefined,
    /** fastify's trustProxy: false, true, or the proxies' addresses. */
    httpTrustProxy: c.HTTP_TRUST_PROXY === 'true' ? true : c.HTTP_TRUST_PROXY === 'false' ? false : list(c.HTTP_TRUST_PROXY),
    /** /healthz says degraded when the last successful poll is older than this. */
    healthMaxPollAgeMinutes: c.HEALTH_MAX_POLL_AGE_MINUTES,
    /** Bearer token /metrics requires (none: open, like /healthz). */
    metricsToken: c.METRICS_TOKEN,
    /** Staff sign-in with OpenID Connect (Entra ID). */
    oidc:
      c.OIDC_ISSUER && c.OIDC_CLIENT_ID && c.OIDC_CLIENT_SECRET && c.OIDC_REDIRECT_URL
        ? {
            issuer: c.OIDC_ISSUER,
            clientId: c.OIDC_CLIENT_ID,
            clientSecret: c.OIDC_CLIENT_SECRET,
            redirectUrl: c.OIDC_REDIRECT_URL,
            /** Group ids (the `groups` claim) that map to a role; app roles in `roles` need no mapping. */
            adminGroups: list(c.OIDC_ADMIN_GROUPS),
            handlaggareGroups: list(c.OIDC_HANDLAGGARE_GROUPS),
            buttonLabel: c.OIDC_BUTTON_LABEL,
          }
        : undefined,
  };
}

/** The process's configuration: `.env` in the working directory, then the real environment on top. */
export function loadConfig(env: Record<string, string | undefined> = process.env): Config {
  return parseConfig({ ...readDotEnv(path.resolve('.env')), ...env });
}

/**
 * Variables read outside the configuration: NODE_ENV (`development`: the UI re-reads its templates)
 * and LCI_PASSWORD (`users add`: a secret, never kept in the configuration).
 */
export const ENV_OUTSIDE_SCHEMA = ['NODE_ENV', 'LCI_PASSWORD'] as const;

export function envVariable(name: (typeof ENV_OUTSIDE_SCHEMA)[number]): string | undefined {
  return process.env[name];
}

/**
 * One configuration variable by its own schema field, for what runs before (or without) the whole
 * configuration: the logger, `parse`. Unset or invalid gives undefined (loadConfig names a bad value).
 */
export function earlyVariable<K extends 'LOG_LEVEL' | 'RULES_DIR'>(name: K): RawConfig[K] | undefined {
  const value = process.env[name];
  if (value === undefined) return undefined;
  const r = configSchema.shape[name].safeParse(value);
  return r.success ? (r.data as RawConfig[K]) : undefined;
}
