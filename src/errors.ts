/** Errors carry a stable code, context for the log and an optional cause. */
export type ErrorCode =
  | 'CONFIG_INVALID'
  | 'RULES_INVALID'
  | 'MAIL_UNREADABLE'
  | 'MAIL_TOO_LARGE'
  | 'DB_ERROR'
  | 'IMAP_ERROR'
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

export function errorMessage(err: unknown): string {
  return err instanceof Error ? err.message : String(err);
}
