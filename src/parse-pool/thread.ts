import { parentPort, workerData } from 'node:worker_threads';
import { parseMail } from '../parse';
import type { Rules } from '../rules/load';

/** Inside the parse thread: one mail at a time; attachment bytes are not sent back (not needed after parsing). */
const rules = (workerData as { rules: Rules }).rules;

parentPort!.postMessage({ ready: true });
parentPort!.on('message', (msg: { id: number; raw: Uint8Array; ownDomain?: string }) => {
  const raw = Buffer.from(msg.raw.buffer, msg.raw.byteOffset, msg.raw.byteLength);
  void parseMail(raw, rules, msg.ownDomain ? { ownDomain: msg.ownDomain } : {}).then((parsed) => {
    const mail = parsed.mail
      ? {
          ...parsed.mail,
          attachments: parsed.mail.attachments.map((a) => ({ filename: a.filename, contentType: a.contentType, content: Buffer.alloc(0) })),
        }
      : null;
    parentPort!.postMessage({ id: msg.id, parsed: { ...parsed, mail } });
  });
});
