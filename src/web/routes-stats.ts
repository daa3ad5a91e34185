import type { FastifyInstance } from 'fastify';
import { audit } from '../audit';
import type { AppContext } from '../context';
import { csvText, decimal, sendCsv } from './csv';
import { dateRange, dayOf } from './dates';
import { reviewQueueCount } from './queries';
import { notices } from './routes-cases';
import { isoWeek, loadStats, share, weeklyChartSvg } from './stats';
import { sendPage } from './views';

/** The statistics page for the team lead and its CSV. Default range: the last 12 weeks. */

function rangeOrDefault(query: unknown, now: Date) {
  const r = dateRange(query);
  if (r.from || r.to) return r;
  return dateRange({ from: dayOf(new Date(now.getTime() - 12 * 7 * 86_400_000)), to: dayOf(now) });
}

export function registerStatsRoutes(app: FastifyInstance, ctx: AppContext): void {
  const db = ctx.database.db;

  app.get('/stats', async (req, reply) => {
    const range = rangeOrDefault(req.query, ctx.now());
    const [stats, reviewCount] = await Promise.all([loadStats(db, range.from, range.to), reviewQueueCount(db)]);
    return sendPage(reply, 'stats', {
      title: 'Statistik',
      staff: req.staff,
      nav: 'stats',
      reviewCount,
      ...notices(req),
      range,
      stats,
      chart: weeklyChartSvg(stats.weeks),
      isoWeek,
      share,
    });
  });

  app.get('/stats.csv', async (req, reply) => {
    const range = rangeOrDefault(req.query, ctx.now());
    const stats = await loadStats(db, range.from, range.to);
    await audit(db, { actor: req.staff!.actor, action: 'stats.exported', after: { from: range.fromText, to: range.toText } }, ctx.now());
    const data: Array<Array<string | number | null>> = [];
    for (const w of stats.weeks)
      data.push(['vecka', `${w.week.slice(0, 4)}-v${String(isoWeek(w.week)).padStart(2, '0')}`, w.cases, w.persons, '', '', '', '', '']);
    const t = stats.totals;
    data.push(['totalt', '', t.cases, t.persons, t.granted, decimal(t.medianDays), decimal(t.p90Days), t.mails, t.needingReply]);
    for (const p of stats.providers)
      data.push([
        'utförare',
        p.provider,
        p.cases,
        p.persons,
        p.granted,
        decimal(p.medianDays),
        decimal(p.p90Days),
        p.mails,
        p.needingReply,
      ]);
    const body = csvText(
      [
        'Rad',
        'Vecka eller utförare',
        'Ärenden',
        'Personer',
        'Behörigheter klara',
        'Median dagar till behörighet',
        '90:e percentil dagar',
        'Anmälningar',
        'Behövde komplettering',
      ],
      data,
    );
    return sendCsv(reply, `statistik-${range.fromText || 'start'}-${range.toText || dayOf(ctx.now())}.csv`, body);
  });
}
