import type { FastifyInstance, FastifyReply, FastifyRequest } from 'fastify';
import { audit } from '../audit';
import type { AppContext } from '../context';
import type { StaffRole } from '../db/schema';
import { listUsers, ROLES, setUserDisabled, setUserRole } from '../users';
import { formField, notFound, parseId } from './http';
import { sendPage } from './views';

/** Staff administration for admins: list, change role, disable / enable. Every change is audited. */

const NOTICES: Record<string, string> = {
  role: 'Rollen är ändrad.',
  disabled: 'Kontot är avstängt och dess inloggningar avslutade.',
  enabled: 'Kontot är aktiverat igen.',
  self: 'Du kan inte stänga av eller ändra rollen på ditt eget konto.',
};

export const ROLE_LABEL: Record<StaffRole, string> = { handlaggare: 'Handläggare', admin: 'Administratör' };

/** Refuses anyone but an admin (403). Returns true when the request may go on. */
export function requireAdmin(req: FastifyRequest, reply: FastifyReply): boolean {
  if (req.staff?.role === 'admin') return true;
  void sendPage(reply, 'error', { title: 'Ingen behörighet', staff: req.staff, message: 'Det här kräver rollen administratör.' }, 403);
  return false;
}

export function registerAdminRoutes(app: FastifyInstance, ctx: AppContext): void {
  const db = ctx.database.db;

  app.get('/admin/users', async (req, reply) => {
    if (!requireAdmin(req, reply)) return reply;
    const q = req.query as { ok?: string };
    return sendPage(reply, 'admin-users', {
      title: 'Personal',
      staff: req.staff,
      nav: 'users',
      users: await listUsers(db),
      roles: ROLES.map((r) => ({ value: r, label: ROLE_LABEL[r] })),
      roleLabel: ROLE_LABEL,
      notice: q.ok ? (NOTICES[q.ok] ?? null) : null,
    });
  });

  app.post('/admin/users/:id/role', async (req, reply) => {
    if (!requireAdmin(req, reply)) return reply;
    const id = parseId((req.params as { id: string }).id);
    if (id === null) throw notFound();
    if (id === req.staff!.userId) return reply.redirect('/admin/users?ok=self', 303);
    const role = formField(req.body, 'role') as StaffRole;
    const before = (await listUsers(db)).find((u) => u.id === id);
    if (!before) throw notFound();
    const row = await setUserRole(db, id, role);
    if (!row) throw notFound();
    await audit(
      db,
      { actor: req.staff!.actor, action: 'user.role_changed', before: { userId: id, role: before.role }, after: { userId: id, role } },
      ctx.now(),
    );
    return reply.redirect('/admin/users?ok=role', 303);
  });

  for (const action of ['disable', 'enable'] as const) {
    app.post(`/admin/users/:id/${action}`, async (req, reply) => {
      if (!requireAdmin(req, reply)) return reply;
      const id = parseId((req.params as { id: string }).id);
      if (id === null) throw notFound();
      if (id === req.staff!.userId) return reply.redirect('/admin/users?ok=self', 303);
      const row = await setUserDisabled(db, id, action === 'disable', ctx.now());
      if (row)
        await audit(
          db,
          { actor: req.staff!.actor, action: action === 'disable' ? 'user.disabled' : 'user.enabled', after: { userId: id } },
          ctx.now(),
        );
      return reply.redirect(`/admin/users?ok=${action}d`, 303);
    });
  }
}
