import { parentPort, workerData } from 'node:worker_threads';
import type { Config } from '../config';
import { AppError, errorCode, errorMessage } from '../errors';
import { FolderTransport, SmtpTransport, sendInLanes, type Transport } from './transport';
import type { SendAnswer, SendRequest, WireError } from './threaded';

/** Inside the send thread: builds and sends the replies main hands over, each answered by its id. */
const config = (workerData as { config: Config }).config;
const transport: Transport = config.smtp ? new SmtpTransport(config) : new FolderTransport(config);
const port = parentPort!;

function wire(err: unknown): WireError {
  return {
    app: err instanceof AppError,
    code: errorCode(err),
    message: errorMessage(err),
    context: err instanceof AppError ? err.context : {},
  };
}
const answer = (id: number, err?: unknown): SendAnswer => (err === undefined ? { id, ok: true } : { id, ok: false, error: wire(err) });

/** Batches told to start no further reply (the main thread's sender stops, or SMTP is down). */
const halted = new Set<number>();

port.on('message', (msg: SendRequest) => {
  if (msg.op === 'close') {
    transport.close();
    port.close();
    return;
  }
  if (msg.op === 'halt') {
    halted.add(msg.id);
    return;
  }
  const done =
    msg.op === 'send'
      ? transport.send(msg.row, msg.caseRef)
      : msg.op === 'batch'
        ? sendInLanes(
            msg.batch,
            msg.connections,
            (s) => transport.send(s.row, s.caseRef),
            async (row, err) => {
              if (err !== null && errorCode(err) === 'SMTP_DOWN') halted.add(msg.id);
              port.postMessage({ id: msg.id, row: row.id, error: err === null ? null : wire(err) } satisfies SendAnswer);
            },
            () => halted.has(msg.id),
          ).finally(() => halted.delete(msg.id))
        : transport.probe();
  done.then(
    () => port.postMessage(answer(msg.id)),
    (err: unknown) => port.postMessage(answer(msg.id, err)),
  );
});
