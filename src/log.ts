import pino from 'pino';
import { earlyVariable } from './config';
import { serializeError } from './errors';

/**
 * One structured logger. Child scopes add {component, uid, messageId}. Errors go in whole as `err`
 * (the serializer keeps code and stack, never query parameters). Never pass names, HSA-ids or
 * usernames: log ids, counts and codes only.
 */
export const rootLogger = pino({
  // Made at import, before the configuration is parsed: LOG_LEVEL alone, by the schema's own rule.
  level: earlyVariable('LOG_LEVEL') ?? 'info',
  base: { app: 'lifecare-intake' },
  serializers: { err: serializeError },
  redact: { paths: ['*.name', '*.hsaId', '*.treservaUser', '*.password', '*.accessToken'], censor: '[redacted]' },
});

export type Logger = pino.Logger;

export function logger(component: string, extra: Record<string, unknown> = {}): Logger {
  return rootLogger.child({ component, ...extra });
}
