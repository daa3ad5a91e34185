import type { FastifyInstance, FastifyReply, FastifyRequest } from 'fastify';
import { audit } from '../audit';
import { correctPerson, type FieldValues } from '../cases/persons';
import { addCaseNote, createCaseFromMessage, notesOf, queueManualReply, rejectPerson } from '../cases/staff-actions';
import type { AppContext } from '../context';
import type { CaseStatus, PersonStatus } from '../db/schema';
import { AppError } from '../errors';
import { FIELDS } from '../parse/types';
import { requeueReply } from '../replies/requeue';
import { holdReply, rejectCase, releaseReply, settleMessage } from '../tasks/actions';
import { formField, notFound, parseId } from './http';
import { CASE_STATUSES, ERROR_NOTICE, NOTICE, personStatus } from './labels';
import { dateRange } from './dates';
import { CASE_SORTS, caseDetail, caseStatusCounts, listCases, reviewQueue, reviewQueueCount, type CaseSort } from './queries';
import { sendPage } from './views';

/** Case list, case page, review queue and the corrections made from them. */

const PERSONS_PER_PAGE = 50;
const EDITABLE: ReadonlySet<PersonStatus> = new Set(['incomplete', 'complete', 'needs_review', 'duplicate']);

/** Where on the case page a result is shown: next to the form that was sent (`?at=person-3`). */
const AT = /^(person-[0-9]{1,9}|notes|manual-reply)$/;

/** `/cases/7#person-3` + {ok: 'corrected'} → `/cases/7?ok=corrected#person-3`. */
export function withQuery(target: string, params: Record<string, string>): string {
  const [pathAndQuery, hash] = target.split('#', 2) as [string, string | undefined];
  const sep = pathAndQuery.includes('?') ? '&' : '?';
  return `${pathAndQuery}${sep}${new URLSearchParams(params).toString()}${hash ? `#${hash}` : ''}`;
}

/** Where a form may send the user back to: the review queue or a case page. */
function safeBack(value: string, fallback: string): string {
  return /^\/(review|cases\/[0-9]{1,9})(#[a-z0-9-]+)?$/.test(value) ? value : fallback;
}

/** Runs a change; on success back to `target` with a notice, on a known refusal back with an error. */
export async function act(reply: FastifyReply, target: string, fn: () => Promise<string | { err: string }>): Promise<FastifyReply> {
  try {
    const ok = await fn();
    return reply.redirect(withQuery(target, typeof ok === 'string' ? { ok } : ok), 303);
  } catch (e) {
    if (e instanceof AppError && (e.code === 'CONFLICT' || e.code === 'NOT_FOUND' || e.code === 'INVALID_INPUT')) {
      const reason = typeof e.context.reason === 'string' ? e.context.reason : null;
      const err = reason && reason in ERROR_NOTICE ? reason : e.code;
      return reply.redirect(withQuery(target, { err }), 303);
    }
    throw e;
  }
}

/** Notice and error texts from `?ok=` / `?err=` after a redirect. */
export function notices(req: FastifyRequest): { notice: string | null; error: string | null } {
  const q = req.query as { ok?: unknown; err?: unknown };
  return {
    notice: typeof q.ok === 'string' ? (NOTICE[q.ok] ?? null) : null,
    error: typeof q.err === 'string' ? (ERROR_NOTICE[q.err] ?? null) : null,
  };
}

export function registerCaseRoutes(app: FastifyInstance, ctx: AppContext): void {
  const db = ctx.database.db;

  app.get('/cases', async (req, reply) => {
    const q = req.query as { status?: unknown; q?: unknown; page?: unknown; sort?: unknown; dir?: unknown; mine?: unknown };
    const status = typeof q.status === 'string' && (CASE_STATUSES as string[]).includes(q.status) ? (q.status as CaseStatus) : null;
    const search = typeof q.q === 'string' ? q.q.trim().slice(0, 100) : '';
    const page = typeof q.page === 'string' && /^[0-9]{1,6}$/.test(q.page) ? Number(q.page) : 1;
    const sort = typeof q.sort === 'string' && (CASE_SORTS as readonly string[]).includes(q.sort) ? (q.sort as CaseSort) : null;
    const dir = q.dir === 'asc' || q.dir === 'desc' ? q.dir : null;
    const mine = q.mine === '1';
    const range = dateRange(req.query);
    const [list, counts, reviewCount] = await Promise.all([
      listCases(db, {
        status,
        q: search,
        page,
        sort: sort ?? 'updated',
        dir: dir ?? 'desc',
        from: range.from,
        to: range.to,
        mine: mine ? req.staff!.username : null,
      }),
      caseStatusCounts(db),
      reviewQueueCount(db),
    ]);
    return sendPage(reply, 'cases', {
      title: 'Ärenden',
      staff: req.staff,
      nav: 'cases',
      reviewCount,
      ...notices(req),
      list,
      counts,
      status,
      q: search,
      statuses: CASE_STATUSES,
      sort,
      dir,
      mine,
      range,
      now: ctx.now(),
      /** Query of the current list view, for links that change one thing. */
      view: { status, q: search, sort, dir, mine: mine ? '1' : null, from: range.fromText, to: range.toText },
    });
  });

  app.get('/cases/:id', async (req, reply) => {
    const id = parseId((req.params as { id: string }).id);
    if (id == null) throw notFound();
    const detail = await caseDetail(db, id);
    if (!detail) throw notFound();
    const staff = req.staff!;
    // The domain asks to log who reads records.
    await audit(db, { actor: staff.actor, action: 'case.viewed', caseId: id }, ctx.now());
    const taskByPerson = new Map(detail.tasks.map((t) => [t.personId, t]));
    // Persons are paged: a case page stays small however many persons a case has.
    const personPages = Math.max(1, Math.ceil(detail.persons.length / PERSONS_PER_PAGE));
    const pq = (req.query as { ppage?: unknown }).ppage;
    const personPage = Math.min(personPages, typeof pq === 'string' && /^[0-9]{1,6}$/.test(pq) ? Math.max(1, Number(pq)) : 1);
    const offset = (personPage - 1) * PERSONS_PER_PAGE;
    const open = detail.case.status !== 'rejected' && detail.case.status !== 'done';
    const persons = detail.persons.slice(offset, offset + PERSONS_PER_PAGE).map((p, i) => {
      const task = taskByPerson.get(p.id) ?? null;
      const taskLive = task !== null && (task.status === 'open' || task.status === 'in_progress');
      return {
        ...p,
        index: offset + i + 1,
        editable: open && (EDITABLE.has(p.status) || (p.status === 'task_created' && taskLive)),
        rejectable: open && p.status !== 'rejected' && task?.status !== 'done',
        task,
        statusLabel: personStatus(p.status, task),
        statusClass: task?.status === 'done' ? 'ps-granted' : `ps-${p.status}`,
        problemsFor: (f: string) => p.problems.filter((pr) => pr.field === f),
      };
    });
    const atRaw = (req.query as { at?: unknown }).at;
    const at = typeof atRaw === 'string' && AT.test(atRaw) ? atRaw : null;
    const personsFrom = (messageId: number) => persons.filter((p) => p.sourceMessageIds.includes(messageId));
    const timeline = detail.events.filter((e) => e.action !== 'case.viewed' && e.action !== 'case.note');
    const views = detail.events.filter((e) => e.action === 'case.viewed').slice(0, 10);
    return sendPage(reply, 'case', {
      title: `${detail.case.ref}`,
      staff,
      nav: 'cases',
      reviewCount: await reviewQueueCount(db),
      ...notices(req),
      noticeAt: at,
      noticeInPlace: at !== null,
      notes: notesOf(detail.events),
      c: detail.case,
      persons,
      personsTotal: detail.persons.length,
      personPage,
      personPages,
      personsFrom,
      messages: detail.messages,
      replies: detail.replies,
      tasks: detail.tasks,
      timeline,
      views,
      canReject: detail.case.status !== 'rejected' && detail.case.status !== 'done',
      rules: ctx.rules,
    });
  });

  app.post('/cases/:id/reject', async (req, reply) => {
    const id = parseId((req.params as { id: string }).id);
    if (id == null) throw notFound();
    const reason = formField(req.body, 'reason').trim();
    if (!reason) return reply.redirect(withQuery(`/cases/${id}#reject`, { err: 'reason-required' }), 303);
    return act(reply, `/cases/${id}`, async () => {
      await rejectCase(db, id, reason, req.staff!.actor, ctx.now());
      return 'rejected';
    });
  });

  app.post('/persons/:id', async (req, reply) => {
    const id = parseId((req.params as { id: string }).id);
    const caseId = parseId(formField(req.body, 'caseId'));
    if (id == null || caseId == null) throw notFound();
    const values: FieldValues = {};
    for (const f of FIELDS) {
      const raw = (req.body as Record<string, unknown> | undefined)?.[f];
      if (typeof raw === 'string') values[f] = raw.slice(0, 200);
    }
    const intentField = formField(req.body, 'intent');
    const intent = intentField === 'grant' || intentField === 'revoke' ? intentField : undefined;
    return act(reply, `/cases/${caseId}?at=person-${id}#person-${id}`, async () => {
      // The person must belong to the case named by the form, and the case must still be open.
      const { person, tasksCreated, taskUpdated } = await correctPerson(db, ctx.rules, id, values, req.staff!.actor, ctx.now(), {
        caseId,
        ...(intent ? { intent } : {}),
      });
      // Honest: saved with problems left is not "sparad" in green.
      if (person.problems.length > 0) return { err: 'still-problems' };
      if (person.status === 'duplicate' || person.status === 'needs_review') return { err: 'saved-review' };
      return taskUpdated ? 'task-updated' : tasksCreated.length > 0 ? 'task-created' : 'corrected';
    });
  });

  app.post('/persons/:id/reject', async (req, reply) => {
    const id = parseId((req.params as { id: string }).id);
    const caseId = parseId(formField(req.body, 'caseId'));
    if (id == null || caseId == null) throw notFound();
    const reason = formField(req.body, 'reason');
    return act(reply, `/cases/${caseId}?at=person-${id}#person-${id}`, async () => {
      if (!reason.trim()) return { err: 'reason-required' };
      await rejectPerson(db, id, caseId, reason, req.staff!.actor, ctx.now());
      return 'person-rejected';
    });
  });

  app.post('/cases/:id/notes', async (req, reply) => {
    const id = parseId((req.params as { id: string }).id);
    if (id == null) throw notFound();
    const text = formField(req.body, 'note');
    return act(reply, `/cases/${id}?at=notes#notes`, async () => {
      if (!text.trim()) return { err: 'note-required' };
      await addCaseNote(db, id, text, req.staff!.actor, ctx.now());
      return 'note-added';
    });
  });

  app.post('/cases/:id/reply', async (req, reply) => {
    const id = parseId((req.params as { id: string }).id);
    if (id == null) throw notFound();
    const text = formField(req.body, 'body');
    return act(reply, `/cases/${id}?at=manual-reply#manual-reply`, async () => {
      if (!text.trim()) return { err: 'reply-required' };
      await queueManualReply(db, ctx.config, id, text, req.staff!, ctx.now());
      return 'manual-reply';
    });
  });

  app.post('/messages/:id/create-case', async (req, reply) => {
    const id = parseId((req.params as { id: string }).id);
    if (id == null) throw notFound();
    let caseId: number | null = null;
    try {
      caseId = await createCaseFromMessage(db, ctx.rules, id, req.staff!.actor, ctx.now());
    } catch (e) {
      if (e instanceof AppError && (e.code === 'CONFLICT' || e.code === 'NOT_FOUND'))
        return reply.redirect(withQuery(`/review#message-${id}`, { err: e.code }), 303);
      throw e;
    }
    return reply.redirect(withQuery(`/cases/${caseId}`, { ok: 'case-created' }), 303);
  });

  app.post('/messages/:id/assign', async (req, reply) => {
    const id = parseId((req.params as { id: string }).id);
    if (id == null) throw notFound();
    const ref = formField(req.body, 'caseRef').trim();
    if (!ref) return reply.redirect(withQuery(`/review#message-${id}`, { err: 'case-not-found' }), 303);
    return act(reply, `/review`, async () => {
      try {
        await settleMessage(db, id, { caseRef: ref }, req.staff!.actor, ctx.now());
      } catch (e) {
        // the message exists (settleMessage checks it first), so NOT_FOUND here is the case reference
        if (e instanceof AppError && e.code === 'NOT_FOUND' && /^case /.test(e.message))
          throw new AppError('NOT_FOUND', e.message, { reason: 'case-not-found' });
        throw e;
      }
      return 'assigned';
    });
  });

  app.post('/messages/:id/not-relevant', async (req, reply) => {
    const id = parseId((req.params as { id: string }).id);
    if (id == null) throw notFound();
    return act(reply, safeBack(formField(req.body, 'back'), '/review'), async () => {
      await settleMessage(db, id, { notRelevant: true }, req.staff!.actor, ctx.now());
      return 'not-relevant';
    });
  });

  /** A message that went to review on its case ("the provider wrote something"): seen, nothing more to do. */
  app.post('/messages/:id/settle', async (req, reply) => {
    const id = parseId((req.params as { id: string }).id);
    const caseId = parseId(formField(req.body, 'caseId'));
    if (id == null || caseId == null) throw notFound();
    return act(reply, `/cases/${caseId}#message-${id}`, async () => {
      await settleMessage(db, id, { caseId }, req.staff!.actor, ctx.now());
      return 'settled';
    });
  });

  for (const [action, fn, ok] of [
    ['hold', holdReply, 'held'],
    ['release', releaseReply, 'released'],
    ['requeue', requeueReply, 'requeued'],
  ] as const) {
    app.post(`/replies/:id/${action}`, async (req, reply) => {
      const id = parseId((req.params as { id: string }).id);
      const caseId = parseId(formField(req.body, 'caseId'));
      if (id == null || caseId == null) throw notFound();
      return act(reply, `/cases/${caseId}#reply-${id}`, async () => {
        await fn(db, id, req.staff!.actor, ctx.now(), caseId);
        return ok;
      });
    });
  }

  app.get('/review', async (req, reply) => {
    const [queue, reviewCount] = await Promise.all([reviewQueue(db), reviewQueueCount(db)]);
    return sendPage(reply, 'review', {
      title: 'Att granska',
      staff: req.staff,
      nav: 'review',
      reviewCount,
      ...notices(req),
      queue,
    });
  });
}
