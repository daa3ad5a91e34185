import crypto from 'node:crypto';
import { and, eq, isNull } from 'drizzle-orm';
import * as client from 'openid-client';
import { audit } from '../audit';
import type { Config } from '../config';
import type { Db } from '../db/client';
import { users, type StaffRole } from '../db/schema';
import { AppError } from '../errors';
import { checkUsername } from '../users';

/**
 * Staff sign-in with OpenID Connect (Entra ID): authorization code + PKCE through openid-client.
 * The role comes from the ID token's `roles` claim (Entra app roles `admin` / `handlaggare`) or
 * from its `groups` claim mapped in OIDC_ADMIN_GROUPS / OIDC_HANDLAGGARE_GROUPS. A staff member
 * appears on first sign-in; after that the lower of the stored role and the token's role holds,
 * so an admin's demotion in the UI and a removal in Entra both stick.
 */

export type OidcConfig = NonNullable<Config['oidc']>;

/** A sign-in started but not finished: the browser holds its id in a short cookie. */
interface Pending {
  verifier: string;
  state: string;
  nonce: string;
  next: string;
  expires: number;
}

export const OIDC_COOKIE = 'lci_oidc';
const PENDING_MS = 10 * 60_000;
const RANK: Record<StaffRole, number> = { handlaggare: 1, admin: 2 };

/** The role a token grants, or null when it grants none. */
export function roleFromClaims(
  claims: Record<string, unknown>,
  cfg: Pick<OidcConfig, 'adminGroups' | 'handlaggareGroups'>,
): StaffRole | null {
  const strings = (v: unknown) => (Array.isArray(v) ? v.filter((x): x is string => typeof x === 'string') : []);
  const roles = strings(claims.roles).map((r) => r.toLowerCase());
  const groups = new Set(strings(claims.groups));
  if (roles.includes('admin') || cfg.adminGroups.some((g) => groups.has(g))) return 'admin';
  if (roles.includes('handlaggare') || roles.includes('handläggare') || cfg.handlaggareGroups.some((g) => groups.has(g)))
    return 'handlaggare';
  return null;
}

export type OidcSignIn =
  { ok: true; userId: number; username: string; next: string } | { ok: false; reason: 'no_role' | 'disabled' | 'conflict' | 'failed' };

export class OidcClient {
  private discovered: Promise<client.Configuration> | null = null;
  private readonly pending = new Map<string, Pending>();

  constructor(
    readonly cfg: OidcConfig,
    private readonly now: () => Date = () => new Date(),
  ) {}

  private configuration(): Promise<client.Configuration> {
    const issuer = new URL(this.cfg.issuer);
    // Plain http only for an issuer on this machine (the tests' local provider).
    const local = issuer.protocol === 'http:' && /^(127\.\d+\.\d+\.\d+|localhost|\[::1\])$/.test(issuer.hostname);
    this.discovered ??= client
      .discovery(
        issuer,
        this.cfg.clientId,
        this.cfg.clientSecret,
        undefined,
        local ? { execute: [client.allowInsecureRequests] } : undefined,
      )
      .catch((err: unknown) => {
        this.discovered = null;
        throw new AppError('INVALID_INPUT', `OpenID Connect discovery failed for ${this.cfg.issuer}: ${(err as Error).message}`, {}, err);
      });
    return this.discovered;
  }

  /** Starts a sign-in: returns the provider's URL to redirect to and the id for the cookie. */
  async start(next: string): Promise<{ url: string; id: string }> {
    const config = await this.configuration();
    const t = this.now().getTime();
    for (const [k, p] of this.pending) if (p.expires < t) this.pending.delete(k);
    if (this.pending.size > 10_000) this.pending.delete(this.pending.keys().next().value!);
    const verifier = client.randomPKCECodeVerifier();
    const p: Pending = { verifier, state: client.randomState(), nonce: client.randomNonce(), next, expires: t + PENDING_MS };
    const id = crypto.randomBytes(24).toString('base64url');
    this.pending.set(id, p);
    const url = client.buildAuthorizationUrl(config, {
      redirect_uri: this.cfg.redirectUrl,
      scope: 'openid profile email',
      code_challenge: await client.calculatePKCECodeChallenge(verifier),
      code_challenge_method: 'S256',
      state: p.state,
      nonce: p.nonce,
    });
    return { url: url.href, id };
  }

  /** Finishes a sign-in at the callback: checks state, nonce and PKCE, then finds or makes the staff member. */
  async finish(db: Db, pendingId: string | undefined, callbackQuery: string): Promise<OidcSignIn> {
    const p = pendingId ? this.pending.get(pendingId) : undefined;
    if (pendingId) this.pending.delete(pendingId);
    if (!p || p.expires < this.now().getTime()) return { ok: false, reason: 'failed' };
    const config = await this.configuration();
    const current = new URL(this.cfg.redirectUrl);
    current.search = callbackQuery;
    let claims: Record<string, unknown>;
    try {
      const tokens = await client.authorizationCodeGrant(config, current, {
        pkceCodeVerifier: p.verifier,
        expectedState: p.state,
        expectedNonce: p.nonce,
        idTokenExpected: true,
      });
      claims = tokens.claims() ?? {};
    } catch {
      return { ok: false, reason: 'failed' };
    }
    const result = await upsertOidcUser(db, claims, this.cfg, this.now());
    return result.ok ? { ...result, next: p.next } : result;
  }
}

/** Finds the staff member for an ID token's issuer + subject, or makes one on first sign-in. */
export async function upsertOidcUser(
  db: Db,
  claims: Record<string, unknown>,
  cfg: Pick<OidcConfig, 'adminGroups' | 'handlaggareGroups'>,
  now: Date,
): Promise<{ ok: true; userId: number; username: string } | { ok: false; reason: 'no_role' | 'disabled' | 'conflict' | 'failed' }> {
  const iss = typeof claims.iss === 'string' ? claims.iss : '';
  const sub = typeof claims.sub === 'string' ? claims.sub : '';
  if (!iss || !sub) return { ok: false, reason: 'failed' };
  const subject = `${iss} ${sub}`;
  const tokenRole = roleFromClaims(claims, cfg);
  const display = typeof claims.name === 'string' ? claims.name.slice(0, 200) : null;
  const [existing] = await db.select().from(users).where(eq(users.oidcSubject, subject));
  if (existing) {
    const actor = `user:${existing.username}`;
    if (existing.disabledAt) {
      await audit(db, { actor, action: 'user.sign_in_failed', after: { method: 'oidc', disabled: true } }, now);
      return { ok: false, reason: 'disabled' };
    }
    if (!tokenRole) {
      await audit(db, { actor, action: 'user.sign_in_failed', after: { method: 'oidc', role: null } }, now);
      return { ok: false, reason: 'no_role' };
    }
    const role = RANK[tokenRole] < RANK[existing.role] ? tokenRole : existing.role;
    const [row] = await db
      .update(users)
      .set({ role, lastSignInAt: now, ...(display ? { displayName: display } : {}) })
      .where(and(eq(users.id, existing.id), isNull(users.disabledAt)))
      .returning({ id: users.id });
    if (!row) return { ok: false, reason: 'disabled' };
    if (role !== existing.role)
      await audit(
        db,
        {
          actor: 'oidc',
          action: 'user.role_changed',
          before: { userId: existing.id, role: existing.role },
          after: { userId: existing.id, role },
        },
        now,
      );
    await audit(db, { actor, action: 'user.signed_in', after: { method: 'oidc' } }, now);
    return { ok: true, userId: existing.id, username: existing.username };
  }
  if (!tokenRole) return { ok: false, reason: 'no_role' };
  const raw = [claims.preferred_username, claims.upn, claims.email].find((v): v is string => typeof v === 'string' && v.length > 0);
  let username: string;
  try {
    username = checkUsername(raw ?? `oidc-${crypto.createHash('sha256').update(subject).digest('hex').slice(0, 12)}`);
  } catch {
    username = checkUsername(`oidc-${crypto.createHash('sha256').update(subject).digest('hex').slice(0, 12)}`);
  }
  // A local account with the same name is never taken over by a token.
  const [clash] = await db.select({ id: users.id }).from(users).where(eq(users.username, username));
  if (clash) return { ok: false, reason: 'conflict' };
  const [row] = await db
    .insert(users)
    .values({ username, displayName: display, passwordHash: null, role: tokenRole, oidcSubject: subject, lastSignInAt: now })
    .onConflictDoNothing()
    .returning({ id: users.id });
  if (!row) return { ok: false, reason: 'conflict' };
  await audit(db, { actor: `user:${username}`, action: 'user.created', after: { userId: row.id, method: 'oidc', role: tokenRole } }, now);
  await audit(db, { actor: `user:${username}`, action: 'user.signed_in', after: { method: 'oidc' } }, now);
  return { ok: true, userId: row.id, username };
}
