import { eq, inArray } from 'drizzle-orm';
import type { DbOrTx } from '../db/client';
import { outbox } from '../db/schema';
import type { MailInput } from '../parse/read-mail';

/**
 * A bounce of one of our replies: found by our Message-ID (`<lci-…>`) in its In-Reply-To or
 * References, in the attached original (message/rfc822, text/rfc822-headers) or in its text. The
 * reply gets the remote server's words ("550 5.1.1 …"); the bounce waits in Att granska on the case.
 */

const OUR_ID = /<lci-[0-9a-f-]{36}@[A-Za-z0-9.-]{1,200}>/g;
const DIAGNOSTIC = /^Diagnostic-Code:[ \t]{0,10}[A-Za-z-]{0,20};[ \t]{0,10}([^\r\n]{1,300})/im;
const STATUS = /^Status:[ \t]{0,10}([245]\.\d{1,3}\.\d{1,3})/im;
const SMTP_REPLY = /\b([45]\d\d)[ -]([45]\.\d{1,3}\.\d{1,3})\b([^\r\n]{0,200})/;
const MAX_SCAN = 65_536;

/** Where a bounce names our reply, and what it says went wrong. */
export function readBounce(mail: MailInput, text: string, raw?: Buffer): { ids: string[]; detail: string } {
  // The original's own Message-ID (in the attached message or headers) first, then In-Reply-To, then
  // References. The raw mail is read too: the parse thread hands attachments back without content.
  const attached = [
    ...mail.attachments.slice(0, 10).map((a) => Buffer.from(a.content).subarray(0, MAX_SCAN).toString('utf8')),
    ...(raw ? [raw.subarray(0, 4 * MAX_SCAN).toString('latin1')] : []),
  ];
  const own = [...attached, mail.text.slice(0, MAX_SCAN), text.slice(0, MAX_SCAN)].flatMap((p) =>
    [...p.matchAll(/^Message-ID:[ \t]{0,10}(<lci-[0-9a-f-]{36}@[A-Za-z0-9.-]{1,200}>)/gim)].map((m) => m[1]!),
  );
  const parts = [
    mail.inReplyTo ?? '',
    [...mail.references].reverse().join(' '),
    ...attached,
    mail.text.slice(0, MAX_SCAN),
    text.slice(0, MAX_SCAN),
  ];
  const ids = [...new Set([...own, ...parts.flatMap((p) => p.match(OUR_ID) ?? [])])].slice(0, 20);
  let detail = '';
  for (const p of parts) {
    const d = DIAGNOSTIC.exec(p);
    if (d) {
      detail = d[1]!.trim();
      break;
    }
  }
  if (!detail)
    for (const p of parts) {
      const m = SMTP_REPLY.exec(p);
      if (m) {
        detail = `${m[1]} ${m[2]}${m[3]}`.trim();
        break;
      }
    }
  if (!detail)
    for (const p of parts) {
      const s = STATUS.exec(p);
      if (s) {
        detail = s[1]!;
        break;
      }
    }
  return { ids, detail: (detail || 'okänt fel').replace(/\s+/g, ' ').slice(0, 300) };
}

/** A delivery report, not an out-of-office answer that also names our reply in In-Reply-To. */
export function looksLikeBounce(mail: MailInput): boolean {
  const h = (key: string) => mail.headers.some((x) => x.key === key);
  if (mail.contentType.startsWith('multipart/report') || h('x-failed-recipients')) return true;
  if (mail.attachments.some((a) => /^message\/(global-)?delivery-status$/.test(a.contentType))) return true;
  if (/^(mailer-daemon|postmaster)@/i.test(mail.from ?? '') || !mail.from) return true;
  return /^(undeliver|undelivered|delivery status notification|returned mail|mail delivery failed|olevererbar|det gick inte att leverera)/i.test(
    mail.subject.trim(),
  );
}

/**
 * Records a bounce on our reply it names (the first not yet marked). Returns the case of that
 * reply, or null when the mail names none of ours.
 */
export async function recordBounce(
  tx: DbOrTx,
  input: { mail: MailInput; text: string; raw?: Buffer; messageRowId: number; now: Date },
): Promise<{ caseId: number; detail: string } | null> {
  if (!looksLikeBounce(input.mail)) return null;
  const { ids, detail } = readBounce(input.mail, input.text, input.raw);
  if (ids.length === 0) return null;
  const rows = await tx
    .select({ id: outbox.id, caseId: outbox.caseId, messageId: outbox.messageId })
    .from(outbox)
    .where(inArray(outbox.messageId, ids));
  if (rows.length === 0) return null;
  const hit = ids.map((id) => rows.find((r) => r.messageId === id)).find((r) => r !== undefined)!;
  await tx.update(outbox).set({ bounce: detail, bouncedAt: input.now }).where(eq(outbox.id, hit.id));
  // Intake writes the mail's row with its case, in review ("studsat svar: …").
  return { caseId: hit.caseId, detail };
}
