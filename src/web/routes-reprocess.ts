import type { FastifyInstance } from 'fastify';
import { reprocess, type ReprocessSelector } from '../cases/reprocess';
import type { AppContext } from '../context';
import { formField, notFound, parseId } from './http';
import { reviewQueueCount } from './queries';
import { withQuery } from './routes-cases';
import { sendPage } from './views';

/**
 * "Tolka igen": the current reader over one review mail or the whole review queue. The first press
 * is a dry run that shows what would change; "Tillämpa" then does it (audited per mail).
 */
export function registerReprocessRoutes(app: FastifyInstance, ctx: AppContext): void {
  const run = async (select: ReprocessSelector, apply: boolean, actor: string) => reprocess(ctx, select, { dryRun: !apply, actor });

  app.post('/messages/:id/reprocess', async (req, reply) => {
    const id = parseId((req.params as { id: string }).id);
    if (id == null) throw notFound();
    const apply = formField(req.body, 'apply') === '1';
    const changes = await run({ messageId: id }, apply, req.staff!.actor);
    const caseId = changes[0]?.caseId;
    if (apply)
      return reply.redirect(
        caseId ? withQuery(`/cases/${caseId}`, { ok: 'reprocessed' }) : withQuery('/review', { ok: 'reprocessed' }),
        303,
      );
    return sendPage(reply, 'reprocess', {
      title: 'Tolka igen',
      staff: req.staff,
      nav: 'review',
      reviewCount: await reviewQueueCount(ctx.database.db),
      changes,
      action: `/messages/${id}/reprocess`,
    });
  });

  app.post('/review/reprocess', async (req, reply) => {
    const apply = formField(req.body, 'apply') === '1';
    const changes = await run({ review: true }, apply, req.staff!.actor);
    if (apply) return reply.redirect(withQuery('/review', { ok: 'reprocessed' }), 303);
    return sendPage(reply, 'reprocess', {
      title: 'Tolka igen',
      staff: req.staff,
      nav: 'review',
      reviewCount: await reviewQueueCount(ctx.database.db),
      changes,
      action: '/review/reprocess',
    });
  });
}
