import { and, desc, eq, sql, type SQL } from 'drizzle-orm';
import type { FastifyInstance } from 'fastify';
import { audit } from '../audit';
import type { AppContext } from '../context';
import type { Db } from '../db/client';
import { auditEvents, cases } from '../db/schema';
import { csvText, sendCsv } from './csv';
import { dateRange, dayOf, type DateRange } from './dates';
import { AUDIT_ACTION } from './labels';
import { likePattern, reviewQueueCount } from './queries';
import { requireAdmin } from './routes-admin';
import { notices } from './routes-cases';
import { helpers, sendPage } from './views';

/**
 * The audit log for controls (admins): search by who, what, case and free text in before/after,
 * over a date range; the same selection as CSV. Both the search and the export are audited.
 */

const PAGE = 100;
const EXPORT_MAX = 50_000;

export interface AuditFilter {
  actor: string;
  action: string;
  caseRef: string;
  q: string;
  range: DateRange;
}

function filterFrom(query: unknown): AuditFilter {
  const q = (query ?? {}) as Record<string, unknown>;
  const text = (k: string, max = 100) =>
    typeof q[k] === 'string'
      ? (q[k] as string)
          .replace(/[\u0000-\u001f]/g, ' ')
          .trim()
          .slice(0, max)
      : '';
  const action = text('action', 60);
  return {
    actor: text('actor'),
    action: /^[a-z_.]+$/.test(action) ? action : '',
    caseRef: text('case', 40),
    q: text('q'),
    range: dateRange(query),
  };
}

function whereFor(f: AuditFilter): SQL | undefined {
  const conds: SQL[] = [];
  if (f.actor) conds.push(sql`lower(${auditEvents.actor}) like ${likePattern(f.actor.toLowerCase())}`);
  if (f.action) conds.push(eq(auditEvents.action, f.action));
  if (f.caseRef) conds.push(sql`lower(${cases.ref}) like ${likePattern(f.caseRef.toLowerCase())}`);
  if (f.q)
    conds.push(
      sql`lower(coalesce(${auditEvents.before}::text, '') || ' ' || coalesce(${auditEvents.after}::text, '')) like ${likePattern(f.q.toLowerCase())}`,
    );
  if (f.range.from) conds.push(sql`${auditEvents.at} >= ${f.range.from.toISOString()}`);
  if (f.range.to) conds.push(sql`${auditEvents.at} < ${f.range.to.toISOString()}`);
  return conds.length ? and(...conds) : undefined;
}

async function searchAudit(db: Db, f: AuditFilter, limit: number, offset: number) {
  return db
    .select({
      id: auditEvents.id,
      at: auditEvents.at,
      actor: auditEvents.actor,
      action: auditEvents.action,
      caseId: auditEvents.caseId,
      caseRef: cases.ref,
      personId: auditEvents.personId,
      taskId: auditEvents.taskId,
      messageId: auditEvents.messageId,
      before: auditEvents.before,
      after: auditEvents.after,
      total: sql<number>`count(*) over()`.mapWith(Number),
    })
    .from(auditEvents)
    .leftJoin(cases, eq(cases.id, auditEvents.caseId))
    .where(whereFor(f))
    .orderBy(desc(auditEvents.at), desc(auditEvents.id))
    .limit(limit)
    .offset(offset);
}

const changesText = (before: unknown, after: unknown) =>
  helpers
    .changes(before, after)
    .map((c) => `${c.key}: ${c.from !== null ? `${c.from} → ` : ''}${c.to}`)
    .join('; ');

export function registerAuditRoutes(app: FastifyInstance, ctx: AppContext): void {
  const db = ctx.database.db;

  app.get('/audit', async (req, reply) => {
    if (!requireAdmin(req, reply)) return reply;
    const f = filterFrom(req.query);
    const pq = (req.query as { page?: unknown }).page;
    const page = typeof pq === 'string' && /^[0-9]{1,5}$/.test(pq) ? Math.max(1, Number(pq)) : 1;
    const [rows, reviewCount] = await Promise.all([searchAudit(db, f, PAGE, (page - 1) * PAGE), reviewQueueCount(db)]);
    const total = rows[0]?.total ?? 0;
    return sendPage(reply, 'audit', {
      title: 'Händelselogg',
      staff: req.staff,
      nav: 'audit',
      reviewCount,
      ...notices(req),
      f,
      rows: rows.map((r) => ({ ...r, changes: changesText(r.before, r.after) })),
      total,
      page,
      pages: Math.max(1, Math.ceil(total / PAGE)),
      actions: Object.entries(AUDIT_ACTION).sort((a, b) => a[1].localeCompare(b[1], 'sv')),
      view: { actor: f.actor, action: f.action, case: f.caseRef, q: f.q, from: f.range.fromText, to: f.range.toText },
    });
  });

  app.get('/audit.csv', async (req, reply) => {
    if (!requireAdmin(req, reply)) return reply;
    const f = filterFrom(req.query);
    const rows = await searchAudit(db, f, EXPORT_MAX, 0);
    const now = ctx.now();
    await audit(
      db,
      {
        actor: req.staff!.actor,
        action: 'audit.exported',
        after: {
          count: rows.length,
          actor: f.actor,
          action: f.action,
          case: f.caseRef,
          q: f.q,
          from: f.range.fromText,
          to: f.range.toText,
        },
      },
      now,
    );
    const body = csvText(
      ['Händelse', 'Tid', 'Vem', 'Vad', 'Åtgärdskod', 'Ärende', 'Person', 'Uppdrag', 'Meddelande', 'Ändringar'],
      rows.map((r) => [
        r.id,
        helpers.date(r.at),
        helpers.actor(r.actor),
        AUDIT_ACTION[r.action] ?? r.action,
        r.action,
        r.caseRef ?? '',
        r.personId ?? '',
        r.taskId ?? '',
        r.messageId ?? '',
        changesText(r.before, r.after),
      ]),
    );
    return sendCsv(reply, `handelselogg-${dayOf(now)}.csv`, body);
  });
}
