import type { FastifyInstance, FastifyReply, FastifyRequest } from 'fastify';
import type { AppContext } from '../context';
import { AddressLimiter, createSession, destroySession, LOGIN_CSRF_COOKIE, randomToken, sameToken, SESSION_COOKIE, signIn } from './auth';
import { NOTICE } from './labels';
import { formField } from './http';
import { sendPage } from './views';

/** Sign-in and sign-out. */

const SIGN_IN_FAILED = 'Inloggningen misslyckades. Kontrollera användarnamn och lösenord. Efter fem misslyckade försök i rad spärras kontot i 15 minuter.';

/** Only a path on this site (never `//host` or a full URL) may be the target after sign-in. */
export function safeNext(next: string): string {
  return /^\/(?![/\\])[^\s]*$/.test(next) && !next.startsWith('/login') ? next : '/cases';
}

export function registerAuthRoutes(app: FastifyInstance, ctx: AppContext): void {
  const db = ctx.database.db;
  const secure = ctx.config.http.secureCookie;
  const limiter = new AddressLimiter();

  function loginPage(req: FastifyRequest, reply: FastifyReply, next: string, opts: { error?: string; notice?: string; username?: string; status?: number } = {}) {
    // Reuse the token a tab already holds, so two sign-in pages (or a stray request) don't invalidate each other.
    const held = req.cookies[LOGIN_CSRF_COOKIE];
    const token = held && /^[A-Za-z0-9_-]{43}$/.test(held) ? held : randomToken();
    reply.setCookie(LOGIN_CSRF_COOKIE, token, { path: '/login', httpOnly: true, sameSite: 'strict', secure, maxAge: 3600 });
    return sendPage(
      reply,
      'login',
      { title: 'Logga in', staff: null, csrf: token, next, username: opts.username ?? '', loginError: opts.error ?? null, notice: opts.notice ?? null },
      opts.status ?? 200,
    );
  }

  app.get('/login', { config: { public: true } }, async (req, reply) => {
    const q = req.query as { next?: string; ok?: string };
    const next = safeNext(q.next ?? '/cases');
    if (req.staff) return reply.redirect(next, 303);
    return loginPage(req, reply, next, { notice: q.ok ? (NOTICE[q.ok] ?? undefined) : undefined });
  });

  app.post('/login', { config: { public: true } }, async (req, reply) => {
    const next = safeNext(formField(req.body, 'next') || '/cases');
    if (!sameToken(formField(req.body, '_csrf'), req.cookies[LOGIN_CSRF_COOKIE])) {
      return loginPage(req, reply, next, { error: 'Inloggningsformuläret har gått ut. Försök igen.', status: 403 });
    }
    const username = formField(req.body, 'username').slice(0, 200);
    const password = formField(req.body, 'password').slice(0, 1024);
    const now = ctx.now();
    const addr = req.ip;
    if (limiter.blocked(addr, now.getTime())) {
      return loginPage(req, reply, next, { error: SIGN_IN_FAILED, username, status: 429 });
    }
    const result = await signIn(db, username, password, now);
    if (!result.ok) {
      limiter.fail(addr, now.getTime());
      return loginPage(req, reply, next, { error: SIGN_IN_FAILED, username, status: 401 });
    }
    const session = await createSession(db, result.userId, now);
    reply.clearCookie(LOGIN_CSRF_COOKIE, { path: '/login' });
    reply.setCookie(SESSION_COOKIE, session.id, { path: '/', httpOnly: true, sameSite: 'strict', secure, expires: session.expiresAt });
    return reply.redirect(next, 303);
  });

  app.post('/logout', async (req, reply) => {
    if (req.staff) await destroySession(db, req.staff.sessionId);
    reply.clearCookie(SESSION_COOKIE, { path: '/', httpOnly: true, sameSite: 'strict', secure });
    return reply.redirect('/login?ok=signed-out', 303);
  });
}
