import { createContext } from '../app';
import { startWebServer } from '../web/server';

/**
 * `serve`: the review UI alone, without the mailbox loop (the worker starts the same server
 * itself). With the embedded PGlite database only one process may open the data folder, so run
 * either `worker` or `serve`, not both; with DATABASE_URL both can run side by side.
 * Resolves when SIGINT/SIGTERM has closed the server and the database.
 */
export async function serveCommand(): Promise<void> {
  const ctx = await createContext();
  const { database } = ctx;
  const log = ctx.log.child({ component: 'serve' });
  let server;
  try {
    server = await startWebServer(ctx);
  } catch (err) {
    await database.close();
    throw err;
  }
  process.stdout.write(`Granskningsgränssnittet: ${server.url}/\n`);
  await new Promise<void>((resolve) => {
    const stop = (signal: NodeJS.Signals) => {
      log.info({ signal }, 'shutting down');
      process.off('SIGINT', stop);
      process.off('SIGTERM', stop);
      resolve();
    };
    process.on('SIGINT', stop);
    process.on('SIGTERM', stop);
  });
  await server.close();
  await database.close();
}
