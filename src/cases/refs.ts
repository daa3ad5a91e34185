import { sql } from 'drizzle-orm';
import type { DbOrTx } from '../db/client';
import { caseCounters } from '../db/schema';
import { CaseStore } from './store';

export const CASE_REF_PATTERN = /\bLSP-(\d{4})-(\d{4,})\b/i;

/** Next human case reference for the year: LSP-2026-0042. Safe under concurrency (row lock on the counter). */
export async function nextCaseRef(tx: DbOrTx | CaseStore, now: Date): Promise<string> {
  const year = now.getUTCFullYear();
  if (tx instanceof CaseStore) return `LSP-${year}-${String(await tx.nextCaseNumber(year)).padStart(4, '0')}`;
  const [row] = await tx
    .insert(caseCounters)
    .values({ year, last: 1 })
    .onConflictDoUpdate({ target: caseCounters.year, set: { last: sql`${caseCounters.last} + 1` } })
    .returning({ last: caseCounters.last });
  return `LSP-${year}-${String(row!.last).padStart(4, '0')}`;
}

export function refInSubject(subject: string): string | null {
  const m = CASE_REF_PATTERN.exec(subject);
  return m ? `LSP-${m[1]}-${m[2]}` : null;
}
