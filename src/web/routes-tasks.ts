import type { FastifyInstance } from 'fastify';
import Papa from 'papaparse';
import { audit } from '../audit';
import type { AppContext } from '../context';
import type { TaskStatus } from '../db/schema';
import { maskPersonnummerInText } from '../cases/sanitize';
import { finishTask, releaseTask, takeTask } from '../tasks/actions';
import { formField, notFound, parseId } from './http';
import { TASK_ACTION, TASK_STATUS } from './labels';
import { reviewQueueCount, taskBoard, tasksForExport } from './queries';
import { act, notices } from './routes-cases';
import { helpers, sendPage } from './views';

/** The task board, taking and finishing tasks, and the CSV export. */

const TASK_STATUSES = Object.keys(TASK_STATUS) as TaskStatus[];

export const CSV_COLUMNS = [
  'Uppgift',
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

/**
 * A cell Excel or LibreOffice must never run: a value (or any line of a multi-line value) starting
 * with =, +, -, @, tab or carriage return gets a leading apostrophe. Personnummer are masked.
 */
export function csvCell(value: string | number): string | number {
  if (typeof value === 'number') return value;
  return maskPersonnummerInText(value).replace(/(^|\n)([=+\-@\t\r])/g, "$1'$2");
}

export function registerTaskRoutes(app: FastifyInstance, ctx: AppContext): void {
  const db = ctx.database.db;

  app.get('/tasks', async (req, reply) => {
    const [board, reviewCount] = await Promise.all([taskBoard(db), reviewQueueCount(db)]);
    return sendPage(reply, 'tasks', {
      title: 'Uppgifter',
      staff: req.staff,
      nav: 'tasks',
      reviewCount,
      ...notices(req),
      board,
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

  app.get('/tasks.csv', async (req, reply) => {
    const q = req.query as { status?: unknown };
    const status = typeof q.status === 'string' && (TASK_STATUSES as string[]).includes(q.status) ? (q.status as TaskStatus) : null;
    const rows = await tasksForExport(db, status);
    const now = ctx.now();
    await audit(db, { actor: req.staff!.actor, action: 'tasks.exported', after: { status, count: rows.length } }, now);
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
      .header('Content-Disposition', `attachment; filename="uppgifter-${status ?? 'alla'}-${day}.csv"`)
      .send(`\ufeff${csv}\r\n`);
  });
}
