import crypto from 'node:crypto';
import { and, eq, gt, lt } from 'drizzle-orm';
import { audit } from '../audit';
import type { Db } from '../db/client';
import { sessions, users } from '../db/schema';
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
    })
    .from(sessions)
    .innerJoin(users, eq(users.id, sessions.userId))
    .where(and(eq(sessions.id, sessionId), gt(sessions.expiresAt, now)));
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

/** Failed sign-ins per client address (in memory; the per-account lock is in the database). */
export class AddressLimiter {
  private readonly failures = new Map<string, number[]>();
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
    return this.recent(addr, now).length >= this.max;
  }

  fail(addr: string, now: number): void {
    const list = this.recent(addr, now);
    list.push(now);
    this.failures.set(addr, list);
    if (this.failures.size > 10_000) this.failures.delete(this.failures.keys().next().value!);
  }
}

export type SignInResult = { ok: true; userId: number; username: string } | { ok: false; locked: boolean };

/**
 * Checks a username and password. Five failures in a row lock the account for 15 minutes;
 * a locked account is refused even with the right password. The caller shows one generic message.
 */
export async function signIn(db: Db, username: string, password: string, now: Date): Promise<SignInResult> {
  const user = username.trim() ? await findUser(db, username) : null;
  if (!user) {
    await verifyPassword(await dummyPasswordHash(), password);
    return { ok: false, locked: false };
  }
  const actor = `user:${user.username}`;
  if (user.lockedUntil && user.lockedUntil > now) {
    await verifyPassword(await dummyPasswordHash(), password);
    await audit(db, { actor, action: 'user.sign_in_failed', after: { locked: true } }, now);
    return { ok: false, locked: true };
  }
  if (!(await verifyPassword(user.passwordHash, password))) {
    const failures = user.failedLogins + 1;
    const lock = failures >= MAX_FAILED_LOGINS;
    await db
      .update(users)
      .set(lock ? { failedLogins: 0, lockedUntil: new Date(now.getTime() + LOCK_MINUTES * 60_000) } : { failedLogins: failures, lockedUntil: null })
      .where(eq(users.id, user.id));
    await audit(db, { actor, action: lock ? 'user.locked' : 'user.sign_in_failed', after: { failures } }, now);
    return { ok: false, locked: lock };
  }
  await db.update(users).set({ failedLogins: 0, lockedUntil: null }).where(eq(users.id, user.id));
  await audit(db, { actor, action: 'user.signed_in' }, now);
  return { ok: true, userId: user.id, username: user.username };
}
