import { and, eq, gte, inArray } from 'drizzle-orm';
import type { AppContext } from '../context';
import type { Tx } from '../db/client';
import { cases, messages, outbox } from '../db/schema';
import type { MailInput } from '../parse/read-mail';
import { subjectInfo } from '../parse/thread';
import { refInSubject } from './refs';

export type CaseRow = typeof cases.$inferSelect;

/** How a mail pointed at a case: In-Reply-To/References, the reference in the subject, or sender + subject. */
export type ThreadedBy = 'thread' | 'reference' | 'subject';

/**
 * Step 1: the case a mail seems to belong to. Threading only proposes: references and Message-IDs
 * are guessable or seen by others on CC, so `checkSender` decides whether the mail may change it.
 */
export async function proposeCase(tx: Tx, ctx: AppContext, mail: MailInput): Promise<{ case: CaseRow; by: ThreadedBy } | null> {
  const refs = [mail.inReplyTo, ...mail.references].filter((x): x is string => !!x);
  if (refs.length > 0) {
    const ours = await tx.select({ caseId: outbox.caseId }).from(outbox).where(inArray(outbox.messageId, refs)).limit(1);
    const theirs = ours.length ? [] : await tx.select({ caseId: messages.caseId }).from(messages).where(inArray(messages.messageId, refs));
    const id = ours[0]?.caseId ?? theirs.find((r) => r.caseId != null)?.caseId;
    if (id != null) {
      const [c] = await tx.select().from(cases).where(eq(cases.id, id));
      if (c) return { case: c, by: 'thread' };
    }
  }
  const ref = refInSubject(mail.subject);
  if (ref) {
    const [c] = await tx.select().from(cases).where(eq(cases.ref, ref));
    if (c) return { case: c, by: 'reference' };
  }
  // Same sender and subject: an answer to a case still waiting (a new batch later is a new case).
  const base = subjectInfo(mail.subject).base.toLowerCase();
  if (mail.from && base !== '' && ctx.config.followupWindowDays > 0) {
    const since = new Date(ctx.now().getTime() - ctx.config.followupWindowDays * 86_400_000);
    const [c] = await tx
      .select()
      .from(cases)
      .where(
        and(
          eq(cases.sender, mail.from),
          eq(cases.threadSubject, base),
          gte(cases.updatedAt, since),
          inArray(cases.status, ['waiting', 'review']),
        ),
      )
      .orderBy(cases.updatedAt)
      .limit(1);
    if (c) return { case: c, by: 'subject' };
  }
  return null;
}
