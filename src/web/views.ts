import path from 'node:path';
import { Eta } from 'eta';
import type { FastifyReply } from 'fastify';
import { FIELDS } from '../parse/types';
import type { Staff } from './auth';
import { ageDays, dayOf } from './dates';
import * as L from './labels';

/**
 * Server-rendered pages: Eta templates in ./views with auto-escaping on. `<%= %>` escapes;
 * `<%~ %>` is used only for `include(...)` and the layout's body, never for data.
 */

export const VIEWS_DIR = path.join(__dirname, 'views');

const eta = new Eta({ views: VIEWS_DIR, autoEscape: true, cache: process.env.NODE_ENV !== 'development', autoTrim: [false, 'nl'] });

const dateFmt = new Intl.DateTimeFormat('sv-SE', {
  timeZone: 'Europe/Stockholm',
  year: 'numeric',
  month: '2-digit',
  day: '2-digit',
  hour: '2-digit',
  minute: '2-digit',
});

function formatDate(d: Date | string | null | undefined): string {
  if (d == null) return '';
  const date = d instanceof Date ? d : new Date(d);
  return Number.isNaN(date.getTime()) ? '' : dateFmt.format(date);
}

function actorLabel(actor: string | null | undefined): string {
  if (!actor) return '';
  if (actor.startsWith('user:')) return actor.slice(5);
  if (actor === 'worker') return 'systemet';
  if (actor === 'cli') return 'kommandoraden';
  return actor;
}

function valueText(v: unknown): string {
  if (v == null || v === '') return '–';
  if (typeof v === 'string') return v;
  if (typeof v === 'number' || typeof v === 'boolean') return String(v);
  return JSON.stringify(v);
}

/** Status codes in audit events, whatever the entity (the Swedish words agree where codes overlap). */
const ANY_STATUS: Record<string, string> = {
  ...L.MESSAGE_STATUS,
  ...L.OUTBOX_STATUS,
  ...L.PERSON_STATUS,
  ...L.TASK_STATUS,
  ...L.CASE_STATUS,
};
const STATUS_KEYS: Record<string, Record<string, string>> = { status: ANY_STATUS, kind: { ...L.MESSAGE_KIND, ...L.OUTBOX_KIND } };

/** Before/after of an audit event as rows "field: old → new" (only what changed, or what was set). */
function auditChanges(before: unknown, after: unknown): Array<{ key: string; from: string | null; to: string }> {
  const b = before && typeof before === 'object' ? (before as Record<string, unknown>) : {};
  const a = after && typeof after === 'object' ? (after as Record<string, unknown>) : {};
  const keys = [...new Set([...Object.keys(b), ...Object.keys(a)])];
  const rows: Array<{ key: string; from: string | null; to: string }> = [];
  for (const k of keys) {
    const from = k in b ? valueText(b[k]) : null;
    const to = k in a ? valueText(a[k]) : '–';
    if (from === to || (from === null && to === '–')) continue;
    const word = (v: string) => STATUS_KEYS[k]?.[v] ?? v;
    rows.push({ key: L.AUDIT_KEY[k] ?? k, from: from === null ? null : word(from), to: word(to) });
  }
  return rows;
}

/** Query string for links, keeping only set values. */
function qs(params: Record<string, string | number | null | undefined>): string {
  const u = new URLSearchParams();
  for (const [k, v] of Object.entries(params)) if (v != null && v !== '') u.set(k, String(v));
  const s = u.toString();
  return s ? `?${s}` : '';
}

/** Page numbers to link: first, last and two either side of the current one; null marks a gap. */
function pager(page: number, pages: number): Array<number | null> {
  const out: Array<number | null> = [];
  for (let p = 1; p <= pages; p++) {
    if (p === 1 || p === pages || Math.abs(p - page) <= 2) out.push(p);
    else if (out[out.length - 1] !== null) out.push(null);
  }
  return out;
}

/** "i dag", "1 dag", "12 dagar": how long since `since`. */
function age(since: Date | string, now: Date): string {
  const d = ageDays(since instanceof Date ? since : new Date(since), now);
  return d === 0 ? 'i dag' : d === 1 ? '1 dag' : `${d} dagar`;
}

/**
 * A mail's text as blocks: runs of two or more tab-separated lines (Outlook tables, as html.ts
 * writes them) become tables of cells, the rest stays text. Rendered escaped by the template.
 */
function mailBlocks(text: string): Array<{ kind: 'text'; text: string } | { kind: 'table'; rows: string[][] }> {
  const lines = text.split('\n');
  const out: Array<{ kind: 'text'; text: string } | { kind: 'table'; rows: string[][] }> = [];
  let buf: string[] = [];
  const flush = () => {
    if (buf.length) out.push({ kind: 'text', text: buf.join('\n') });
    buf = [];
  };
  for (let i = 0; i < lines.length;) {
    let j = i;
    while (j < lines.length && j - i < 500 && lines[j]!.includes('\t') && lines[j]!.trim() !== '') j++;
    if (j - i >= 2) {
      flush();
      const rows = lines.slice(i, j).map((l) => l.split('\t').map((c) => c.trim()));
      const width = Math.max(...rows.map((r) => r.length));
      out.push({ kind: 'table', rows: rows.map((r) => [...r, ...Array<string>(width - r.length).fill('')]) });
      i = j;
    } else {
      buf.push(lines[i]!);
      i++;
    }
  }
  flush();
  return out;
}

export const helpers = { date: formatDate, day: dayOf, age, actor: actorLabel, changes: auditChanges, qs, pager, mailBlocks, FIELDS, L };
export type Helpers = typeof helpers;

export interface PageData {
  title: string;
  staff: Staff | null;
  /** Which menu entry is current: cases | review | tasks. */
  nav?: 'cases' | 'review' | 'tasks' | 'stats' | 'audit' | 'users' | null;
  reviewCount?: number;
  notice?: string | null;
  error?: string | null;
  [key: string]: unknown;
}

export function renderPage(name: string, data: PageData): string {
  return eta.render(name, { h: helpers, nav: null, reviewCount: 0, notice: null, error: null, ...data });
}

export function sendPage(reply: FastifyReply, name: string, data: PageData, status = 200): FastifyReply {
  return reply.code(status).type('text/html; charset=utf-8').send(renderPage(name, data));
}
