import http from 'node:http';
import type { Config } from './config';

/**
 * While the worker waits for its database at start, `/healthz` on the UI's address already
 * answers (503, "waiting for the database, attempt N") so operators see why nothing happens.
 */
export interface WaitingHealth {
  set(detail: string): void;
  close(): Promise<void>;
}

export async function startWaitingHealth(config: Config): Promise<WaitingHealth | null> {
  let detail = 'waiting for the database';
  const server = http.createServer((req, res) => {
    const body =
      req.url === '/healthz'
        ? { status: 'starting', database: { ok: false, detail }, mailbox: { ok: false, detail: 'not started', lastPollAt: null } }
        : { status: 'starting', detail };
    res.writeHead(503, { 'content-type': 'application/json; charset=utf-8', 'cache-control': 'no-store' });
    res.end(JSON.stringify(body));
  });
  const listening = await new Promise<boolean>((resolve) => {
    server.once('error', () => resolve(false));
    server.listen(config.http.port, config.http.host, () => resolve(true));
  });
  if (!listening) return null;
  return {
    set: (d) => void (detail = d),
    close: () =>
      new Promise<void>((resolve) => {
        server.close(() => resolve());
        server.closeAllConnections();
      }),
  };
}
