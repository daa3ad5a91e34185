import type { AuthVerdict, TaskAction } from '../db/schema';
import type { CaseStatus, FieldName, MessageKind, MessageStatus, OutboxKind, OutboxStatus, PersonStatus, TaskStatus } from '../db/schema';

/** Every Swedish text the UI shows for a code. */

export const CASE_STATUS: Record<CaseStatus, string> = {
  waiting: 'Väntar på utförare',
  complete: 'Komplett',
  review: 'Behöver granskas',
  done: 'Klar',
  rejected: 'Avvisad',
};
export const CASE_STATUSES = Object.keys(CASE_STATUS) as CaseStatus[];

export const PERSON_STATUS: Record<PersonStatus, string> = {
  incomplete: 'Uppgifter saknas',
  complete: 'Komplett',
  task_created: 'Uppgift skapad',
  needs_review: 'Behöver granskas',
  duplicate: 'Dubblett',
  rejected: 'Avvisad',
};

export const TASK_STATUS: Record<TaskStatus, string> = {
  open: 'Öppen',
  in_progress: 'Pågår',
  done: 'Klar',
  cancelled: 'Avbruten',
};

export const MESSAGE_STATUS: Record<MessageStatus, string> = {
  processed: 'Behandlat',
  ignored: 'Automatiskt (besvaras inte)',
  review: 'Att granska',
  settled: 'Granskat',
};

export const MESSAGE_KIND: Record<MessageKind, string> = {
  notification: 'anmälan',
  automated: 'automatiskt meddelande',
  other: 'övrigt meddelande',
  own: 'vårt eget utskick',
};

export const OUTBOX_KIND: Record<OutboxKind, string> = {
  missing_info: 'Begäran om komplettering',
  receipt: 'Mottagningskvitto',
  removal_receipt: 'Mottagningskvitto (borttagning)',
  acknowledgement: 'Neutral bekräftelse (utan personuppgifter)',
  done_confirmation: 'Besked om klar behörighet',
  still_missing: 'Uppgifter saknas fortfarande',
  reminder: 'Påminnelse',
  rejection: 'Besked om avvisat ärende',
};

export const OUTBOX_STATUS: Record<OutboxStatus, string> = {
  pending: 'Väntar på att skickas',
  held: 'Hålls inne',
  sending: 'Skickas',
  sent: 'Skickat',
  failed: 'Misslyckades',
  suppressed: 'Skickas inte',
};

export const TASK_ACTION: Record<TaskAction, string> = {
  grant: 'Lägg upp behörighet',
  revoke: 'Ta bort behörighet',
};

export const AUTH_VERDICT: Record<AuthVerdict, string> = {
  pass: 'verifierad',
  fail: 'verifieringen misslyckades',
  none: 'inte verifierad',
};

/** The mark on every case, list row and task card whose sender is not a verified known provider. */
export const UNVERIFIED = 'Avsändaren är inte verifierad';

export const FIELD_LABEL: Record<FieldName, string> = {
  name: 'Namn',
  function: 'Funktion',
  hsaId: 'HSA-id',
  treservaUser: 'Användarnamn i Treserva/TES',
};

export const AUDIT_ACTION: Record<string, string> = {
  'case.created': 'Ärendet skapades',
  'case.viewed': 'Ärendet visades',
  'case.rejected': 'Ärendet avvisades',
  'case.reopened': 'Ärendet öppnades igen',
  'task.reopened': 'Uppgiften öppnades igen',
  'case.provider_silent': 'Utföraren svarar inte (flaggat efter påminnelser)',
  'reply.reminder': 'Påminnelse till utföraren',
  'message.processed': 'Meddelande behandlat',
  'message.review': 'Meddelande till granskning',
  'message.ignored': 'Automatiskt meddelande (besvaras inte)',
  'message.assigned': 'Meddelande kopplat till ärendet',
  'message.not_relevant': 'Meddelande markerat som ej relevant',
  'person.corrected': 'Person rättad',
  'person.merged': 'Person kompletterad från nytt meddelande',
  'person.duplicate': 'Person markerad som dubblett',
  'task.created': 'Uppgift skapad',
  'task.taken': 'Uppgift tagen',
  'task.done': 'Uppgift klar',
  'task.released': 'Uppgift lämnad tillbaka',
  'task.sender_confirmed': 'Avsändaren kontrollerad med utföraren',
  'task.cancelled': 'Uppgift avbruten',
  'reply.held': 'Svar hålls inne',
  'reply.released': 'Svar släppt för att skickas',
  'reply.requeued': 'Misslyckat svar skickas igen',
  'reply.sent_anyway': 'Svar skickas ändå (av personal)',
  'tasks.exported': 'Uppgifter exporterade (CSV)',
  'user.signed_in': 'Inloggning',
  'user.sign_in_failed': 'Misslyckad inloggning',
  'user.locked': 'Konto låst efter misslyckade inloggningar',
};

/** Keys shown in before/after of audit events, in Swedish. */
export const AUDIT_KEY: Record<string, string> = {
  ...FIELD_LABEL,
  status: 'Status',
  assignee: 'Tilldelad',
  note: 'Anteckning',
  reason: 'Anledning',
  caseId: 'Ärende',
  reviewReason: 'Granskningsorsak',
  outboxId: 'Svar',
  taskId: 'Uppgift',
  kind: 'Typ',
  intent: 'Åtgärd',
  action: 'Åtgärd',
  doneBy: 'Utförd av',
  confirmedBy: 'Kontrollerat av',
};

/** Short notices after a form post (`?ok=` codes). */
export const NOTICE: Record<string, string> = {
  corrected: 'Personen är sparad.',
  'task-created': 'Personen är komplett och en uppgift är skapad.',
  rejected: 'Ärendet är avvisat.',
  reopened: 'Ärendet är öppnat igen.',
  'sent-anyway': 'Svaret skickas nu.',
  assigned: 'Meddelandet är kopplat till ärendet.',
  'not-relevant': 'Meddelandet är markerat som ej relevant.',
  settled: 'Meddelandet är markerat som granskat.',
  held: 'Svaret hålls inne.',
  released: 'Svaret skickas med nästa utskick.',
  requeued: 'Svaret försöks skickas igen.',
  taken: 'Du har tagit uppgiften.',
  'task-released': 'Uppgiften är tillbaka bland de öppna.',
  done: 'Uppgiften är klar.',
  'done-mail': 'Uppgiften är klar och ett besked till utföraren ligger för utskick.',
  'signed-out': 'Du är utloggad.',
};

/** Error codes to messages (`?err=`). */
export const ERROR_NOTICE: Record<string, string> = {
  CONFLICT: 'Det gick inte: någon annan kan ha ändrat samma sak. Sidan visar nu läget.',
  NOT_FOUND: 'Hittades inte.',
  'case-not-found': 'Det finns inget ärende med det numret.',
  'reason-required': 'Skriv en anledning.',
  INVALID_INPUT: 'Uppgifterna i formuläret är inte giltiga.',
  'taken-by-other': 'Uppgiften har redan tagits av någon annan. Sidan visar nu vem.',
  'not-yours': 'Uppgiften är tagen av någon annan: bara den som tagit den kan lämna tillbaka eller markera den som klar.',
  'confirm-required':
    'Avsändaren är inte verifierad: kontrollera uppgifterna med utföraren och kryssa i "kontrollerat med utföraren" innan uppgiften markeras som klar.',
  'four-eyes': 'Du har rättat uppgifterna: någon annan måste markera uppgiften som klar (fyra ögon).',
  'case-closed': 'Ärendet är avvisat eller klart och kan inte ändras.',
};
