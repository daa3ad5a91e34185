import crypto from 'node:crypto';
import { and, eq, gt, isNull, lt, lte, or, sql } from 'drizzle-orm';
import { audit } from '../audit';
import type { Db } from '../db/client';
import { sessions, users, type StaffRole } from '../db/schema';
import { dummyPasswordHash, findUser, verifyPassword } from '../users';

/**
 * Sessions, sign-in with a lock after repeated failures, and CSRF tokens.
 * The session id (32 random bytes, base64url) lives in an HttpOnly SameSite=Strict cookie;
 * each session has its own CSRF token that every form post must echo.
 */

export const SESSION_COOKIE = 'lci_session';
/** Double-submit token for the sign-in form, which is posted before there is a session. */
export const LOGIN_CSRF_COOKIE = 'lci_login';
export const SESSION_HOURS = 8;
export const MAX_FAILED_LOGINS = 5;
export const LOCK_MINUTES = 15;
/** Failed sign-ins from one address within LOCK_MINUTES before that address is refused too. */
export const MAX_FAILED_PER_ADDRESS = 20;

export interface Staff {
  userId: number;
  username: string;
  displayName: string | null;
  role: StaffRole;
  sessionId: string;
  csrfToken: string;
  /** For audit events: "user:<username>". */
  actor: string;
}

export function randomToken(): string {
  return crypto.randomBytes(32).toString('base64url');
}

/** Constant-time comparison of two tokens (false when either is missing). */
export function sameToken(a: string | undefined | null, b: string | undefined | null): boolean {
  if (!a || !b) return false;
  const x = Buffer.from(a);
  const y = Buffer.from(b);
  return x.length === y.length && crypto.timingSafeEqual(x, y);
}

export async function loadSession(db: Db, sessionId: string | undefined, now: Date): Promise<Staff | null> {
  if (!sessionId || sessionId.length > 100) return null;
  const [row] = await db
    .select({
      sessionId: sessions.id,
      csrfToken: sessions.csrfToken,
      userId: users.id,
      username: users.username,
      displayName: users.displayName,
      role: users.role,
    })
    .from(sessions)
    .innerJoin(users, eq(users.id, sessions.userId))
    .where(and(eq(sessions.id, sessionId), gt(sessions.expiresAt, now), isNull(users.disabledAt)));
  if (!row) return null;
  return { ...row, actor: `user:${row.username}` };
}

export async function createSession(db: Db, userId: number, now: Date): Promise<{ id: string; expiresAt: Date }> {
  const id = randomToken();
  const expiresAt = new Date(now.getTime() + SESSION_HOURS * 3_600_000);
  await db.delete(sessions).where(lt(sessions.expiresAt, now));
  await db.insert(sessions).values({ id, userId, csrfToken: randomToken(), expiresAt, createdAt: now });
  return { id, expiresAt };
}

export async function destroySession(db: Db, sessionId: string): Promise<void> {
  await db.delete(sessions).where(eq(sessions.id, sessionId));
}

/**
 * Failed sign-ins per client address (in memory; the per-account lock is in the database).
 * Attempts still being checked count too, so a burst sent at once is held to the same limit.
 */
export class AddressLimiter {
  private readonly failures = new Map<string, number[]>();
  private readonly inFlight = new Map<string, number>();
  constructor(
    private readonly max = MAX_FAILED_PER_ADDRESS,
    private readonly windowMs = LOCK_MINUTES * 60_000,
  ) {}

  private recent(addr: string, now: number): number[] {
    const list = (this.failures.get(addr) ?? []).filter((t) => now - t < this.windowMs);
    if (list.length) this.failures.set(addr, list);
    else this.failures.delete(addr);
    return list;
  }

  blocked(addr: string, now: number): boolean {
    return this.recent(addr, now).length + (this.inFlight.get(addr) ?? 0) >= this.max;
  }

  /** Starts an attempt: null when the address is over the limit, else a function to call with the outcome. */
  begin(addr: string, now: number): ((failed: boolean, at: number) => void) | null {
    if (this.blocked(addr, now)) return null;
    this.inFlight.set(addr, (this.inFlight.get(addr) ?? 0) + 1);
    let done = false;
    return (failed, at) => {
      if (done) return;
      done = true;
      const left = (this.inFlight.get(addr) ?? 1) - 1;
      if (left > 0) this.inFlight.set(addr, left);
      else this.inFlight.delete(addr);
      if (failed) this.fail(addr, at);
    };
  }

  fail(addr: string, now: number): void {
    const list = this.recent(addr, now);
    list.push(now);
    this.failures.set(addr, list);
    if (this.failures.size > 10_000) this.failures.delete(this.failures.keys().next().value!);
  }
}

export type SignInResult = { ok: true; userId: number; username: string } | { ok: false; locked: boolean };

const notLocked = (now: Date) => or(isNull(users.lockedUntil), lte(users.lockedUntil, now));

/**
 * Checks a username and password. Five failures in a row lock the account for 15 minutes;
 * a locked or disabled account is refused even with the right password. The caller shows one
 * generic message. Safe under concurrency: each attempt is counted in the database before its
 * password is checked (one `UPDATE … RETURNING`), so attempts in flight count as failures until
 * they succeed; a failure never clears a lock, and a success counts only while no lock is set.
 */
export async function signIn(db: Db, username: string, password: string, now: Date): Promise<SignInResult> {
  const user = username.trim() ? await findUser(db, username) : null;
  if (!user || !user.passwordHash || user.disabledAt) {
    await verifyPassword(await dummyPasswordHash(), password);
    if (user)
      await audit(
        db,
        { actor: `user:${user.username}`, action: 'user.sign_in_failed', after: { disabled: Boolean(user.disabledAt) } },
        now,
      );
    return { ok: false, locked: false };
  }
  const actor = `user:${user.username}`;
  const lockUntil = new Date(now.getTime() + LOCK_MINUTES * 60_000);
  // Count this attempt first; the attempt past the limit sets the lock.
  const [counted] = await db
    .update(users)
    .set({ failedLogins: sql`${users.failedLogins} + 1` })
    .where(and(eq(users.id, user.id), notLocked(now)))
    .returning({ failures: users.failedLogins });
  if (!counted || counted.failures > MAX_FAILED_LOGINS) {
    if (counted) await lockAccount(db, user.id, lockUntil, now);
    await verifyPassword(await dummyPasswordHash(), password);
    await audit(db, { actor, action: counted ? 'user.locked' : 'user.sign_in_failed', after: { locked: true } }, now);
    return { ok: false, locked: true };
  }
  if (!(await verifyPassword(user.passwordHash, password))) {
    const lock = counted.failures >= MAX_FAILED_LOGINS;
    if (lock) await lockAccount(db, user.id, lockUntil, now);
    await audit(db, { actor, action: lock ? 'user.locked' : 'user.sign_in_failed', after: { failures: counted.failures } }, now);
    return { ok: false, locked: lock };
  }
  const [ok] = await db
    .update(users)
    .set({ failedLogins: 0, lockedUntil: null, lastSignInAt: now })
    .where(and(eq(users.id, user.id), notLocked(now), isNull(users.disabledAt)))
    .returning({ id: users.id });
  if (!ok) {
    await audit(db, { actor, action: 'user.sign_in_failed', after: { locked: true } }, now);
    return { ok: false, locked: true };
  }
  await audit(db, { actor, action: 'user.signed_in' }, now);
  return { ok: true, userId: user.id, username: user.username };
}

/** Sets the lock (never shortens one already set) and starts the count anew. */
async function lockAccount(db: Db, userId: number, until: Date, now: Date): Promise<void> {
  await db
    .update(users)
    .set({ failedLogins: 0, lockedUntil: until })
    .where(and(eq(users.id, userId), notLocked(now)));
}
