import { audit } from '../audit';
import type { AppContext } from '../context';
import type { DbOrTx } from '../db/client';
import type { MailInput } from '../parse/read-mail';
import { detectIntent } from '../parse/intent';
import { subjectInfo } from '../parse/thread';
import type { PersonRecord } from '../parse/types';
import { mailboxKey, withdrawStaleRequests } from '../replies/enqueue';
import { followupSince, proposeCase, threadBase, threadRefs, type CaseRow } from './find-case';
import { CaseStore, withStore } from './store';
import { unsureReason } from '../parse/unsure';
import { hsaOrgNote } from './hsa-org';
import { insertPerson, matchPerson, mergeValues, statusFor, type PersonRow } from './persons';
import { nextCaseRef, refInSubject } from './refs';
import { answerOtherMail, chooseReplies } from './replies';
import { recordBounce } from './bounces';
import { sanitizeRecord } from './sanitize';
import { checkSender, type SenderStanding } from './sender-check';
import { createTasksForCase, refreshCaseStatus } from './create-tasks';

/**
 * What a mail does to cases, as small steps run in this order inside the intake transaction:
 *   1. proposeCase   threading proposes a case (In-Reply-To/References, reference, sender + subject)
 *   2. checkSender   the sender check decides whether the mail may change it
 *   3. checkCaps     too many persons (per mail, per case): the mail goes to review
 *   4. guardLeavers  a mail that announces a leaver never becomes a grant
 *   5. openOrMerge   a new case, or the persons merged into the proposed one
 *   6. makeTasks     grant and removal tasks for complete persons; case status follows
 *   7. chooseReplies which reply, and whether it may name persons
 * A step that settles the mail's fate returns `stop`.
 */

export interface MailWork {
  store: CaseStore;
  ctx: AppContext;
  mail: MailInput;
  /** Readable text of the mail (for the leaver check). */
  text: string;
  records: PersonRecord[];
  standing: SenderStanding;
  messageRowId: number;
  now: Date;
  /** Set by the steps. */
  proposed: CaseRow | null;
  case: CaseRow | null;
  /** Why the proposed case may not be changed ("hänvisar till LSP-… från en annan avsändare"). */
  refusal: string | null;
  /** Why the persons need IT staff before any task (leaver words, refused case). */
  personsReview: string | null;
  /** The mail goes to the review queue instead, with this reason. */
  mailReview: string | null;
  tasksCreated: number[];
  status: string;
  /** The case was opened by this mail (step 5). */
  opened: boolean;
}

export type CaseStep = (w: MailWork) => Promise<'stop' | void>;

const step1ProposeCase: CaseStep = async (w) => {
  w.proposed = (await proposeCase(w.store, w.ctx, w.mail))?.case ?? null;
};

const step2CheckSender: CaseStep = async (w) => {
  if (!w.proposed) return;
  const decision = checkSender(w.proposed, w.standing);
  if (decision.ok) w.case = w.proposed;
  else {
    w.refusal = decision.reason;
    w.personsReview = decision.reason;
  }
};

const step3CheckCaps: CaseStep = async (w) => {
  const { personsPerMail, personsPerCase } = w.ctx.config.caps;
  if (w.records.length > personsPerMail) {
    w.mailReview = `för många personer i ett mejl (${w.records.length}, gräns ${personsPerMail})`;
    return 'stop';
  }
  if (w.case) {
    const existing = await w.store.personsOf(w.case.id);
    const taken = new Set<number>();
    let added = 0;
    for (const r of w.records) {
      const m = matchPerson(existing, r, taken);
      if (m) taken.add(m.id);
      else added++;
    }
    if (existing.length + added > personsPerCase) {
      w.mailReview = `${w.case.ref} skulle få för många personer (${existing.length + added}, gräns ${personsPerCase})`;
      return 'stop';
    }
  }
};

const LEAVER_REASON = 'meddelandet säger att någon har slutat: kontrollera om behörighet ska tas bort (Åtgärd), inte läggas upp';

const step4GuardLeavers: CaseStep = async (w) => {
  // Until the parser marks each leaver, a mail whose words announce one while every person reads as
  // a grant goes to IT staff: such a mail must never become a grant.
  if (w.records.every((r) => r.intent === 'grant') && detectIntent(w.text, w.ctx.rules) === 'revoke') w.personsReview ??= LEAVER_REASON;
};

const step5OpenOrMerge: CaseStep = async (w) => {
  const { store, now, messageRowId } = w;
  const review = w.personsReview ? { status: 'needs_review' as const, reviewReason: w.personsReview } : {};
  if (!w.case) {
    w.case = await store.insertCase({
      ref: await nextCaseRef(store, now),
      status: 'waiting',
      providerName: w.standing.provider?.name ?? null,
      knownProvider: w.standing.provider !== null,
      senderVerified: w.standing.verified,
      refersToRef: w.refusal ? (w.proposed?.ref ?? null) : null,
      sender: w.mail.from,
      subject: w.mail.subject,
      threadSubject: subjectInfo(w.mail.subject).base.toLowerCase(),
      createdAt: now,
      updatedAt: now,
    });
    w.opened = true;
    await audit(
      store.tx,
      {
        actor: 'worker',
        action: 'case.created',
        caseId: w.case.id,
        messageRowId,
        after: w.refusal ? { reason: w.refusal } : undefined,
      },
      now,
    );
    for (const r of w.records)
      await insertPerson(store, w.case.id, r, messageRowId, now, {
        ...review,
        hsaNote: hsaOrgNote(w.ctx.rules, w.case.providerName, r.hsaId),
      });
  } else {
    await mergeInto(w, w.case, review);
  }
  // The mail's row is written by intake after the steps, with the case they chose.
};

async function mergeInto(w: MailWork, c: CaseRow, review: { status?: 'needs_review'; reviewReason?: string }): Promise<void> {
  const { store, now, messageRowId } = w;
  const existing = await store.personsOf(c.id);
  const taken = new Set<number>();
  // An id our own replies on this case wrote (an example, a value shown back) is never the provider's
  // word, whatever the reader made of the quote: it fills nothing. Names and functions are ordinary words.
  const ours = existing.length > 0 ? await store.ourWords(c.id) : '';
  for (const r0 of w.records) {
    const r = withoutOurIds(r0, ours);
    const match = matchPerson(existing, r0, taken);
    if (!match) {
      const unmatched =
        !r.name && existing.length > 0
          ? { status: 'needs_review' as const, reviewReason: 'kunde inte kopplas till en person i ärendet' }
          : {};
      // Values with no name that fit none of the case's persons: IT staff decide whose they are.
      await insertPerson(store, c.id, r, messageRowId, now, {
        ...unmatched,
        ...review,
        hsaNote: hsaOrgNote(w.ctx.rules, c.providerName, r.hsaId),
      });
      continue;
    }
    taken.add(match.id);
    if (match.status !== 'incomplete' && match.status !== 'needs_review') continue;
    const merged = { ...mergeValues(match, r, w.ctx.rules), ...(r.unsure ? { unsure: r.unsure } : {}) };
    store.updatePerson(match.id, {
      name: merged.name,
      function: merged.function,
      hsaId: merged.hsaId,
      treservaUser: merged.treservaUser,
      problems: merged.problems,
      status: review.status ?? statusFor(merged),
      reviewReason: review.reviewReason ?? (statusFor(merged) === 'needs_review' ? unsureReason(merged) : match.reviewReason),
      hsaNote: hsaOrgNote(w.ctx.rules, c.providerName, merged.hsaId),
      sourceMessageIds: [...new Set([...match.sourceMessageIds, messageRowId])],
      updatedAt: now,
    });
    await audit(
      store.tx,
      {
        actor: 'worker',
        action: 'person.merged',
        caseId: c.id,
        personId: match.id,
        messageRowId,
        before: fieldsOf(match),
        after: fieldsOf(merged),
      },
      now,
    );
  }
  // The provider wrote: the reminder count starts again and the "does not answer" flag is lifted.
  store.updateCase(c.id, { updatedAt: now, remindersSent: 0, providerSilentSince: null });
}

/** The record without the HSA-id and username our replies already hold (a value the case holds is kept: nothing new). */
function withoutOurIds(r: PersonRecord, ours: string): PersonRecord {
  if (ours === '') return r;
  const folded = ours.toUpperCase();
  const inOurs = (v: string) =>
    new RegExp(`(?<![A-Z0-9ÅÄÖ])${v.toUpperCase().replace(/[.*+?^${}()|[\]\\]/g, '\\$&')}(?![A-Z0-9ÅÄÖ])`).test(folded);
  const drop = (['hsaId', 'treservaUser'] as const).filter((f) => r[f] != null && inOurs(r[f]) && r.problems.every((p) => p.field !== f));
  if (drop.length === 0) return r;
  const out: PersonRecord = { ...r };
  for (const f of drop) out[f] = null;
  return out;
}

const fieldsOf = (p: Pick<PersonRow, 'name' | 'function' | 'hsaId' | 'treservaUser'>) => ({
  name: p.name,
  function: p.function,
  hsaId: p.hsaId,
  treservaUser: p.treservaUser,
});

const step6MakeTasks: CaseStep = async (w) => {
  const c = w.case!;
  w.tasksCreated = await createTasksForCase(w.store, c.id, 'worker', w.now);
  w.status = await refreshCaseStatus(w.store, c.id, w.now);
  // A case this mail opened has no replies yet: nothing to withdraw.
  if (w.status !== 'waiting' && !w.opened) await withdrawStaleRequests(w.store, c.id);
};

const step7ChooseReplies: CaseStep = async (w) => {
  await chooseReplies(w.store, w.ctx, {
    case: w.case!,
    mail: w.mail,
    standing: w.standing,
    messageRowId: w.messageRowId,
    status: w.status,
    tasksCreated: w.tasksCreated,
    now: w.now,
  });
};

export const NOTIFICATION_STEPS: readonly CaseStep[] = [
  step1ProposeCase,
  step2CheckSender,
  step3CheckCaps,
  step4GuardLeavers,
  step5OpenOrMerge,
  step6MakeTasks,
  step7ChooseReplies,
];

/**
 * What the steps will look up for a batch of mails, read ahead in one query per kind of look-up:
 * the cases their threading may find, those cases' persons, tasks and replies, the tasks of their
 * HSA-ids and usernames, their senders' reply counts. Ids for the rows they may make are reserved.
 */
export async function readAhead(
  store: CaseStore,
  ctx: AppContext,
  mails: Array<{ mail: MailInput; records: PersonRecord[] }>,
  now: Date,
  messageRows: number,
): Promise<void> {
  const base = (m: MailInput) =>
    m.from && ctx.config.followupWindowDays > 0 && threadBase(m) !== '' ? [{ sender: m.from, base: threadBase(m) }] : [];
  await store.loadThreads({
    refs: mails.flatMap((m) => threadRefs(m.mail)),
    caseRefs: mails.flatMap((m) => refInSubject(m.mail.subject) ?? []),
    subjects: mails.flatMap((m) => base(m.mail)),
    since: followupSince(ctx),
  });
  const records = mails
    .filter((m) => m.records.length <= ctx.config.caps.personsPerMail)
    .flatMap((m) => m.records.map((r) => sanitizeRecord(r, ctx.rules)));
  const held = [...store.cases.byId.keys()];
  await store.loadCases(
    held,
    { hsaIds: records.flatMap((r) => r.hsaId ?? []), users: records.flatMap((r) => r.treservaUser ?? []) },
    { day: new Date(now.getTime() - 86_400_000), hour: new Date(now.getTime() - 3_600_000) },
    mails.flatMap((m) => (m.mail.from ? [mailboxKey(m.mail.from)] : [])),
  );
  const open = store.persons.where((p) => p.status === 'incomplete' || p.status === 'needs_review' || p.status === 'complete').length;
  await store.reserve({
    messages: messageRows,
    cases: mails.filter((m) => m.records.length > 0).length,
    persons: records.length,
    tasks: records.length + open,
    outbox: mails.length,
  });
}

/** What intake hands the case steps: the mail and its parse, before any step has run. */
export type MailInputForCases = Pick<MailWork, 'mail' | 'text' | 'records' | 'standing' | 'messageRowId' | 'now'>;

/** Runs the steps for a notification. Returns its case, or the reason it goes to review instead. */
export async function handleNotification(
  db: DbOrTx | CaseStore,
  ctx: AppContext,
  input: MailInputForCases,
): Promise<{ caseId: number | null; review: string | null }> {
  return withStore(db, (store) => runSteps(store, ctx, input));
}

async function runSteps(
  store: CaseStore,
  ctx: AppContext,
  input: MailInputForCases,
): Promise<{ caseId: number | null; review: string | null }> {
  // Over the per-mail cap nothing else is looked at (a huge list costs nothing more).
  const over = input.records.length > ctx.config.caps.personsPerMail;
  const w: MailWork = {
    store,
    ctx,
    ...input,
    records: over ? input.records : input.records.map((r) => sanitizeRecord(r, ctx.rules)),
    proposed: null,
    case: null,
    refusal: null,
    personsReview: null,
    mailReview: null,
    tasksCreated: [],
    status: '',
    opened: false,
  };
  for (const s of NOTIFICATION_STEPS) if ((await s(w)) === 'stop') break;
  if (w.mailReview)
    return { caseId: null, review: w.proposed ? `${w.mailReview}; ${w.refusal ?? `hänvisar till ${w.proposed.ref}`}` : w.mailReview };
  return { caseId: w.case?.id ?? null, review: null };
}

/**
 * A human mail without data (or a bounce of our reply): shown on its case if it answers one and
 * its sender may change that case (and answered, see answerOtherMail); otherwise it waits in the
 * review queue, marked. A bounce is recorded on the reply it bounced.
 */
export async function attachOtherMail(
  store: CaseStore,
  input: {
    mail: MailInput;
    /** Readable text of the mail (what the sender wrote now decides the answer). */
    text: string;
    /** The raw mail (a bounce's attached original is read from it). */
    raw?: Buffer;
    standing: SenderStanding;
    messageRowId: number;
    now: Date;
    ctx: AppContext;
    kind: 'other' | 'automated';
  },
): Promise<{ caseId: number | null; review: string | null; bounce?: string }> {
  const { mail, kind } = input;
  if (kind === 'automated') {
    // A bounce of one of our replies: on that reply and its case, in Att granska.
    const bounced = await recordBounce(store.tx, {
      mail,
      text: input.text,
      ...(input.raw ? { raw: input.raw } : {}),
      messageRowId: input.messageRowId,
      now: input.now,
    });
    if (bounced) return { caseId: bounced.caseId, review: null, bounce: bounced.detail };
  }
  const proposed = (await proposeCase(store, input.ctx, mail))?.case;
  if (!proposed) return { caseId: null, review: null };
  if (kind === 'automated' && !(mail.inReplyTo || mail.references.length)) return { caseId: null, review: null };
  const decision = kind === 'automated' ? ({ ok: true } as const) : checkSender(proposed, input.standing);
  if (!decision.ok) return { caseId: null, review: decision.reason };
  // The mail itself waits in the review queue, linked to its case (intake writes the link); the case keeps waiting for the
  // provider (an out-of-office answer or our own request echoed back must not take it off that path).
  // Every provider mail gets an answer: what is still missing, or an acknowledgement of a question.
  if (kind === 'other')
    await answerOtherMail(store, input.ctx, {
      case: proposed,
      mail,
      text: input.text,
      standing: input.standing,
      messageRowId: input.messageRowId,
      now: input.now,
    });
  return { caseId: proposed.id, review: null };
}
