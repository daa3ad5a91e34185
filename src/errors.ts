/**
 * Every error code the program uses, with what it means: one registry (test/unit/errors.test.ts checks
 * that every code used in src/ is here). Errors carry a code, context for the log and a cause.
 */
export const ERROR_CODES = {
  CONFIG_INVALID: 'a configuration variable is missing or wrong (exit 78)',
  RULES_INVALID: 'a file in rules/ does not validate (exit 78)',
  MAIL_UNREADABLE: 'the mail cannot be read as RFC 5322',
  MAIL_TOO_LARGE: 'the mail is over MAIL_MAX_BYTES; kept for review with its headers',
  PARSE_TIMEOUT: 'parsing took longer than PARSE_TIMEOUT_MS; kept for review',
  PARSE_MEMORY: 'parsing ran out of its memory cap; kept for review',
  PARSE_CRASHED: 'the parse worker died; kept for review',
  PARSE_ABORTED: 'processing this mail ended the process twice; kept for review unparsed',
  STORE_FAILED: 'the mail could not be stored as parsed; kept raw for review',
  FILE_UNREADABLE: 'a file given on the command line cannot be read',
  DB_ERROR: 'the database refused or is unreachable',
  DB_DRIVER_FAULT: 'the postgres.js fault on a server restart (contained, the pool reconnects)',
  IMAP_ERROR: 'the IMAP server refused or is unreachable',
  OAUTH_REFUSED: 'the mail server refused a fresh OAuth2 token (app not registered in Exchange, or the mailbox not granted)',
  SMTP_TRANSIENT: 'a 4xx answer to one reply: retried with backoff',
  SMTP_PERMANENT: 'a 5xx answer to one reply (recipient or message): that reply is failed',
  SMTP_DOWN: 'the SMTP server is unreachable or refuses our login/TLS: sending pauses, nothing is used up',
  NOT_FOUND: 'no such row',
  CONFLICT: 'the row is not in a state that allows this',
  INVALID_INPUT: 'a value given by a person is not valid',
  UNEXPECTED: 'anything else (a bug): logged with its stack',
} as const;

export type ErrorCode = keyof typeof ERROR_CODES;

export class AppError extends Error {
  readonly code: ErrorCode;
  readonly context: Record<string, unknown>;

  constructor(code: ErrorCode, message: string, context: Record<string, unknown> = {}, cause?: unknown) {
    super(message, cause === undefined ? undefined : { cause });
    this.name = 'AppError';
    this.code = code;
    this.context = context;
  }
}

export function errorCode(err: unknown): string {
  if (err instanceof AppError) return err.code;
  if (err && typeof err === 'object' && 'code' in err && typeof err.code === 'string') {
    return (err as { code: string }).code;
  }
  return 'UNEXPECTED';
}

/**
 * A message fit for logs. Database errors from drizzle carry the query's parameters (names,
 * HSA-ids) in their message: only the database's own message is kept (never its detail).
 */
export function errorMessage(err: unknown): string {
  if (!(err instanceof Error)) return String(err);
  if (err.message.startsWith('Failed query:')) {
    const cause = err.cause instanceof Error ? err.cause.message : 'unknown cause';
    return `database query failed: ${cause}`;
  }
  return err.message;
}

/** A stack without its first line (the message, which errorMessage has already cleaned). */
function frames(err: Error): string | undefined {
  return err.stack
    ?.split('\n')
    .filter((l) => /^\s+at /.test(l))
    .slice(0, 20)
    .join('\n');
}

/**
 * pino's `err` serializer: type, code, clean message, stack frames, SMTP response code and the
 * cause chain. Never the drizzle query parameters, a database error's detail or an AppError's
 * context values (which may name a person): those are logged by the caller, field by field.
 */
export function serializeError(err: unknown, depth = 0): Record<string, unknown> {
  if (!(err instanceof Error)) return { type: typeof err, message: String(err).slice(0, 200) };
  const e = err as Error & { responseCode?: unknown; command?: unknown };
  const out: Record<string, unknown> = { type: e.name, code: errorCode(e), message: errorMessage(e), stack: frames(e) };
  if (typeof e.responseCode === 'number') out.responseCode = e.responseCode;
  if (typeof e.command === 'string') out.command = e.command.slice(0, 20);
  const cause = e.cause;
  if (cause !== undefined && depth < 3 && !e.message.startsWith('Failed query:')) out.cause = serializeError(cause, depth + 1);
  return out;
}
