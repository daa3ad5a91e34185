import crypto from 'node:crypto';
import { and, asc, eq, isNotNull, isNull, sql } from 'drizzle-orm';
import type { DbOrTx } from './db/client';
import { sessions, users, type StaffRole } from './db/schema';
import { AppError } from './errors';

/**
 * Local staff accounts for the review UI. Passwords are hashed with scrypt (node's crypto),
 * stored as `scrypt$N$r$p$salt$hash` (salt and hash base64), and compared in constant time.
 */

export type UserRow = typeof users.$inferSelect;

const SCRYPT = { N: 16384, r: 8, p: 1, keyLen: 64 } as const;
export const MIN_PASSWORD_LENGTH = 12;

function scrypt(password: string, salt: Buffer, N: number, r: number, p: number, keyLen: number): Promise<Buffer> {
  return new Promise((resolve, reject) => {
    crypto.scrypt(password.normalize('NFC'), salt, keyLen, { N, r, p, maxmem: 256 * N * r }, (err, key) =>
      err ? reject(err) : resolve(key),
    );
  });
}

export async function hashPassword(password: string): Promise<string> {
  const salt = crypto.randomBytes(16);
  const key = await scrypt(password, salt, SCRYPT.N, SCRYPT.r, SCRYPT.p, SCRYPT.keyLen);
  return ['scrypt', SCRYPT.N, SCRYPT.r, SCRYPT.p, salt.toString('base64'), key.toString('base64')].join('$');
}

/** True when `password` matches `stored`; false for a wrong password or a malformed hash. */
export async function verifyPassword(stored: string | null, password: string): Promise<boolean> {
  if (!stored) return false;
  const parts = stored.split('$');
  if (parts.length !== 6 || parts[0] !== 'scrypt') return false;
  const [N, r, p] = [Number(parts[1]), Number(parts[2]), Number(parts[3])];
  if (![N, r, p].every((n) => Number.isInteger(n) && n > 0) || N > 1 << 20) return false;
  const salt = Buffer.from(parts[4]!, 'base64');
  const expected = Buffer.from(parts[5]!, 'base64');
  if (expected.length < 16) return false;
  const key = await scrypt(password, salt, N, r, p, expected.length);
  return crypto.timingSafeEqual(key, expected);
}

/** A hash of a random password, verified against when the username is unknown so both paths take the same time. */
let dummyHash: Promise<string> | null = null;
export function dummyPasswordHash(): Promise<string> {
  dummyHash ??= hashPassword(crypto.randomBytes(16).toString('hex'));
  return dummyHash;
}

export function normalizeUsername(username: string): string {
  return username.trim().toLowerCase();
}

export function checkUsername(username: string): string {
  const u = normalizeUsername(username);
  if (!/^[a-z0-9][a-z0-9._@-]{1,63}$/.test(u)) {
    throw new AppError('INVALID_INPUT', 'username must be 2-64 characters: letters a-z, digits, ".", "_", "-" or "@"', {});
  }
  return u;
}

export function checkPassword(password: string): void {
  if (password.length < MIN_PASSWORD_LENGTH) {
    throw new AppError('INVALID_INPUT', `password must be at least ${MIN_PASSWORD_LENGTH} characters`, {});
  }
  if (password.length > 1024) throw new AppError('INVALID_INPUT', 'password is too long (at most 1024 characters)', {});
}

export async function findUser(db: DbOrTx, username: string): Promise<UserRow | null> {
  const [row] = await db
    .select()
    .from(users)
    .where(eq(users.username, normalizeUsername(username)));
  return row ?? null;
}

export interface CreateUserOptions {
  displayName?: string | null;
  /** Replace the password of an existing user (and clear a sign-in lock) instead of failing. */
  update?: boolean;
  /** Role of a new account (default admin: local accounts are the embedded default and the break-glass account). */
  role?: StaffRole;
}

/** Creates a staff account (or, with `update`, sets a new password and ends the account's sessions). Returns the row. */
export async function createUser(db: DbOrTx, username: string, password: string, opts: CreateUserOptions = {}): Promise<UserRow> {
  const name = checkUsername(username);
  checkPassword(password);
  const passwordHash = await hashPassword(password);
  const displayName = opts.displayName?.trim() || null;
  const existing = await findUser(db, name);
  if (existing) {
    if (!opts.update) throw new AppError('CONFLICT', `user ${name} already exists (use --update to set a new password)`, {});
    const [row] = await db
      .update(users)
      .set({
        passwordHash,
        failedLogins: 0,
        lockedUntil: null,
        ...(displayName ? { displayName } : {}),
        ...(opts.role ? { role: opts.role } : {}),
      })
      .where(eq(users.id, existing.id))
      .returning();
    // A new password ends every session signed in with the old one.
    await db.delete(sessions).where(eq(sessions.userId, existing.id));
    return row!;
  }
  const [row] = await db
    .insert(users)
    .values({ username: name, displayName, passwordHash, role: opts.role ?? 'admin' })
    .returning();
  return row!;
}

export const ROLES: readonly StaffRole[] = ['handlaggare', 'admin'];

/** Every staff account, for the admin page (no password hashes). */
export async function listUsers(db: DbOrTx) {
  return db
    .select({
      id: users.id,
      username: users.username,
      displayName: users.displayName,
      role: users.role,
      oidc: sql<boolean>`${users.oidcSubject} is not null`,
      local: sql<boolean>`${users.passwordHash} is not null`,
      disabledAt: users.disabledAt,
      lockedUntil: users.lockedUntil,
      lastSignInAt: users.lastSignInAt,
      createdAt: users.createdAt,
    })
    .from(users)
    .orderBy(asc(users.username));
}

/**
 * Disables (or enables again) a staff account: a disabled account cannot sign in by either
 * method and its sessions end at once. Returns the row, or null when unchanged.
 */
export async function setUserDisabled(db: DbOrTx, userId: number, disabled: boolean, now: Date): Promise<UserRow | null> {
  const [row] = await db
    .update(users)
    .set({ disabledAt: disabled ? now : null })
    .where(and(eq(users.id, userId), disabled ? isNull(users.disabledAt) : isNotNull(users.disabledAt)))
    .returning();
  if (row && disabled) await db.delete(sessions).where(eq(sessions.userId, userId));
  return row ?? null;
}

export async function setUserRole(db: DbOrTx, userId: number, role: StaffRole): Promise<UserRow | null> {
  if (!ROLES.includes(role)) throw new AppError('INVALID_INPUT', `role must be one of ${ROLES.join(', ')}`);
  const [row] = await db.update(users).set({ role }).where(eq(users.id, userId)).returning();
  return row ?? null;
}
