import type { FastifyInstance, FastifyReply, FastifyRequest } from 'fastify';
import type { AppContext } from '../context';
import { OIDC_COOKIE, OidcClient } from './oidc';
import { AddressLimiter, createSession, destroySession, LOGIN_CSRF_COOKIE, randomToken, sameToken, SESSION_COOKIE, signIn } from './auth';
import { NOTICE } from './labels';
import { formField } from './http';
import { sendPage } from './views';
import { signIns } from '../metrics';

/** Sign-in and sign-out. */

const SIGN_IN_FAILED =
  'Inloggningen misslyckades. Kontrollera användarnamn och lösenord. Efter fem misslyckade försök i rad spärras kontot i 15 minuter.';

const OIDC_ERRORS: Record<string, string> = {
  failed: 'Inloggningen med Microsoft misslyckades. Försök igen.',
  no_role: 'Ditt konto har ingen roll i den här appen (handläggare eller administratör). Kontakta en administratör.',
  disabled: 'Ditt konto är avstängt. Kontakta en administratör.',
  conflict: 'Det finns redan ett lokalt konto med ditt användarnamn. Kontakta en administratör.',
};

const escapeHtml = (s: string) => s.replace(/[&<>"']/g, (c) => `&#${c.charCodeAt(0)};`);

/** Only a path on this site (never `//host` or a full URL) may be the target after sign-in. */
export function safeNext(next: string): string {
  return /^\/(?![/\\])[^\s]*$/.test(next) && !next.startsWith('/login') ? next : '/cases';
}

export function registerAuthRoutes(app: FastifyInstance, ctx: AppContext): void {
  const db = ctx.database.db;
  const secure = ctx.config.http.secureCookie;
  const limiter = new AddressLimiter();
  const oidc = ctx.config.oidc ? new OidcClient(ctx.config.oidc, ctx.now) : null;

  function loginPage(
    req: FastifyRequest,
    reply: FastifyReply,
    next: string,
    opts: { error?: string; notice?: string; username?: string; status?: number } = {},
  ) {
    // Reuse the token a tab already holds, so two sign-in pages (or a stray request) don't invalidate each other.
    const held = req.cookies[LOGIN_CSRF_COOKIE];
    const token = held && /^[A-Za-z0-9_-]{43}$/.test(held) ? held : randomToken();
    reply.setCookie(LOGIN_CSRF_COOKIE, token, { path: '/login', httpOnly: true, sameSite: 'strict', secure, maxAge: 3600 });
    return sendPage(
      reply,
      'login',
      {
        title: 'Logga in',
        staff: null,
        csrf: token,
        next,
        username: opts.username ?? '',
        loginError: opts.error ?? null,
        notice: opts.notice ?? null,
        oidcLabel: oidc?.cfg.buttonLabel ?? null,
      },
      opts.status ?? 200,
    );
  }

  app.get('/login', { config: { public: true } }, async (req, reply) => {
    const q = req.query as { next?: string; ok?: string; error?: string };
    const next = safeNext(q.next ?? '/cases');
    if (req.staff) return reply.redirect(next, 303);
    const error = q.error ? (OIDC_ERRORS[q.error] ?? OIDC_ERRORS.failed) : undefined;
    return loginPage(req, reply, next, { notice: q.ok ? (NOTICE[q.ok] ?? undefined) : undefined, error, status: error ? 401 : 200 });
  });

  if (oidc) {
    const callbackPath = new URL(oidc.cfg.redirectUrl).pathname;
    // The provider sends the browser back cross-site: this cookie must be SameSite=Lax to come along.
    const pendingCookie = { path: callbackPath, httpOnly: true, sameSite: 'lax' as const, secure, maxAge: 600 };

    app.get('/auth/oidc', { config: { public: true } }, async (req, reply) => {
      const next = safeNext((req.query as { next?: string }).next ?? '/cases');
      const { url, id } = await oidc.start(next);
      reply.setCookie(OIDC_COOKIE, id, pendingCookie);
      return reply.redirect(url, 303);
    });

    app.get(callbackPath, { config: { public: true } }, async (req, reply) => {
      const search = req.url.includes('?') ? req.url.slice(req.url.indexOf('?')) : '';
      const result = await oidc.finish(db, req.cookies[OIDC_COOKIE], search);
      reply.clearCookie(OIDC_COOKIE, pendingCookie);
      signIns.inc({ method: 'oidc', result: result.ok ? 'ok' : result.reason });
      if (!result.ok) return reply.redirect(`/login?error=${result.reason}`, 303);
      const session = await createSession(db, result.userId, ctx.now());
      reply.setCookie(SESSION_COOKIE, session.id, { path: '/', httpOnly: true, sameSite: 'strict', secure, expires: session.expiresAt });
      // A same-site page moves on: a redirect straight from the provider's cross-site navigation would not carry the Strict cookie.
      const target = escapeHtml(result.next);
      return reply
        .type('text/html; charset=utf-8')
        .send(
          `<!doctype html><html lang="sv"><head><meta charset="utf-8"><meta http-equiv="refresh" content="0;url=${target}"><title>Inloggad</title></head><body><p><a href="${target}">Fortsätt</a></p></body></html>`,
        );
    });
  }

  app.post('/login', { config: { public: true } }, async (req, reply) => {
    const next = safeNext(formField(req.body, 'next') || '/cases');
    if (!sameToken(formField(req.body, '_csrf'), req.cookies[LOGIN_CSRF_COOKIE])) {
      return loginPage(req, reply, next, { error: 'Inloggningsformuläret har gått ut. Försök igen.', status: 403 });
    }
    const username = formField(req.body, 'username').slice(0, 200);
    const password = formField(req.body, 'password').slice(0, 1024);
    const now = ctx.now();
    const addr = req.ip;
    // Attempts still being checked count against the address too, so a burst cannot outrun the limit.
    const finish = limiter.begin(addr, now.getTime());
    if (!finish) {
      signIns.inc({ method: 'password', result: 'rate_limited' });
      return loginPage(req, reply, next, { error: SIGN_IN_FAILED, username, status: 429 });
    }
    let result: Awaited<ReturnType<typeof signIn>>;
    try {
      result = await signIn(db, username, password, now);
    } catch (err) {
      finish(true, ctx.now().getTime());
      throw err;
    }
    finish(!result.ok, ctx.now().getTime());
    signIns.inc({ method: 'password', result: result.ok ? 'ok' : result.locked ? 'locked' : 'failed' });
    if (!result.ok) {
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
