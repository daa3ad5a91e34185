import type { ReprocessChange } from '../cases/reprocess';
import { asc, desc, eq, inArray } from 'drizzle-orm';
import type { Db } from '../db/client';
import { cases, persons, tasks, type CaseStatus, type TaskStatus } from '../db/schema';

/** `cases` and `tasks` listings; JSON uses the parse contract's field names. */

export async function listCases(db: Db, status?: CaseStatus, limit = 200) {
  const rows = await db
    .select()
    .from(cases)
    .where(status ? eq(cases.status, status) : undefined)
    .orderBy(desc(cases.updatedAt))
    .limit(limit);
  const ps = rows.length
    ? await db
        .select()
        .from(persons)
        .where(
          inArray(
            persons.caseId,
            rows.map((c) => c.id),
          ),
        )
        .orderBy(asc(persons.id))
    : [];
  return rows.map((c) => ({
    ref: c.ref,
    status: c.status,
    provider: c.providerName,
    knownProvider: c.knownProvider,
    senderVerified: c.senderVerified,
    refersTo: c.refersToRef,
    from: c.sender,
    subject: c.subject,
    createdAt: c.createdAt.toISOString(),
    updatedAt: c.updatedAt.toISOString(),
    persons: ps
      .filter((p) => p.caseId === c.id)
      .map((p) => ({
        name: p.name,
        function: p.function,
        hsaId: p.hsaId,
        treservaUser: p.treservaUser,
        intent: p.intent,
        status: p.status,
        problems: p.problems,
        hsaNote: p.hsaNote,
      })),
  }));
}

export async function listTasks(db: Db, status?: TaskStatus, limit = 500) {
  const rows = await db
    .select()
    .from(tasks)
    .where(status ? eq(tasks.status, status) : undefined)
    .orderBy(asc(tasks.id))
    .limit(limit);
  return rows.map((t) => ({
    id: t.id,
    action: t.action,
    status: t.status,
    caseRef: t.caseRef,
    name: t.name,
    function: t.function,
    hsaId: t.hsaId,
    treservaUser: t.treservaUser,
    provider: t.providerName,
    from: t.sender,
    senderVerified: t.senderVerified,
    assignee: t.assignee,
    doneBy: t.doneBy,
    createdAt: t.createdAt.toISOString(),
    doneAt: t.doneAt?.toISOString() ?? null,
  }));
}

export function casesText(list: Awaited<ReturnType<typeof listCases>>): string {
  if (list.length === 0) return 'inga ärenden\n';
  return (
    list
      .map((c) => {
        const head = `${c.ref}  ${c.status.padEnd(8)}  ${c.provider ?? `${c.from ?? '?'} (okänd avsändare)`}${c.senderVerified ? '' : ' [avsändaren är inte verifierad]'}  ${c.subject}`;
        const ps = c.persons.map(
          (p) =>
            `    ${p.status.padEnd(12)} ${p.name ?? '(namn saknas)'}${p.problems.length ? `  [${p.problems.map((x) => `${x.field}:${x.code}`).join(', ')}]` : ''}`,
        );
        return [head, ...ps].join('\n');
      })
      .join('\n') + '\n'
  );
}

export function tasksText(list: Awaited<ReturnType<typeof listTasks>>): string {
  if (list.length === 0) return 'inga uppgifter\n';
  return (
    list
      .map(
        (t) =>
          `#${t.id}  ${(t.action === 'revoke' ? 'TA BORT' : 'lägg upp').padEnd(9)} ${t.status.padEnd(11)}  ${t.caseRef}  ${t.name}${t.function ? `, ${t.function}` : ''}  ${t.hsaId}  ${t.treservaUser}  ${t.provider ?? t.from ?? ''}${t.senderVerified ? '' : '  [avsändaren är inte verifierad]'}`,
      )
      .join('\n') + '\n'
  );
}

/** `reprocess` as text: one line per message, counts and field names (the values only with --json). */
export function reprocessText(changes: ReprocessChange[], dryRun: boolean): string {
  const lines = changes.map((c) => {
    const head = `message ${c.messageRowId}: ${c.before.kind} → ${c.after.kind}`;
    const fields = [...new Set(c.fields.filter((f) => f.after !== f.before).map((f) => f.field))].join(', ');
    switch (c.action) {
      case 'case':
        return `${head}: case ${c.caseId}, ${c.personsAdded} persons, ${c.tasksCreated} tasks, ${c.repliesQueued} replies`;
      case 'persons':
        return `${head}: case ${c.caseId}, ${c.personsUpdated} persons filled (${fields}), ${c.personsAdded} new, ${c.tasksCreated} tasks`;
      case 'not-applied':
        return `${head}: not applied (${c.note})`;
      default:
        return `${head}: unchanged`;
    }
  });
  const changed = changes.filter((c) => c.action === 'case' || c.action === 'persons').length;
  lines.push(`${changes.length} messages read, ${changed} ${dryRun ? 'would change (dry run: nothing changed)' : 'changed'}`);
  return lines.join('\n') + '\n';
}
