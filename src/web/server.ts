import fs from 'node:fs';
import path from 'node:path';
import cookie from '@fastify/cookie';
import formbody from '@fastify/formbody';
import { sql } from 'drizzle-orm';
import Fastify, { type FastifyInstance, type FastifyReply, type FastifyRequest } from 'fastify';
import type { AppContext } from '../context';
import { AppError, errorCode } from '../errors';
import { formField, notFound } from './http';
import { createMetricsRegistry } from '../metrics';
import { SECRET_WARN_DAYS, secretDaysLeft } from '../oauth';
import { loadSession, sameToken, SESSION_COOKIE, type Staff } from './auth';
import { registerAdminRoutes } from './routes-admin';
import { registerAuditRoutes } from './routes-audit';
import { registerAuthRoutes } from './routes-auth';
import { registerCaseRoutes } from './routes-cases';
import { registerReprocessRoutes } from './routes-reprocess';
import { registerStatsRoutes } from './routes-stats';
import { registerTaskRoutes } from './routes-tasks';
import { sendPage } from './views';

/**
 * The review web UI: fastify, server-rendered Eta pages, sessions in the database.
 * Started by the worker (next to the mailbox loop) or alone by `serve`.
 */

declare module 'fastify' {
  interface FastifyRequest {
    staff: Staff | null;
  }
  interface FastifyContextConfig {
    /** Reachable without a session (sign-in, health, static files). */
    public?: boolean;
  }
}

export interface MailboxStatus {
  ok: boolean;
  detail: string;
  lastPollAt: Date | null;
}

export interface WebServerOptions {
  mailboxStatus?: () => MailboxStatus;
  /** The outbox sender's state ("SMTP nere sedan …"); reported, not counted in `status`. */
  senderStatus?: () => { ok: boolean; detail: string };
  /** Label of the polled mailbox in /metrics (default: IMAP user@host/mailbox, or "maildrop"). */
  mailboxName?: string;
}

export interface WebServer {
  url: string;
  close(): Promise<void>;
}

/** How long a stop waits for the requests in hand before it cuts the connections. */
const CLOSE_GRACE_MS = 5_000;

export const CONTENT_SECURITY_POLICY =
  "default-src 'none'; style-src 'self'; script-src 'self'; img-src 'self'; form-action 'self'; frame-ancestors 'none'; base-uri 'none'";

const STATIC_DIR = path.join(__dirname, 'static');
const STATIC_FILES: Record<string, string> = { 'app.css': 'text/css; charset=utf-8', 'copy.js': 'text/javascript; charset=utf-8' };

/** Posts only an admin may make: hold / release / send anyway a reply (the admin pages check for themselves). */
const ADMIN_ONLY = /^\/replies\/\d+\/(hold|release|send-anyway)(\?|$)/;

/** Where an AppError code sends the user. */
function httpStatusFor(code: string): number {
  switch (code) {
    case 'NOT_FOUND':
      return 404;
    case 'CONFLICT':
      return 409;
    case 'INVALID_INPUT':
      return 400;
    default:
      return 500;
  }
}

/** A form post from another site: the browser says so in Origin or Sec-Fetch-Site. */
function crossSite(req: FastifyRequest): boolean {
  const site = req.headers['sec-fetch-site'];
  if (site === 'same-origin') return false;
  if (site === 'cross-site' || site === 'same-site') return true;
  const origin = req.headers.origin;
  if (origin === undefined) return false; // not a browser, or a very old one: the CSRF token decides
  try {
    return new URL(origin).host !== req.headers.host;
  } catch {
    return true;
  }
}

/** Builds the fastify app (not listening). Exported for tests and the benchmark. */
export async function buildWebApp(ctx: AppContext, opts: WebServerOptions = {}): Promise<FastifyInstance> {
  // Behind a proxy (HTTP_TRUST_PROXY), req.ip is the client's address from X-Forwarded-For.
  const app = Fastify({ logger: false, bodyLimit: 256 * 1024, trustProxy: ctx.config.httpTrustProxy });
  const log = ctx.log.child({ component: 'web' });
  const db = ctx.database.db;

  await app.register(cookie);
  await app.register(formbody, { bodyLimit: 256 * 1024 });
  app.decorateRequest('staff', null);

  const statics = new Map<string, { body: Buffer; type: string }>();
  for (const [name, type] of Object.entries(STATIC_FILES)) statics.set(name, { body: fs.readFileSync(path.join(STATIC_DIR, name)), type });

  app.addHook('onSend', async (_req, reply, payload) => {
    reply.header('Content-Security-Policy', CONTENT_SECURITY_POLICY);
    reply.header('X-Content-Type-Options', 'nosniff');
    reply.header('X-Frame-Options', 'DENY');
    // not no-referrer: with it browsers send `Origin: null` on form posts
    reply.header('Referrer-Policy', 'same-origin');
    reply.header('Cross-Origin-Opener-Policy', 'same-origin');
    reply.header('Cross-Origin-Resource-Policy', 'same-origin');
    if (!reply.hasHeader('Cache-Control')) reply.header('Cache-Control', 'no-store');
    return payload;
  });

  // Session: every route but the public ones needs a signed-in staff member.
  app.addHook('onRequest', async (req, reply) => {
    req.staff = await loadSession(db, req.cookies[SESSION_COOKIE], ctx.now());
    if (req.staff || req.routeOptions.config.public) return;
    if (req.method === 'GET' || req.method === 'HEAD') {
      const next = req.url.startsWith('/') && !req.url.startsWith('//') && req.url !== '/' ? `?next=${encodeURIComponent(req.url)}` : '';
      return reply.redirect(`/login${next}`, 303);
    }
    return sendPage(
      reply,
      'error',
      { title: 'Inte inloggad', staff: null, message: 'Du är inte inloggad. Logga in och försök igen.' },
      401,
    );
  });

  // Held replies and staff administration are for admins only.
  app.addHook('preHandler', async (req, reply) => {
    if (req.method === 'POST' && req.staff && req.staff.role !== 'admin' && ADMIN_ONLY.test(req.url)) {
      return sendPage(
        reply,
        'error',
        { title: 'Ingen behörighet', staff: req.staff, message: 'Det här kräver rollen administratör.' },
        403,
      );
    }
  });

  // CSRF: every form post carries the session's token (the sign-in form has its own check).
  app.addHook('preHandler', async (req, reply) => {
    if (req.method !== 'POST') return;
    if (crossSite(req)) return refuse(reply, req.staff);
    if (req.routeOptions.config.public) return;
    if (!req.staff || !sameToken(formField(req.body, '_csrf'), req.staff.csrfToken)) return refuse(reply, req.staff);
  });

  function refuse(reply: FastifyReply, staff: Staff | null) {
    return sendPage(
      reply,
      'error',
      {
        title: 'Formuläret godtogs inte',
        staff,
        message: 'Formuläret kunde inte kontrolleras (det kan ha gått ut). Ladda om sidan och försök igen.',
      },
      403,
    );
  }

  app.setErrorHandler(async (err: Error & { statusCode?: number }, req, reply) => {
    const code = errorCode(err);
    const status =
      err instanceof AppError
        ? httpStatusFor(err.code)
        : err.statusCode && err.statusCode >= 400 && err.statusCode < 500
          ? err.statusCode
          : 500;
    if (status >= 500) log.error({ code, route: req.routeOptions.url, method: req.method }, 'request failed');
    const message =
      status === 404
        ? 'Sidan eller posten finns inte.'
        : status === 409
          ? 'Det gick inte att ändra: läget har ändrats. Ladda om sidan.'
          : status < 500
            ? 'Begäran kunde inte tolkas.'
            : 'Något gick fel. Försök igen; kvarstår felet, kontakta förvaltningen.';
    return sendPage(reply, 'error', { title: status === 404 ? 'Hittades inte' : 'Fel', staff: req.staff, message }, status);
  });
  app.setNotFoundHandler(async (req, reply) =>
    sendPage(reply, 'error', { title: 'Hittades inte', staff: req.staff, message: 'Sidan finns inte.' }, 404),
  );

  app.get('/static/:file', { config: { public: true } }, async (req, reply) => {
    const file = statics.get((req.params as { file: string }).file);
    if (!file) throw notFound();
    return reply.type(file.type).header('Cache-Control', 'public, max-age=300').send(file.body);
  });

  app.get('/favicon.ico', { config: { public: true } }, async (_req, reply) =>
    reply.code(204).header('Cache-Control', 'public, max-age=86400').send(),
  );

  const startedAt = ctx.now();
  const imap = ctx.config.imap;
  const mailboxName = opts.mailboxName ?? (imap ? `${imap.user}@${imap.host}/${imap.mailbox}` : 'maildrop');
  const maxPollAgeMs = ctx.config.healthMaxPollAgeMinutes * 60_000;
  const metrics = createMetricsRegistry(ctx, {
    mailboxes: () => {
      const m = opts.mailboxStatus?.();
      return m ? [{ mailbox: mailboxName, lastPollAt: m.lastPollAt, ok: m.ok }] : [];
    },
  });
  /** Bearer METRICS_TOKEN: /metrics requires it when set; it also shows /healthz's details. */
  const bearerOk = (req: FastifyRequest) => {
    const token = ctx.config.metricsToken;
    const header = req.headers.authorization;
    return token !== undefined && typeof header === 'string' && header.startsWith('Bearer ') && sameToken(header.slice(7).trim(), token);
  };

  // Without a session (or the metrics token) only "ok" / "not ok"; the details are for staff and monitoring.
  app.get('/healthz', { config: { public: true } }, async (req, reply) => {
    let database: { ok: boolean; detail: string };
    try {
      await Promise.race([
        db.execute(sql`select 1`),
        new Promise((_, reject) => setTimeout(() => reject(new Error('timeout')), 3000).unref()),
      ]);
      database = { ok: true, detail: ctx.database.kind };
    } catch (e) {
      database = { ok: false, detail: `${ctx.database.kind}: ${errorCode(e) === 'UNEXPECTED' ? (e as Error).message : errorCode(e)}` };
    }
    const polled = opts.mailboxStatus?.();
    const mailbox = polled ?? { ok: true, detail: 'not polled by this process', lastPollAt: null };
    const now = ctx.now().getTime();
    const stale = polled !== undefined && now - (polled.lastPollAt ?? startedAt).getTime() > maxPollAgeMs;
    const warnings: string[] = [];
    if (stale) warnings.push(`no successful poll for more than ${ctx.config.healthMaxPollAgeMinutes} minutes`);
    const days = secretDaysLeft(ctx.config.oauthSecretExpires, ctx.now());
    if (days !== null && days <= SECRET_WARN_DAYS)
      warnings.push(days <= 0 ? 'the OAuth2 client secret has expired' : `the OAuth2 client secret expires in ${days} days`);
    const fail = !database.ok || !mailbox.ok;
    const status = fail ? 'fail' : stale ? 'degraded' : 'ok';
    reply.code(status === 'ok' ? 200 : 503);
    if (!req.staff && !bearerOk(req)) return reply.send({ status: status === 'ok' ? 'ok' : 'not ok' });
    const sender = opts.senderStatus?.();
    if (sender && !sender.ok) warnings.push(sender.detail);
    return reply.send({
      status,
      database,
      mailbox: { ...mailbox, lastPollAt: mailbox.lastPollAt?.toISOString() ?? null },
      ...(sender ? { sender } : {}),
      ...(warnings.length ? { warnings } : {}),
    });
  });

  app.get('/metrics', { config: { public: true } }, async (req, reply) => {
    if (ctx.config.metricsToken !== undefined && !bearerOk(req)) {
      return reply.code(401).header('WWW-Authenticate', 'Bearer').type('text/plain; charset=utf-8').send('unauthorized\n');
    }
    try {
      const body = await metrics.metrics();
      return reply.type(metrics.contentType).send(body);
    } catch (err) {
      log.error({ code: errorCode(err) }, 'metrics scrape failed');
      return reply.code(500).type('text/plain; charset=utf-8').send('scrape failed\n');
    }
  });

  app.get('/', async (_req, reply) => reply.redirect('/cases', 303));

  registerAuthRoutes(app, ctx);
  registerCaseRoutes(app, ctx);
  registerReprocessRoutes(app, ctx);
  registerTaskRoutes(app, ctx);
  registerAdminRoutes(app, ctx);
  registerStatsRoutes(app, ctx);
  registerAuditRoutes(app, ctx);
  return app;
}

/** Starts the UI on HTTP_HOST:HTTP_PORT (127.0.0.1:8080 by default). */
export async function startWebServer(ctx: AppContext, opts: WebServerOptions = {}): Promise<WebServer> {
  const app = await buildWebApp(ctx, opts);
  const { host, port } = ctx.config.http;
  await app.listen({ host, port });
  const addr = app.server.address();
  const actualPort = addr && typeof addr === 'object' ? addr.port : port;
  const url = `http://${host.includes(':') ? `[${host}]` : host}:${actualPort}`;
  ctx.log.info({ component: 'web', url }, 'review UI listening');
  let closed = false;
  return {
    url,
    async close() {
      if (closed) return;
      closed = true;
      // Requests in hand may finish; after CLOSE_GRACE_MS every connection is cut, so a stop never hangs on a client.
      const cut = setTimeout(() => app.server.closeAllConnections(), CLOSE_GRACE_MS);
      cut.unref();
      try {
        await app.close();
      } finally {
        clearTimeout(cut);
      }
    },
  };
}
