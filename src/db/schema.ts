import { sql } from 'drizzle-orm';
import {
  bigint,
  boolean,
  customType,
  index,
  integer,
  jsonb,
  pgTable,
  primaryKey,
  serial,
  text,
  timestamp,
  uniqueIndex,
} from 'drizzle-orm/pg-core';

/** Raw mail source. postgres.js and PGlite both hand bytea back as a Uint8Array/Buffer. */
const bytea = customType<{ data: Buffer; driverData: Buffer | Uint8Array }>({
  dataType: () => 'bytea',
  fromDriver: (v) => (Buffer.isBuffer(v) ? v : Buffer.from(v)),
});

const ts = (name: string) => timestamp(name, { withTimezone: true, mode: 'date' });
const created = () => ts('created_at').notNull().defaultNow();

export type FieldName = 'name' | 'function' | 'hsaId' | 'treservaUser';
export interface Problem {
  field: FieldName;
  code: 'missing' | 'invalid';
  message: string;
}

/** IMAP progress per mailbox: UIDVALIDITY + last UID done. Never \Seen. */
export const mailboxState = pgTable('mailbox_state', {
  mailbox: text('mailbox').primaryKey(),
  uidValidity: bigint('uid_validity', { mode: 'number' }).notNull(),
  lastUid: bigint('last_uid', { mode: 'number' }).notNull().default(0),
  updatedAt: ts('updated_at').notNull().defaultNow(),
});

/** Sender verification of one message (SPF/DKIM/DMARC): pass, fail, or none (nothing to go on). */
export type AuthVerdict = 'pass' | 'fail' | 'none';

export type MessageKind = 'notification' | 'automated' | 'other' | 'own';
export type MessageStatus = 'processed' | 'ignored' | 'review' | 'settled';

/** Every mail as received, raw source kept, with what the pipeline made of it. */
export const messages = pgTable(
  'messages',
  {
    id: serial('id').primaryKey(),
    source: text('source').notNull(), // imap | maildrop | ingest
    mailbox: text('mailbox'),
    uidValidity: bigint('uid_validity', { mode: 'number' }),
    uid: bigint('uid', { mode: 'number' }),
    messageId: text('message_id'),
    contentHash: text('content_hash').notNull(),
    raw: bytea('raw').notNull(),
    size: integer('size').notNull(),
    fromAddr: text('from_addr'),
    subject: text('subject').notNull().default(''),
    sentAt: ts('sent_at'),
    inReplyTo: text('in_reply_to'),
    references: jsonb('references').$type<string[]>().notNull().default([]),
    kind: text('kind').$type<MessageKind>().notNull(),
    status: text('status').$type<MessageStatus>().notNull(),
    reviewReason: text('review_reason'),
    errorCode: text('error_code'),
    bodyText: text('body_text').notNull().default(''),
    parsed: jsonb('parsed'),
    authVerdict: text('auth_verdict').$type<AuthVerdict>().notNull().default('none'),
    // What the verdict rests on, e.g. "mx.orebro.se: dmarc=fail dkim=none" (no personal data).
    authDetail: text('auth_detail'),
    caseId: integer('case_id'),
    erasedAt: ts('erased_at'),
    receivedAt: created(),
  },
  (t) => [
    uniqueIndex('messages_content_hash_uq').on(t.contentHash),
    uniqueIndex('messages_imap_uid_uq').on(t.mailbox, t.uidValidity, t.uid),
    index('messages_message_id_idx').on(t.messageId),
    index('messages_case_idx').on(t.caseId),
    index('messages_status_idx').on(t.status),
  ],
);

/**
 * A large mail's source in pieces, in order (its `messages.raw` is then empty): written a few
 * pieces per statement, so storing a 30 MB mail never holds it whole as text (src/db/raw.ts).
 */
export const messageParts = pgTable(
  'message_parts',
  {
    messageId: integer('message_id')
      .notNull()
      .references(() => messages.id),
    seq: integer('seq').notNull(),
    bytes: bytea('bytes').notNull(),
  },
  (t) => [primaryKey({ columns: [t.messageId, t.seq] })],
);

export type CaseStatus = 'waiting' | 'complete' | 'review' | 'done' | 'rejected';

/** One provider notification thread. `ref` (LSP-2026-0042) goes in reply subjects. */
export const cases = pgTable(
  'cases',
  {
    id: serial('id').primaryKey(),
    ref: text('ref').notNull(),
    status: text('status').$type<CaseStatus>().notNull(),
    providerName: text('provider_name'),
    knownProvider: boolean('known_provider').notNull().default(false),
    sender: text('sender'),
    // The sender is a known provider and its first mail passed verification (SPF/DKIM/DMARC).
    senderVerified: boolean('sender_verified').notNull().default(false),
    // A mail that pointed at another case (reference, In-Reply-To, subject) but may not change it.
    refersToRef: text('refers_to_ref'),
    subject: text('subject').notNull().default(''),
    threadSubject: text('thread_subject').notNull().default(''),
    rejectReason: text('reject_reason'),
    // Reminders sent while the case waited for the provider; reset when the provider writes again.
    remindersSent: integer('reminders_sent').notNull().default(0),
    // Set when REMINDER_MAX reminders went unanswered: flagged for IT staff ("utföraren svarar inte").
    providerSilentSince: ts('provider_silent_since'),
    // Set when the retention rule erased the case's personal data.
    erasedAt: ts('erased_at'),
    createdAt: created(),
    updatedAt: ts('updated_at').notNull().defaultNow(),
  },
  (t) => [
    uniqueIndex('cases_ref_uq').on(t.ref),
    index('cases_status_idx').on(t.status, t.updatedAt),
    index('cases_sender_subject_idx').on(t.sender, t.threadSubject),
  ],
);

/** Per-year counter behind case references. */
export const caseCounters = pgTable('case_counters', {
  year: integer('year').primaryKey(),
  last: integer('last').notNull(),
});

export type PersonStatus = 'incomplete' | 'complete' | 'task_created' | 'needs_review' | 'duplicate' | 'rejected';

export const persons = pgTable(
  'persons',
  {
    id: serial('id').primaryKey(),
    caseId: integer('case_id')
      .notNull()
      .references(() => cases.id),
    name: text('name'),
    function: text('function'),
    hsaId: text('hsa_id'),
    treservaUser: text('treserva_user'),
    problems: jsonb('problems').$type<Problem[]>().notNull().default([]),
    intent: text('intent').$type<TaskAction>().notNull().default('grant'),
    status: text('status').$type<PersonStatus>().notNull(),
    reviewReason: text('review_reason'),
    // For IT staff, not a problem for the provider: e.g. "HSA-id hör till organisationsnummer 556…".
    hsaNote: text('hsa_note'),
    // Staff who corrected this person's values (four-eyes rule).
    correctedBy: jsonb('corrected_by').$type<string[]>().notNull().default([]),
    sourceMessageIds: jsonb('source_message_ids').$type<number[]>().notNull().default([]),
    createdAt: created(),
    updatedAt: ts('updated_at').notNull().defaultNow(),
  },
  (t) => [index('persons_case_idx').on(t.caseId), index('persons_hsa_idx').on(t.hsaId)],
);

export type TaskStatus = 'open' | 'in_progress' | 'done' | 'cancelled';
/** What IT does in Lifecare SP: grant access, or remove it (a leaver). */
export type TaskAction = 'grant' | 'revoke';

/** A Lifecare SP provisioning work item: everything IT needs to grant access. */
export const tasks = pgTable(
  'tasks',
  {
    id: serial('id').primaryKey(),
    personId: integer('person_id')
      .notNull()
      .references(() => persons.id),
    caseId: integer('case_id')
      .notNull()
      .references(() => cases.id),
    caseRef: text('case_ref').notNull(),
    action: text('action').$type<TaskAction>().notNull().default('grant'),
    name: text('name').notNull(),
    function: text('function').notNull(),
    hsaId: text('hsa_id').notNull(),
    treservaUser: text('treserva_user').notNull(),
    providerName: text('provider_name'),
    sender: text('sender'),
    senderVerified: boolean('sender_verified').notNull().default(false),
    hsaNote: text('hsa_note'),
    correctedBy: jsonb('corrected_by').$type<string[]>().notNull().default([]),
    sourceMessageIds: jsonb('source_message_ids').$type<number[]>().notNull().default([]),
    status: text('status').$type<TaskStatus>().notNull().default('open'),
    assignee: text('assignee'),
    doneBy: text('done_by'),
    // Staff member who confirmed an unverified sender with the provider before finishing.
    confirmedBy: text('confirmed_by'),
    note: text('note'),
    // The receipt and the done confirmation that named this task (one each, per case, batched).
    receiptReplyId: integer('receipt_reply_id'),
    doneReplyId: integer('done_reply_id'),
    createdAt: created(),
    takenAt: ts('taken_at'),
    doneAt: ts('done_at'),
  },
  (t) => [
    uniqueIndex('tasks_person_uq').on(t.personId),
    // One live task per HSA-id and action: a second one is flagged for review instead.
    uniqueIndex('tasks_action_hsa_live_uq')
      .on(t.action, t.hsaId)
      .where(sql`status <> 'cancelled' and hsa_id <> ''`),
    index('tasks_status_idx').on(t.status, t.createdAt),
    // Hot path (intake): a live task for this HSA-id and action (the partial index above cannot serve a generic plan); a leaver's grants by username.
    index('tasks_hsa_action_idx').on(t.hsaId, t.action),
    index('tasks_treserva_idx').on(t.treservaUser),
    index('tasks_case_idx').on(t.caseId),
  ],
);

export type OutboxKind =
  | 'missing_info'
  | 'still_missing'
  | 'receipt'
  | 'removal_receipt'
  | 'acknowledgement'
  | 'done_confirmation'
  | 'reminder'
  | 'rejection'
  | 'manual';
export type OutboxStatus = 'pending' | 'held' | 'sending' | 'sent' | 'failed' | 'suppressed';

/** Replies, written in the same transaction as the records they answer; sent by the outbox loop. */
export const outbox = pgTable(
  'outbox',
  {
    id: serial('id').primaryKey(),
    caseId: integer('case_id')
      .notNull()
      .references(() => cases.id),
    kind: text('kind').$type<OutboxKind>().notNull(),
    // The message (or task, for confirmations) this answers: one reply of a kind per trigger.
    triggerKey: text('trigger_key').notNull(),
    toAddr: text('to_addr').notNull(),
    subject: text('subject').notNull(),
    bodyText: text('body_text').notNull(),
    messageId: text('message_id').notNull(),
    inReplyTo: text('in_reply_to'),
    references: jsonb('references').$type<string[]>().notNull().default([]),
    status: text('status').$type<OutboxStatus>().notNull().default('pending'),
    suppressReason: text('suppress_reason'),
    // A bounce of this reply came back: "550 5.1.1 …" (the remote server's words, bounded).
    bounce: text('bounce'),
    bouncedAt: ts('bounced_at'),
    attempts: integer('attempts').notNull().default(0),
    nextAttemptAt: ts('next_attempt_at').notNull().defaultNow(),
    lastError: text('last_error'),
    // When and by whom a sender took it (status `sending`); a claim older than the stale limit is taken again.
    claimedAt: ts('claimed_at'),
    claimedBy: text('claimed_by'),
    createdAt: created(),
    sentAt: ts('sent_at'),
  },
  (t) => [
    uniqueIndex('outbox_trigger_uq').on(t.kind, t.triggerKey),
    uniqueIndex('outbox_message_id_uq').on(t.messageId),
    index('outbox_due_idx').on(t.status, t.nextAttemptAt),
    // The sender's claim (`order by id limit n` over due rows) walks only unsent rows, not every reply ever sent.
    index('outbox_unsent_idx')
      .on(t.id)
      .where(sql`${t.status} in ('pending', 'sending')`),
    index('outbox_to_idx').on(t.toAddr, t.createdAt),
    // The per-case rate limit and the withdrawal of stale requests.
    index('outbox_case_idx').on(t.caseId, t.createdAt),
    // The per-recipient rate limit counts by mailbox: a+1@x and a+2@x are a@x.
    index('outbox_mailbox_idx').on(sql`regexp_replace(lower(${t.toAddr}), '[+][^@]*@', '@')`, t.createdAt),
  ],
);

/** Who did what, when, with before/after values. */
export const auditEvents = pgTable(
  'audit_events',
  {
    id: serial('id').primaryKey(),
    at: created(),
    actor: text('actor').notNull(), // "worker" or "user:<username>"
    action: text('action').notNull(),
    caseId: integer('case_id'),
    personId: integer('person_id'),
    taskId: integer('task_id'),
    /** The row id of the message (messages.id); every other message_id is an RFC Message-ID. */
    messageRowId: integer('message_row_id'),
    before: jsonb('before'),
    after: jsonb('after'),
  },
  (t) => [index('audit_case_idx').on(t.caseId, t.at)],
);

export type StaffRole = 'handlaggare' | 'admin';

/** Staff accounts for the review UI: local (password) or signed in with OpenID Connect (issuer + subject). */
export const users = pgTable(
  'users',
  {
    id: serial('id').primaryKey(),
    username: text('username').notNull(),
    displayName: text('display_name'),
    /** Null for accounts that sign in only with OpenID Connect. */
    passwordHash: text('password_hash'),
    failedLogins: integer('failed_logins').notNull().default(0),
    lockedUntil: ts('locked_until'),
    role: text('role').$type<StaffRole>().notNull().default('admin'),
    /** `<issuer> <sub>` of an OpenID Connect account. */
    oidcSubject: text('oidc_subject'),
    disabledAt: ts('disabled_at'),
    lastSignInAt: ts('last_sign_in_at'),
    createdAt: created(),
  },
  (t) => [uniqueIndex('users_username_uq').on(t.username), uniqueIndex('users_oidc_subject_uq').on(t.oidcSubject)],
);

export const sessions = pgTable('sessions', {
  id: text('id').primaryKey(),
  userId: integer('user_id')
    .notNull()
    .references(() => users.id),
  csrfToken: text('csrf_token').notNull(),
  expiresAt: ts('expires_at').notNull(),
  createdAt: created(),
});

/**
 * Processing attempts of a mail not yet stored, by content hash, written before parsing: a mail
 * whose processing ended the process is recognised at the next start (after 2, review unparsed).
 */
export const processingAttempts = pgTable('processing_attempts', {
  contentHash: text('content_hash').primaryKey(),
  attempts: integer('attempts').notNull().default(1),
  lastAt: ts('last_at').notNull().defaultNow(),
});

/** One worker reads a mailbox at a time: a lease with a heartbeat; the token grows at each takeover (fencing). */
export const leases = pgTable('leases', {
  name: text('name').primaryKey(),
  holder: text('holder').notNull(),
  token: bigint('token', { mode: 'number' }).notNull().default(1),
  expiresAt: ts('expires_at').notNull(),
  acquiredAt: ts('acquired_at').notNull().defaultNow(),
});
