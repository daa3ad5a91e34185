import type { FastifyInstance } from 'fastify';
import Papa from 'papaparse';
import { audit } from '../audit';
import type { AppContext } from '../context';
import type { TaskStatus } from '../db/schema';
import { AppError } from '../errors';
import { finishTask, releaseTask, takeTask } from '../tasks/actions';
import { formField, notFound, parseId } from './http';
import { TASK_ACTION, TASK_STATUS } from './labels';
import { csvCell } from './csv';
import { dateRange } from './dates';
import { groupByCase, reviewQueueCount, taskBoard, tasksForExport, type BoardFilter } from './queries';
import { act, notices } from './routes-cases';
import { helpers, sendPage } from './views';

/** The task board, taking and finishing tasks, and the CSV export. */

const TASK_STATUSES = Object.keys(TASK_STATUS) as TaskStatus[];

export const CSV_COLUMNS = [
  'Uppdrag',
  'Ärende',
  'Status',
  'Namn',
  'Funktion',
  'HSA-id',
  'Användarnamn i Treserva/TES',
  'Utförare',
  'Avsändare',
  'Tilldelad',
  'Skapad',
  'Tagen',
  'Klar',
  'Anteckning',
  'Åtgärd',
  'Avsändare verifierad',
  'Gjord av',
] as const;

export { csvCell };

const BULK_MAX = 200;

/** The board's filter from the query string (status, action, provider, mine). */
function boardFilter(query: unknown, me: string): BoardFilter & { view: Record<string, string | null> } {
  const q = (query ?? {}) as Record<string, unknown>;
  const status = typeof q.status === 'string' && (TASK_STATUSES as string[]).includes(q.status) ? (q.status as TaskStatus) : null;
  const action = q.action === 'grant' || q.action === 'revoke' ? q.action : null;
  const provider = typeof q.provider === 'string' && q.provider.trim() ? q.provider.trim().slice(0, 200) : null;
  const mine = q.mine === '1';
  return {
    status,
    action,
    provider,
    mine: mine ? me : null,
    view: { status, action, provider, mine: mine ? '1' : null },
  };
}

/** Back to the board with the same filter (only known keys, so the redirect stays on /tasks). */
function boardUrl(body: unknown, extra: Record<string, string | number>, hash = ''): string {
  const keep: Record<string, string> = {};
  for (const k of ['status', 'action', 'provider', 'mine']) {
    const v = formField(body, `f_${k}`);
    if (v) keep[k] = v.slice(0, 200);
  }
  const qs = new URLSearchParams({ ...keep, ...Object.fromEntries(Object.entries(extra).map(([k, v]) => [k, String(v)])) }).toString();
  return `/tasks${qs ? `?${qs}` : ''}${hash}`;
}

function idsFrom(body: unknown): number[] {
  const raw = body && typeof body === 'object' ? (body as Record<string, unknown>).ids : undefined;
  const list = Array.isArray(raw) ? raw : raw === undefined ? [] : [raw];
  const ids = new Set<number>();
  for (const v of list) {
    const id = parseId(v);
    if (id != null) ids.add(id);
    if (ids.size >= BULK_MAX) break;
  }
  return [...ids];
}

/** Swedish words for why one task of a bulk action was left as it was. */
const BULK_REASON: Record<string, string> = {
  'taken-by-other': 'tagna av någon annan',
  'not-yours': 'tagna av någon annan',
  'confirm-required': 'kräver "kontrollerat med utföraren"',
  'four-eyes': 'rättade av dig (fyra ögon)',
  CONFLICT: 'inte längre öppna',
  NOT_FOUND: 'finns inte',
};

export function registerTaskRoutes(app: FastifyInstance, ctx: AppContext): void {
  const db = ctx.database.db;

  app.get('/tasks', async (req, reply) => {
    const filter = boardFilter(req.query, req.staff!.username);
    const [board, reviewCount] = await Promise.all([taskBoard(db, 100, filter), reviewQueueCount(db)]);
    const q = req.query as { bulk?: unknown; n?: unknown; skipped?: unknown; why?: unknown };
    let bulkNotice: string | null = null;
    let bulkError: string | null = null;
    if ((q.bulk === 'take' || q.bulk === 'done') && typeof q.n === 'string' && /^\d{1,4}$/.test(q.n)) {
      const n = Number(q.n);
      const skipped = typeof q.skipped === 'string' && /^\d{1,4}$/.test(q.skipped) ? Number(q.skipped) : 0;
      bulkNotice =
        q.bulk === 'take' ? `Du har tagit ${n} uppdrag.` : `${n} uppdrag ${n === 1 ? 'markerat som klart' : 'markerade som klara'}.`;
      if (skipped > 0) {
        const why =
          typeof q.why === 'string'
            ? q.why
                .split(',')
                .map((w) => BULK_REASON[w])
                .filter(Boolean)
            : [];
        bulkError = `${skipped} uppdrag ändrades inte${why.length ? ` (${[...new Set(why)].join(', ')})` : ''}.`;
      }
    }
    const base = notices(req);
    return sendPage(reply, 'tasks', {
      title: 'Uppdrag',
      staff: req.staff,
      nav: 'tasks',
      reviewCount,
      notice: bulkNotice ?? base.notice,
      error: bulkError ?? base.error,
      board,
      groups: {
        removals: groupByCase(board.removals),
        open: groupByCase(board.open),
        inProgress: groupByCase(board.inProgress),
        done: groupByCase(board.done),
      },
      filter,
      view: filter.view,
      statuses: TASK_STATUSES.filter((x) => x !== 'cancelled'),
      confirm: ctx.config.replies.doneConfirmation,
      fourEyes: ctx.config.taskFourEyes,
    });
  });

  app.post('/tasks/:id/take', async (req, reply) => {
    const id = parseId((req.params as { id: string }).id);
    if (id == null) throw notFound();
    return act(reply, `/tasks#task-${id}`, async () => {
      await takeTask(db, id, req.staff!.actor, ctx.now());
      return 'taken';
    });
  });

  app.post('/tasks/:id/release', async (req, reply) => {
    const id = parseId((req.params as { id: string }).id);
    if (id == null) throw notFound();
    return act(reply, `/tasks#task-${id}`, async () => {
      await releaseTask(db, id, req.staff!.actor, ctx.now());
      return 'task-released';
    });
  });

  app.post('/tasks/:id/done', async (req, reply) => {
    const id = parseId((req.params as { id: string }).id);
    if (id == null) throw notFound();
    const note = formField(req.body, 'note');
    const confirmedWithProvider = formField(req.body, 'confirmedWithProvider') === 'true';
    return act(reply, `/tasks#task-${id}`, async () => {
      const { replyId } = await finishTask(db, ctx.config, ctx.rules, id, req.staff!.actor, note, ctx.now(), { confirmedWithProvider });
      return replyId != null ? 'done-mail' : 'done';
    });
  });

  /** Bulk take / done: each task in its own transaction with its own audit event, as if taken one by one. */
  for (const kind of ['take', 'done'] as const) {
    app.post(`/tasks/bulk/${kind}`, async (req, reply) => {
      const ids = idsFrom(req.body);
      if (ids.length === 0) return reply.redirect(boardUrl(req.body, { err: 'none-selected' }), 303);
      const note = formField(req.body, 'note');
      const confirmedWithProvider = formField(req.body, 'confirmedWithProvider') === 'true';
      let n = 0;
      const why = new Set<string>();
      for (const id of ids) {
        try {
          if (kind === 'take') await takeTask(db, id, req.staff!.actor, ctx.now());
          else await finishTask(db, ctx.config, ctx.rules, id, req.staff!.actor, note, ctx.now(), { confirmedWithProvider });
          n++;
        } catch (e) {
          if (!(e instanceof AppError) || (e.code !== 'CONFLICT' && e.code !== 'NOT_FOUND')) throw e;
          why.add(typeof e.context.reason === 'string' ? e.context.reason : e.code);
        }
      }
      const skipped = ids.length - n;
      return reply.redirect(boardUrl(req.body, { bulk: kind, n, ...(skipped ? { skipped, why: [...why].join(',') } : {}) }), 303);
    });
  }

  app.get('/tasks.csv', async (req, reply) => {
    const q = req.query as { status?: unknown };
    const status = typeof q.status === 'string' && (TASK_STATUSES as string[]).includes(q.status) ? (q.status as TaskStatus) : null;
    const range = dateRange(req.query);
    const rows = await tasksForExport(db, status, range);
    const now = ctx.now();
    await audit(
      db,
      { actor: req.staff!.actor, action: 'tasks.exported', after: { status, count: rows.length, from: range.fromText, to: range.toText } },
      now,
    );
    const csv = Papa.unparse(
      {
        fields: [...CSV_COLUMNS],
        data: rows.map((t) =>
          [
            t.id,
            t.caseRef,
            TASK_STATUS[t.status],
            t.name,
            t.function,
            t.hsaId,
            t.treservaUser,
            t.providerName ?? '',
            t.sender ?? '',
            t.assignee ?? '',
            helpers.date(t.createdAt),
            helpers.date(t.takenAt),
            helpers.date(t.doneAt),
            t.note ?? '',
            TASK_ACTION[t.action],
            t.senderVerified ? 'ja' : 'nej',
            t.doneBy ?? '',
          ].map(csvCell),
        ),
      },
      // Semicolons for Swedish Excel; every cell through csvCell, so none runs as a formula.
      { delimiter: ';', newline: '\r\n', escapeFormulae: false },
    );
    const day = now.toISOString().slice(0, 10);
    return reply
      .type('text/csv; charset=utf-8')
      .header(
        'Content-Disposition',
        `attachment; filename="uppdrag-${status ?? 'alla'}${range.fromText ? `-fran-${range.fromText}` : ''}${range.toText ? `-till-${range.toText}` : ''}-${day}.csv"`,
      )
      .send(`\ufeff${csv}\r\n`);
  });
}
