import { sql } from 'drizzle-orm';
import type { Db } from '../db/client';

/**
 * The team lead's figures: cases and persons per week, time from a case's first mail to access
 * granted (median and 90th percentile), share of provider mails that needed a request for data,
 * per provider. All from SQL over one date range; the chart is an SVG drawn here (no client code).
 */

export interface WeekRow {
  /** Monday of the ISO week, YYYY-MM-DD (Swedish time). */
  week: string;
  cases: number;
  persons: number;
}

export interface ProviderRow {
  provider: string;
  cases: number;
  persons: number;
  granted: number;
  medianDays: number | null;
  p90Days: number | null;
  mails: number;
  needingReply: number;
}

export interface Stats {
  weeks: WeekRow[];
  totals: {
    cases: number;
    persons: number;
    granted: number;
    medianDays: number | null;
    p90Days: number | null;
    mails: number;
    needingReply: number;
  };
  providers: ProviderRow[];
}

const num = (v: unknown): number => (v == null ? 0 : Number(v));
const days = (v: unknown): number | null => (v == null ? null : Math.round((Number(v) / 86_400) * 10) / 10);

function rows<T>(r: unknown): T[] {
  return (Array.isArray(r) ? r : ((r as { rows?: T[] }).rows ?? [])) as T[];
}

/** Range: cases and persons by when they were received, grants by when they were done, mails by when received. */
export async function loadStats(db: Db, from: Date | null, to: Date | null): Promise<Stats> {
  const f = from?.toISOString() ?? null;
  const t = to?.toISOString() ?? null;
  const inRange = (col: ReturnType<typeof sql>) =>
    sql`(${f}::timestamptz is null or ${col} >= ${f}::timestamptz) and (${t}::timestamptz is null or ${col} < ${t}::timestamptz)`;
  const week = (col: ReturnType<typeof sql>) => sql`to_char(date_trunc('week', ${col} at time zone 'Europe/Stockholm'), 'YYYY-MM-DD')`;
  const provider = sql`coalesce(nullif(c.provider_name, ''), c.sender, '(okänd)')`;

  const [weekCases, weekPersons, lead, leadTotal, mails, mailsTotal, caseCounts] = await Promise.all([
    db.execute(
      sql`select ${week(sql`c.created_at`)} as week, count(*) as n from cases c where ${inRange(sql`c.created_at`)} group by 1 order by 1`,
    ),
    db.execute(
      sql`select ${week(sql`p.created_at`)} as week, count(*) as n from persons p where ${inRange(sql`p.created_at`)} group by 1 order by 1`,
    ),
    db.execute(sql`select ${provider} as provider, count(*) as n,
        percentile_cont(0.5) within group (order by extract(epoch from (t.done_at - c.created_at))) as median,
        percentile_cont(0.9) within group (order by extract(epoch from (t.done_at - c.created_at))) as p90
      from tasks t join cases c on c.id = t.case_id
      where t.status = 'done' and t.action = 'grant' and ${inRange(sql`t.done_at`)} group by 1`),
    db.execute(sql`select count(*) as n,
        percentile_cont(0.5) within group (order by extract(epoch from (t.done_at - c.created_at))) as median,
        percentile_cont(0.9) within group (order by extract(epoch from (t.done_at - c.created_at))) as p90
      from tasks t join cases c on c.id = t.case_id
      where t.status = 'done' and t.action = 'grant' and ${inRange(sql`t.done_at`)}`),
    db.execute(sql`select ${provider} as provider, count(*) as n, count(*) filter (where m.parsed->>'autoReply' = 'true') as needing
      from messages m join cases c on c.id = m.case_id
      where m.kind = 'notification' and ${inRange(sql`m.created_at`)} group by 1`),
    db.execute(sql`select count(*) as n, count(*) filter (where m.parsed->>'autoReply' = 'true') as needing
      from messages m where m.kind = 'notification' and ${inRange(sql`m.created_at`)}`),
    db.execute(sql`select ${provider} as provider, count(distinct c.id) as cases, count(p.id) as persons
      from cases c left join persons p on p.case_id = c.id
      where ${inRange(sql`c.created_at`)} group by 1`),
  ]);

  const byWeek = new Map<string, WeekRow>();
  for (const r of rows<{ week: string; n: unknown }>(weekCases)) byWeek.set(r.week, { week: r.week, cases: num(r.n), persons: 0 });
  for (const r of rows<{ week: string; n: unknown }>(weekPersons)) {
    const w = byWeek.get(r.week) ?? { week: r.week, cases: 0, persons: 0 };
    w.persons = num(r.n);
    byWeek.set(r.week, w);
  }
  const weeks = fillWeeks([...byWeek.values()].sort((a, b) => a.week.localeCompare(b.week)));

  const providers = new Map<string, ProviderRow>();
  const get = (name: string) => {
    let p = providers.get(name);
    if (!p) {
      p = { provider: name, cases: 0, persons: 0, granted: 0, medianDays: null, p90Days: null, mails: 0, needingReply: 0 };
      providers.set(name, p);
    }
    return p;
  };
  for (const r of rows<{ provider: string; cases: unknown; persons: unknown }>(caseCounts)) {
    const p = get(r.provider);
    p.cases = num(r.cases);
    p.persons = num(r.persons);
  }
  for (const r of rows<{ provider: string; n: unknown; median: unknown; p90: unknown }>(lead)) {
    const p = get(r.provider);
    p.granted = num(r.n);
    p.medianDays = days(r.median);
    p.p90Days = days(r.p90);
  }
  for (const r of rows<{ provider: string; n: unknown; needing: unknown }>(mails)) {
    const p = get(r.provider);
    p.mails = num(r.n);
    p.needingReply = num(r.needing);
  }
  const lt = rows<{ n: unknown; median: unknown; p90: unknown }>(leadTotal)[0];
  const mt = rows<{ n: unknown; needing: unknown }>(mailsTotal)[0];
  const list = [...providers.values()].sort((a, b) => b.cases - a.cases || a.provider.localeCompare(b.provider, 'sv'));
  return {
    weeks,
    totals: {
      cases: list.reduce((s, p) => s + p.cases, 0),
      persons: list.reduce((s, p) => s + p.persons, 0),
      granted: num(lt?.n),
      medianDays: days(lt?.median),
      p90Days: days(lt?.p90),
      mails: num(mt?.n),
      needingReply: num(mt?.needing),
    },
    providers: list,
  };
}

/** Weeks with nothing in them are shown as zero, between the first and the last (at most 160 weeks). */
function fillWeeks(weeks: WeekRow[]): WeekRow[] {
  if (weeks.length < 2) return weeks;
  const have = new Map(weeks.map((w) => [w.week, w]));
  const out: WeekRow[] = [];
  const last = weeks[weeks.length - 1]!.week;
  let d = new Date(`${weeks[0]!.week}T12:00:00Z`);
  for (let i = 0; i < 160; i++) {
    const key = d.toISOString().slice(0, 10);
    out.push(have.get(key) ?? { week: key, cases: 0, persons: 0 });
    if (key >= last) break;
    d = new Date(d.getTime() + 7 * 86_400_000);
  }
  return out;
}

/** ISO week number of a Monday `YYYY-MM-DD`. */
export function isoWeek(monday: string): number {
  const d = new Date(`${monday}T12:00:00Z`);
  const thursday = new Date(d.getTime() + 3 * 86_400_000);
  const jan1 = Date.UTC(thursday.getUTCFullYear(), 0, 1);
  return Math.floor((thursday.getTime() - jan1) / (7 * 86_400_000)) + 1;
}

export function share(part: number, whole: number): string {
  return whole === 0 ? '–' : `${Math.round((part / whole) * 100)} %`;
}

const esc = (s: string) => s.replace(/[&<>"']/g, (c) => `&#${c.charCodeAt(0)};`);

/**
 * Grouped bars (cases, persons) per week as an SVG string: presentation attributes only (the CSP
 * allows no inline style), a <title> and <desc>, every text escaped. Scales to its container.
 */
export function weeklyChartSvg(weeks: WeekRow[]): string {
  const W = 720;
  const H = 260;
  const left = 40;
  const bottom = 40;
  const top = 16;
  const plotW = W - left - 10;
  const plotH = H - top - bottom;
  const max = Math.max(1, ...weeks.map((w) => Math.max(w.cases, w.persons)));
  // Four grid steps of 1, 2 or 5 × 10^k: the axis reads 0, 2, 4, 6, 8 rather than 0, 1.75, ...
  const rough = max / 4;
  const p = Math.pow(10, Math.floor(Math.log10(rough)));
  const step = [1, 2, 5, 10].map((m) => m * p).find((v) => v >= rough) ?? 10 * p;
  const nice = Math.max(4, step * 4);
  const slot = weeks.length ? plotW / weeks.length : plotW;
  const bar = Math.max(1, Math.min(18, (slot - 4) / 2));
  const y = (v: number) => top + plotH - (v / nice) * plotH;
  const parts: string[] = [];
  parts.push(
    `<svg xmlns="http://www.w3.org/2000/svg" viewBox="0 0 ${W} ${H}" class="chart" role="img" aria-labelledby="chart-title chart-desc" preserveAspectRatio="xMinYMin meet">`,
  );
  parts.push(`<title id="chart-title">Ärenden och personer per vecka</title>`);
  const desc = weeks.map((w) => `v. ${isoWeek(w.week)}: ${w.cases} ärenden, ${w.persons} personer`).join('; ');
  parts.push(`<desc id="chart-desc">${esc(desc || 'Inga ärenden under perioden.')}</desc>`);
  for (let i = 0; i <= 4; i++) {
    const v = (nice / 4) * i;
    const yy = y(v).toFixed(1);
    parts.push(`<line x1="${left}" x2="${W - 10}" y1="${yy}" y2="${yy}" class="grid"/>`);
    parts.push(
      `<text x="${left - 6}" y="${yy}" class="axis" text-anchor="end" dominant-baseline="middle">${esc(String(Math.round(v)))}</text>`,
    );
  }
  const labelEvery = Math.max(1, Math.ceil(weeks.length / 12));
  weeks.forEach((w, i) => {
    const x0 = left + i * slot + (slot - 2 * bar) / 2;
    parts.push(
      `<rect x="${x0.toFixed(1)}" y="${y(w.cases).toFixed(1)}" width="${bar.toFixed(1)}" height="${(top + plotH - y(w.cases)).toFixed(1)}" class="bar-cases"><title>v. ${isoWeek(w.week)}: ${w.cases} ärenden</title></rect>`,
    );
    parts.push(
      `<rect x="${(x0 + bar).toFixed(1)}" y="${y(w.persons).toFixed(1)}" width="${bar.toFixed(1)}" height="${(top + plotH - y(w.persons)).toFixed(1)}" class="bar-persons"><title>v. ${isoWeek(w.week)}: ${w.persons} personer</title></rect>`,
    );
    if (i % labelEvery === 0)
      parts.push(
        `<text x="${(left + i * slot + slot / 2).toFixed(1)}" y="${H - bottom + 16}" class="axis" text-anchor="middle">v. ${isoWeek(w.week)}</text>`,
      );
  });
  parts.push(`<line x1="${left}" x2="${W - 10}" y1="${top + plotH}" y2="${top + plotH}" class="baseline"/>`);
  parts.push(
    `<rect x="${left}" y="${H - 14}" width="12" height="12" class="bar-cases"/><text x="${left + 18}" y="${H - 4}" class="axis">Ärenden</text>`,
  );
  parts.push(
    `<rect x="${left + 100}" y="${H - 14}" width="12" height="12" class="bar-persons"/><text x="${left + 118}" y="${H - 4}" class="axis">Personer</text>`,
  );
  parts.push('</svg>');
  return parts.join('');
}
