import { asc, eq, inArray } from 'drizzle-orm';
import { insertRows } from './bulk';
import type { DbOrTx } from './client';
import { messageParts } from './schema';

/**
 * A mail's source is kept in `messages.raw` up to INLINE_MAX; a larger one in `message_parts`,
 * PIECE bytes each, written PIECES_PER_STATEMENT at a time. A statement carries its bytes as text
 * (base64 in JSON, then the protocol's buffer): whole, a 40 MB mail cost over 200 MB at once.
 */
export const INLINE_MAX = 1024 * 1024;
const PIECE = 256 * 1024;
const PIECES_PER_STATEMENT = 4;
const EMPTY = Buffer.alloc(0);

/** The row's `raw` as stored: the source itself, or empty when it goes to pieces. */
export function inlineRaw(raw: Buffer): Buffer {
  return raw.length > INLINE_MAX ? EMPTY : raw;
}

/** Writes the pieces of a source larger than INLINE_MAX (after its message row). */
export async function writeParts(tx: DbOrTx, messageId: number, raw: Buffer): Promise<void> {
  if (raw.length <= INLINE_MAX) return;
  const pieces = [];
  for (let o = 0, seq = 0; o < raw.length; o += PIECE, seq++) pieces.push({ messageId, seq, bytes: raw.subarray(o, o + PIECE) });
  for (let i = 0; i < pieces.length; i += PIECES_PER_STATEMENT)
    await insertRows(tx, messageParts, pieces.slice(i, i + PIECES_PER_STATEMENT));
}

/** A stored mail's source, whole again. */
export async function readRaw(db: DbOrTx, msg: { id: number; raw: Buffer }): Promise<Buffer> {
  if (msg.raw.length > 0) return msg.raw;
  const rows = await db
    .select({ bytes: messageParts.bytes })
    .from(messageParts)
    .where(eq(messageParts.messageId, msg.id))
    .orderBy(asc(messageParts.seq));
  return rows.length ? Buffer.concat(rows.map((r) => r.bytes)) : msg.raw;
}

/** Erasure: the pieces of these messages go (their rows' `raw` is emptied by the caller). */
export async function eraseParts(tx: DbOrTx, messageIds: number[]): Promise<void> {
  if (messageIds.length) await tx.delete(messageParts).where(inArray(messageParts.messageId, messageIds));
}
