import type { AppContext } from '../context';
import type { cases } from '../db/schema';
import type { MailInput } from '../parse/read-mail';
import { subjectInfo } from '../parse/thread';
import { refInSubject } from './refs';
import type { CaseStore } from './store';

export type CaseRow = typeof cases.$inferSelect;

/** How a mail pointed at a case: In-Reply-To/References, the reference in the subject, or sender + subject. */
export type ThreadedBy = 'thread' | 'reference' | 'subject';

/**
 * Step 1: the case a mail seems to belong to. Threading only proposes: references and Message-IDs
 * are guessable or seen by others on CC, so `checkSender` decides whether the mail may change it.
 */
export async function proposeCase(store: CaseStore, ctx: AppContext, mail: MailInput): Promise<{ case: CaseRow; by: ThreadedBy } | null> {
  const refs = threadRefs(mail);
  if (refs.length > 0) {
    const id = await store.threadCase(refs);
    if (id != null) {
      const c = await store.case(id);
      if (c) return { case: c, by: 'thread' };
    }
  }
  const ref = refInSubject(mail.subject);
  if (ref) {
    const c = await store.caseByRef(ref);
    if (c) return { case: c, by: 'reference' };
  }
  // Same sender and subject: an answer to a case still waiting (a new batch later is a new case).
  const base = threadBase(mail);
  if (mail.from && base !== '' && ctx.config.followupWindowDays > 0) {
    const c = await store.caseBySubject(mail.from, base, followupSince(ctx));
    if (c) return { case: c, by: 'subject' };
  }
  return null;
}

/** The Message-IDs a mail answers (In-Reply-To, References). */
export const threadRefs = (mail: MailInput) => [mail.inReplyTo, ...mail.references].filter((x): x is string => !!x);
export const threadBase = (mail: MailInput) => subjectInfo(mail.subject).base.toLowerCase();
export const followupSince = (ctx: AppContext) => new Date(ctx.now().getTime() - ctx.config.followupWindowDays * 86_400_000);
