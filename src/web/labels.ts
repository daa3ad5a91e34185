import type { AuthVerdict, TaskAction } from '../db/schema';
import type { CaseStatus, FieldName, MessageKind, MessageStatus, OutboxKind, OutboxStatus, PersonStatus, TaskStatus } from '../db/schema';

/** Every Swedish text the UI shows for a code. */

export const CASE_STATUS: Record<CaseStatus, string> = {
  waiting: 'Väntar på utförare',
  complete: 'Redo för IT',
  review: 'Behöver granskas',
  done: 'Klar',
  rejected: 'Avvisad',
};
export const CASE_STATUSES = Object.keys(CASE_STATUS) as CaseStatus[];

export const PERSON_STATUS: Record<PersonStatus, string> = {
  incomplete: 'Uppgifter saknas',
  complete: 'Uppgifterna kompletta',
  task_created: 'Uppdrag skapat',
  needs_review: 'Behöver granskas',
  duplicate: 'Dubblett',
  rejected: 'Avvisad',
};

export const TASK_STATUS: Record<TaskStatus, string> = {
  open: 'Öppet',
  in_progress: 'Pågår',
  done: 'Klart',
  cancelled: 'Avbrutet',
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
  manual: 'Eget svar från handläggare',
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
  'message.processed': 'Meddelande behandlat',
  'message.review': 'Meddelande till granskning',
  'message.ignored': 'Automatiskt meddelande (besvaras inte)',
  'message.assigned': 'Meddelande kopplat till ärendet',
  'message.not_relevant': 'Meddelande markerat som ej relevant',
  'person.corrected': 'Person rättad',
  'person.merged': 'Person kompletterad från nytt meddelande',
  'person.duplicate': 'Person markerad som dubblett',
  'task.created': 'Uppdrag skapat',
  'task.taken': 'Uppdrag taget',
  'task.done': 'Uppdrag klart',
  'task.released': 'Uppdrag lämnat tillbaka',
  'task.sender_confirmed': 'Avsändaren kontrollerad med utföraren',
  'task.cancelled': 'Uppdrag avbrutet',
  'task.updated': 'Uppdraget följde rättelsen',
  'person.rejected': 'Person avvisad',
  'case.note': 'Intern anteckning',
  'case.created_from_message': 'Ärendet skapades från ett meddelande att granska',
  'reply.manual': 'Eget svar till utföraren köat',
  'audit.exported': 'Händelselogg exporterad (CSV)',
  'stats.exported': 'Statistik exporterad (CSV)',
  'user.role_changed': 'Roll ändrad',
  'user.disabled': 'Konto avstängt',
  'user.enabled': 'Konto aktiverat',
  'reply.held': 'Svar hålls inne',
  'reply.released': 'Svar släppt för att skickas',
  'reply.requeued': 'Misslyckat svar skickas igen',
  'tasks.exported': 'Uppdrag exporterade (CSV)',
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
  taskId: 'Uppdrag',
  kind: 'Typ',
  intent: 'Åtgärd',
  action: 'Åtgärd',
  doneBy: 'Utförd av',
  confirmedBy: 'Kontrollerat av',
};

/** Short notices after a form post (`?ok=` codes). */
export const NOTICE: Record<string, string> = {
  corrected: 'Sparat. Uppgifterna är kompletta.',
  'task-created': 'Sparat. Uppgifterna är kompletta och ett uppdrag är skapat.',
  'task-updated': 'Sparat. Uppdraget har fått de rättade uppgifterna.',
  'person-rejected': 'Personen är avvisad; ett öppet uppdrag för den är avbrutet.',
  'note-added': 'Anteckningen är sparad.',
  'manual-reply': 'Svaret ligger för utskick och skickas med nästa utskick.',
  'case-created': 'Ett ärende är skapat från meddelandet.',
  rejected: 'Ärendet är avvisat.',
  assigned: 'Meddelandet är kopplat till ärendet.',
  'not-relevant': 'Meddelandet är markerat som ej relevant.',
  settled: 'Meddelandet är markerat som granskat.',
  held: 'Svaret hålls inne.',
  released: 'Svaret skickas med nästa utskick.',
  requeued: 'Svaret försöks skickas igen.',
  taken: 'Du har tagit uppdraget.',
  'task-released': 'Uppdraget är tillbaka bland de öppna.',
  done: 'Uppdraget är klart.',
  'done-mail': 'Uppdraget är klart och ett besked till utföraren ligger för utskick.',
  'signed-out': 'Du är utloggad.',
  reprocessed: 'Meddelandet är tolkat igen med nuvarande regler.',
};

/** Error codes to messages (`?err=`). */
export const ERROR_NOTICE: Record<string, string> = {
  CONFLICT: 'Det gick inte: någon annan kan ha ändrat samma sak. Sidan visar nu läget.',
  NOT_FOUND: 'Hittades inte.',
  'case-not-found': 'Det finns inget ärende med det numret.',
  'reason-required': 'Skriv en anledning.',
  INVALID_INPUT: 'Uppgifterna i formuläret är inte giltiga.',
  'taken-by-other': 'Uppdraget har redan tagits av någon annan. Sidan visar nu vem.',
  'not-yours': 'Uppdraget är taget av någon annan: bara den som tagit det kan lämna tillbaka eller markera det som klart.',
  'confirm-required':
    'Avsändaren är inte verifierad: kontrollera uppgifterna med utföraren och kryssa i "kontrollerat med utföraren" innan uppdraget markeras som klart.',
  'four-eyes': 'Du har rättat uppgifterna: någon annan måste markera uppdraget som klart (fyra ögon).',
  'case-closed': 'Ärendet är avvisat eller klart och kan inte ändras.',
  'task-done': 'Uppdraget för personen är redan klart: uppgifterna kan inte längre ändras. Skriv en intern anteckning i stället.',
  'task-needs-complete':
    'Personen har ett uppdrag: spara bara fullständiga och giltiga uppgifter, annars blir uppdraget fel. Ingenting sparades.',
  'hsa-duplicate': 'Det HSA-id:t har redan ett levande uppdrag i ett annat ärende. Ingenting sparades.',
  'note-required': 'Skriv en anteckning.',
  'still-problems': 'Inte klart: uppgifterna har fel (se fälten). Ändringen är sparad, men inget uppdrag skapas förrän felen är rättade.',
  'saved-review': 'Sparat, men personen behöver granskas (se orsaken på kortet). Inget uppdrag skapades.',
  'reply-required': 'Skriv ett meddelande.',
  'no-sender': 'Ärendet har ingen avsändaradress att svara till.',
  'none-selected': 'Välj minst ett uppdrag.',
};

/** Why a reply was not sent (`outbox.suppress_reason`), in Swedish; unknown reasons are shown as a generic text, never raw. */
export const SUPPRESS_REASON: Record<string, string> = {
  'rate-limit-case': 'gränsen för automatiska svar per ärende och dygn är nådd',
  'rate-limit-recipient': 'gränsen för automatiska svar per mottagare och timme är nådd',
};

export function suppressReason(reason: string | null | undefined): string {
  if (!reason) return '';
  if (reason in SUPPRESS_REASON) return SUPPRESS_REASON[reason]!;
  // Reasons written in Swedish by the pipeline ("okänd avsändare") are shown; codes (a-z and dashes) are not.
  return /^[a-z0-9-]+$/.test(reason) ? 'stoppat av en regel för utskick' : reason;
}

/** Person status as shown: a person whose task is done shows the outcome, not "Uppdrag skapat". */
export function personStatus(status: PersonStatus, task: { status: TaskStatus; action: TaskAction } | null | undefined): string {
  if (status === 'task_created' && task) {
    if (task.status === 'done') return task.action === 'revoke' ? 'Behörighet borttagen' : 'Behörighet klar';
    if (task.status === 'in_progress') return 'Uppdrag pågår';
    if (task.status === 'cancelled') return 'Uppdrag avbrutet';
  }
  return PERSON_STATUS[status];
}
