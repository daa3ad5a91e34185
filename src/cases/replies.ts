import { eq, inArray } from 'drizzle-orm';
import type { AppContext } from '../context';
import type { Tx } from '../db/client';
import { persons, tasks, type OutboxKind } from '../db/schema';
import type { MailInput } from '../parse/read-mail';
import { subjectInfo } from '../parse/thread';
import { composeAcknowledgement, composeMissingInfo, composeReceipt, composeRemovalReceipt } from '../replies/compose';
import { enqueueReply } from '../replies/enqueue';
import type { CaseRow } from './find-case';
import type { SenderStanding } from './sender-check';

/**
 * The last step: which reply a mail gets. A request for what is missing while the case waits; a
 * receipt (and a removal receipt) for the tasks this mail made. Replies that name persons go only
 * to a verified sender of a known provider (REPLY_PERSONAL_DATA=verified, the default); anyone
 * else, and any reply over REPLY_MAX_BYTES, gets a neutral acknowledgement without personal data.
 */
export async function chooseReplies(
  tx: Tx,
  ctx: AppContext,
  input: {
    case: CaseRow;
    mail: MailInput;
    standing: SenderStanding;
    messageRowId: number;
    status: string;
    tasksCreated: number[];
    now: Date;
  },
): Promise<void> {
  const { case: c, mail, standing, messageRowId, status, now } = input;
  if (!mail.from) return;
  const all = await tx.select().from(persons).where(eq(persons.caseId, c.id)).orderBy(persons.id);
  const base = { ref: c.ref, subject: subjectInfo(c.subject).base, mailbox: ctx.config.mailFrom };
  const threading = {
    to: mail.from,
    inReplyTo: mail.messageId,
    references: [...mail.references, ...(mail.messageId ? [mail.messageId] : [])].slice(-20),
  };
  const suppressReason = !standing.provider && !ctx.config.replies.unknownSenders ? 'okänd avsändare' : undefined;
  const personal = ctx.config.replies.personalData === 'all' || (standing.verified && c.senderVerified);

  const drafts: Array<{ kind: OutboxKind; subject: string; body: string }> = [];
  if (status === 'waiting') {
    drafts.push({
      kind: 'missing_info',
      ...composeMissingInfo({ ...base, persons: all.filter((p) => p.status === 'incomplete') }, ctx.rules),
    });
  } else if (input.tasksCreated.length > 0 && ctx.config.replies.receipt) {
    // This mail made tasks and nothing is missing: a receipt naming the persons being set up (or removed).
    const made = all.filter((p) => p.status === 'task_created');
    const madeNow = await tx.select({ action: tasks.action }).from(tasks).where(inArray(tasks.id, input.tasksCreated));
    const grants = madeNow.some((t) => t.action === 'grant') ? made.filter((p) => p.intent === 'grant') : [];
    const removals = madeNow.some((t) => t.action === 'revoke') ? made.filter((p) => p.intent === 'revoke') : [];
    if (grants.length) drafts.push({ kind: 'receipt', ...composeReceipt({ ...base, persons: grants }, ctx.rules) });
    if (removals.length) drafts.push({ kind: 'removal_receipt', ...composeRemovalReceipt({ ...base, persons: removals }, ctx.rules) });
  }
  if (drafts.length === 0) return;

  const tooLarge = drafts.some((d) => Buffer.byteLength(d.body) + Buffer.byteLength(d.subject) > ctx.config.replies.maxBytes);
  const outgoing = personal && !tooLarge ? drafts : [{ kind: 'acknowledgement' as const, ...composeAcknowledgement(base, ctx.rules) }];
  for (const d of outgoing) {
    await enqueueReply(
      tx,
      { caseId: c.id, kind: d.kind, triggerKey: `message:${messageRowId}`, ...threading, subject: d.subject, body: d.body, suppressReason },
      ctx.config,
      now,
    );
  }
}
