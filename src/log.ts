import pino from 'pino';

/**
 * One structured logger. Child scopes add {component, uid, messageId}.
 * Never pass names, HSA-ids or usernames: log ids, counts and codes only.
 */
export const rootLogger = pino({
  level: process.env.LOG_LEVEL ?? 'info',
  base: { app: 'lifecare-intake' },
  redact: { paths: ['*.name', '*.hsaId', '*.treservaUser', '*.password', '*.accessToken'], censor: '[redacted]' },
});

export type Logger = pino.Logger;

export function logger(component: string, extra: Record<string, unknown> = {}): Logger {
  return rootLogger.child({ component, ...extra });
}
