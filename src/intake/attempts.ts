import { eq, sql } from 'drizzle-orm';
import type { AppContext } from '../context';
import { processingAttempts } from '../db/schema';

/** A mail whose processing ended the process this many times is kept for review unparsed. */
export const MAX_ATTEMPTS = 2;

/**
 * Written before parsing, removed once the mail is parsed (or its processing failed and was
 * handled): a row left behind means the process died while parsing this mail. Returns how many times it was started (this one included).
 */
export async function startAttempt(ctx: AppContext, hash: string): Promise<number> {
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
    .catch(() => {});
}
