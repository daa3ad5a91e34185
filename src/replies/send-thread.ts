import { parentPort, workerData } from 'node:worker_threads';
import type { Config } from '../config';
import { AppError, errorCode, errorMessage } from '../errors';
import { FolderTransport, SmtpTransport, type Transport } from './transport';
import type { SendAnswer, SendRequest } from './threaded';

/** Inside the send thread: builds and sends the replies main hands over, each answered by its id. */
const config = (workerData as { config: Config }).config;
const transport: Transport = config.smtp ? new SmtpTransport(config) : new FolderTransport(config);
const port = parentPort!;

function answer(id: number, err?: unknown): SendAnswer {
  if (err === undefined) return { id, ok: true };
  const context = err instanceof AppError ? err.context : {};
  return { id, ok: false, error: { app: err instanceof AppError, code: errorCode(err), message: errorMessage(err), context } };
}

port.on('message', (msg: SendRequest) => {
  if (msg.op === 'close') {
    transport.close();
    port.close();
    return;
  }
  const done = msg.op === 'send' ? transport.send(msg.row, msg.caseRef) : transport.probe();
  done.then(
    () => port.postMessage(answer(msg.id)),
    (err: unknown) => port.postMessage(answer(msg.id, err)),
  );
});
