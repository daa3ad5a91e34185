import type { Logger } from './log';

/**
 * postgres.js 3.4.9 (the latest release) can throw `TypeError: Cannot read properties of null
 * (reading 'write')` from `nextWrite` in its connection.js when the server restarts (upstream
 * issues #1154, #1208; fixes proposed in #1168, #1176, none released). The write belongs to a
 * connection that is already closed; the pool opens a new one for the next query. Only that exact
 * fault is contained; anything else uncaught ends the process.
 */
export function isPostgresDriverFault(err: unknown): boolean {
  if (!(err instanceof TypeError)) return false;
  if (!/Cannot read properties of null \(reading 'write'\)/.test(err.message)) return false;
  return /postgres[\\/](cjs|src|esm)[\\/]src[\\/]connection\.js|postgres[\\/]src[\\/]connection\.js/.test(err.stack ?? '');
}

let installed = false;
/** Faults seen and contained since start (for /healthz and the tests' logs). */
export const contained = { driverFaults: 0 };

/**
 * `unhandledRejection` and `uncaughtException` are logged with their stack and end the process
 * with exit code 1 (a supervisor starts it again); the known driver fault is logged and contained.
 */
export function installFatalHandlers(log: Logger, beforeExit: () => void = () => {}): void {
  if (installed) return;
  installed = true;
  const fatal = (kind: string) => (err: unknown) => {
    if (isPostgresDriverFault(err)) {
      contained.driverFaults++;
      log.warn(
        { component: 'db', code: 'DB_DRIVER_FAULT', count: contained.driverFaults },
        'postgres.js wrote to a closed connection (server restart); contained, the pool reconnects',
      );
      return;
    }
    log.fatal({ component: 'process', kind, err }, `${kind}: the process ends (exit code 1)`);
    try {
      beforeExit();
    } finally {
      process.exit(1);
    }
  };
  process.on('uncaughtException', fatal('uncaughtException'));
  process.on('unhandledRejection', fatal('unhandledRejection'));
}
