/** Days as staff type them (YYYY-MM-DD, Swedish time) and the date-range filter shared by lists, statistics and exports. */

const TZ = 'Europe/Stockholm';

const offsetFmt = new Intl.DateTimeFormat('en-US', { timeZone: TZ, timeZoneName: 'longOffset' });

/** Minutes Stockholm is ahead of UTC at `at` (60 in winter, 120 in summer). */
function stockholmOffsetMinutes(at: Date): number {
  const name = offsetFmt.formatToParts(at).find((p) => p.type === 'timeZoneName')?.value ?? 'GMT+01:00';
  const m = /GMT([+-])(\d{2}):(\d{2})/.exec(name);
  return m ? (m[1] === '-' ? -1 : 1) * (Number(m[2]) * 60 + Number(m[3])) : 0;
}

/** 00:00 Swedish time on the day `YYYY-MM-DD`; null for anything else. */
export function parseDay(value: unknown): Date | null {
  if (typeof value !== 'string' || !/^\d{4}-\d{2}-\d{2}$/.test(value)) return null;
  const [y, m, d] = value.split('-').map(Number) as [number, number, number];
  const utc = Date.UTC(y, m - 1, d);
  const check = new Date(utc);
  if (check.getUTCFullYear() !== y || check.getUTCMonth() !== m - 1 || check.getUTCDate() !== d) return null;
  const guess = new Date(utc - stockholmOffsetMinutes(new Date(utc)) * 60_000);
  return new Date(utc - stockholmOffsetMinutes(guess) * 60_000);
}

/** The Swedish calendar day of an instant, `YYYY-MM-DD`. */
export function dayOf(at: Date): string {
  return new Intl.DateTimeFormat('sv-SE', { timeZone: TZ, year: 'numeric', month: '2-digit', day: '2-digit' }).format(at);
}

export interface DateRange {
  /** As typed (for the form), or ''. */
  fromText: string;
  toText: string;
  /** From 00:00 of the first day; to 00:00 of the day after the last (exclusive). */
  from: Date | null;
  to: Date | null;
}

/** `?from=YYYY-MM-DD&to=YYYY-MM-DD`, both days included; an unreadable day is ignored. */
export function dateRange(query: unknown): DateRange {
  const q = (query ?? {}) as { from?: unknown; to?: unknown };
  const from = parseDay(q.from);
  const last = parseDay(q.to);
  const to = last ? (parseDay(dayOf(new Date(last.getTime() + 36 * 3_600_000))) ?? null) : null;
  return { fromText: from ? (q.from as string) : '', toText: last ? (q.to as string) : '', from, to };
}

/** Whole days from `since` to `now` (0 on the first day). */
export function ageDays(since: Date, now: Date): number {
  return Math.max(0, Math.floor((now.getTime() - since.getTime()) / 86_400_000));
}
