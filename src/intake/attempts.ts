import { eq, inArray, sql } from 'drizzle-orm';
import type { AppContext } from '../context';
import { processingAttempts } from '../db/schema';

/** A mail whose processing ended the process this many times is kept for review unparsed. */
export const MAX_ATTEMPTS = 2;

/**
 * Attempts this process started and could not yet mark ended (the database went away before the
 * row was removed). A row left by this process is no death: only a row from an ended process counts.
 */
const ownOpen = new Set<string>();
const OWN_MAX = 100_000;
/** What a process that has just started knows of its own attempts: nothing (a restart; tests model one). */
export function forgetOwnAttempts(): void {
  ownOpen.clear();
}
const own = (hash: string) => {
  if (ownOpen.size >= OWN_MAX) ownOpen.clear();
  ownOpen.add(hash);
};

/**
 * Written before parsing, removed once the mail is parsed (or its processing failed and was
 * handled): a row left behind means the process died while parsing this mail. Returns how many times it was started (this one included).
 */
export async function startAttempt(ctx: AppContext, hash: string): Promise<number> {
  // Left by this very process: the mail did not end it.
  if (ownOpen.has(hash)) return 1;
  own(hash);
  const [row] = await ctx.database.db
    .insert(processingAttempts)
    .values({ contentHash: hash, attempts: 1, lastAt: ctx.now() })
    .onConflictDoUpdate({
      target: processingAttempts.contentHash,
      set: { attempts: sql`${processingAttempts.attempts} + 1`, lastAt: ctx.now() },
    })
    .returning({ attempts: processingAttempts.attempts });
  return row?.attempts ?? 1;
}

export async function endAttempt(ctx: AppContext, hash: string): Promise<void> {
  await ctx.database.db
    .delete(processingAttempts)
    .where(eq(processingAttempts.contentHash, hash))
    .then(() => ownOpen.delete(hash))
    .catch(() => {});
}

/**
 * A batch's attempts in one statement, before it is parsed: new hashes are recorded (1); a hash
 * already recorded is left as it is and its count returned (a process died while it was being
 * parsed: the caller parses it alone, counting it with `startAttempt`). Map of hash → earlier count (0: new).
 */
export async function recordAttempts(ctx: AppContext, hashes: string[]): Promise<Map<string, number>> {
  const unique = [...new Set(hashes)];
  if (unique.length === 0) return new Map();
  const now = ctx.now();
  const rows = await ctx.database.db
    .insert(processingAttempts)
    .values(unique.map((h) => ({ contentHash: h, attempts: 1, lastAt: now })))
    .onConflictDoUpdate({ target: processingAttempts.contentHash, set: { lastAt: now } })
    .returning({ hash: processingAttempts.contentHash, attempts: processingAttempts.attempts, inserted: sql<boolean>`(xmax = 0)` });
  const out = new Map(rows.map((r) => [r.hash, r.inserted || ownOpen.has(r.hash) ? 0 : r.attempts]));
  // The fresh ones are this process's own now; a suspect becomes so in startAttempt.
  for (const [h, n] of out) if (n === 0) own(h);
  return out;
}

/** The batch is parsed: its attempts are removed in one statement. */
export async function endAttempts(ctx: AppContext, hashes: string[]): Promise<void> {
  if (hashes.length === 0) return;
  await ctx.database.db
    .delete(processingAttempts)
    .where(inArray(processingAttempts.contentHash, [...new Set(hashes)]))
    .then(() => hashes.forEach((h) => ownOpen.delete(h)))
    .catch(() => {});
}
