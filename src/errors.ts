/** Errors carry a stable code, context for the log and an optional cause. */
export type ErrorCode =
  | 'CONFIG_INVALID'
  | 'RULES_INVALID'
  | 'MAIL_UNREADABLE'
  | 'MAIL_TOO_LARGE'
  | 'DB_ERROR'
  | 'IMAP_ERROR'
  | 'OAUTH_REFUSED'
  | 'SMTP_TRANSIENT'
  | 'SMTP_PERMANENT'
  | 'NOT_FOUND'
  | 'CONFLICT'
  | 'INVALID_INPUT';

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
  if (err && typeof err === 'object' && 'code' in err && typeof (err as { code: unknown }).code === 'string') {
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
