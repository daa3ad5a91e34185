import { parentPort, workerData } from 'node:worker_threads';
import { parseMail } from '../parse';
import type { Rules } from '../rules/load';

/**
 * Inside the parse thread: the mails handed over are parsed one at a time, in the order they came
 * (the pool times the first in hand); attachment bytes are not sent back (not needed after parsing).
 */
const rules = (workerData as { rules: Rules }).rules;
type Request = { id: number; raw: Uint8Array; ownDomain?: string };
const waiting: Request[] = [];
let busy = false;

async function drain(): Promise<void> {
  busy = true;
  for (let msg = waiting.shift(); msg; msg = waiting.shift()) {
    const raw = Buffer.from(msg.raw.buffer, msg.raw.byteOffset, msg.raw.byteLength);
    const parsed = await parseMail(raw, rules, msg.ownDomain ? { ownDomain: msg.ownDomain } : {});
    const mail = parsed.mail
      ? {
          ...parsed.mail,
          attachments: parsed.mail.attachments.map((a) => ({ ...a, content: Buffer.alloc(0) })),
        }
      : null;
    parentPort!.postMessage({ id: msg.id, parsed: { ...parsed, mail } });
  }
  busy = false;
}

parentPort!.postMessage({ ready: true });
parentPort!.on('message', (msg: Request) => {
  waiting.push(msg);
  if (!busy) void drain();
});
