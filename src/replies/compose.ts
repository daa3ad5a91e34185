import { echoable, maskPersonnummerInText } from '../cases/sanitize';
import type { PersonRecord } from '../parse/types';
import { FIELDS } from '../parse/types';
import type { Rules } from '../rules/load';
import type { ReplyTemplateName } from '../rules/schema';

/**
 * Reply texts from the templates in rules/replies.yaml. Paragraphs stay one line each (the mail
 * client wraps them); lists are lines starting with "  - ". Nothing mail-derived leaves with a
 * personnummer in clear.
 */

type PersonIn = Pick<PersonRecord, 'name' | 'function' | 'hsaId' | 'treservaUser' | 'problems'>;

export interface ComposeInput {
  ref: string;
  subject: string; // the provider's subject without SV:/VB: prefixes
  mailbox: string;
  /** The human contact line (REPLY_CONTACT). */
  contact?: string;
  persons: PersonIn[];
  /** Persons already complete while others still lack something (missing-info replies). */
  accepted?: PersonIn[];
  /** Notes IT staff wrote, by the person they were written for (done confirmations). */
  notes?: Array<{ name: string; note: string }>;
  note?: string;
}

function fill(template: string, values: Record<string, string>): string {
  return template.replace(/\{(\w+)\}/g, (m, key: string) => values[key] ?? m);
}

/** A person as the reply names them: only values without a problem are repeated here. */
function who(p: PersonIn, i: number): string {
  const name = echoable(p, 'name') ?? `Person ${i + 1}${p.name ? '' : ' (namn saknas)'}`;
  const fn = echoable(p, 'function');
  return fn ? `${name}, ${fn}` : name;
}

/** At most this many persons are listed in one reply; the rest are counted. */
export const MAX_LISTED = 50;
const capped = <T>(list: T[], line: (x: T, i: number) => string, sep = '\n'): string => {
  const shown = list.slice(0, MAX_LISTED).map(line);
  if (list.length > MAX_LISTED) shown.push(`  … och ${list.length - MAX_LISTED} till`);
  return shown.join(sep);
};

/** "1 person", "5 personer". */
export const countText = (n: number): string => (n === 1 ? '1 person' : `${n} personer`);

/** The value the provider wrote, for a field with a problem: bounded, one line, personnummer masked. */
function wrongValue(p: PersonIn, field: (typeof FIELDS)[number]): string | null {
  const v = p[field];
  if (!v || !p.problems.some((x) => x.field === field && x.code === 'invalid')) return null;
  const one = v.replace(/\s+/g, ' ').trim();
  // A personnummer is shown masked whole, birth date included: "********-****".
  return maskPersonnummerInText(one.length > 80 ? `${one.slice(0, 79)}…` : one).replace(/\d{6,8}(?=[-–+ ]?\*{4})/g, (d) =>
    '*'.repeat(d.length),
  );
}

function problemsText(input: ComposeInput, rules: Rules): string {
  const youWrote = rules.replies.phrases.youWrote;
  return capped(
    input.persons.filter((p) => p.problems.length > 0),
    (p, i) =>
      [
        `${who(p, i)}:`,
        ...p.problems.flatMap((pr) => {
          const shown = wrongValue(p, pr.field);
          return shown ? [`  - ${pr.message}`, `    ${youWrote} ${shown}`] : [`  - ${pr.message}`];
        }),
      ].join('\n'),
    '\n\n',
  );
}

/** Ready-to-fill block: each person with problems, the four labels, values we already have filled in. */
function formText(input: ComposeInput, rules: Rules): string {
  return capped(
    input.persons.filter((p) => p.problems.length > 0),
    (p) => FIELDS.map((f) => `${rules.fields[f].label}: ${echoable(p, f) ?? ''}`.trimEnd()).join('\n'),
    '\n\n',
  );
}

function personsText(list: PersonIn[]): string {
  return capped(list, (p, i) => `  - ${who(p, i)}`);
}

function acceptedText(input: ComposeInput, rules: Rules): string {
  const list = input.accepted ?? [];
  return list.length ? `${rules.replies.phrases.accepted}\n${personsText(list)}` : '';
}

function noteText(input: ComposeInput, rules: Rules): string {
  const label = rules.replies.phrases.note;
  const notes = input.notes ?? (input.note ? [{ name: '', note: input.note }] : []);
  const distinct = [...new Set(notes.map((n) => n.note))];
  if (distinct.length === 0) return '';
  if (distinct.length === 1) return `${label}: ${distinct[0]}`;
  return notes.map((n) => `${label} om ${n.name}: ${n.note}`).join('\n');
}

function render(rules: Rules, name: ReplyTemplateName, input: ComposeInput, extra: Record<string, string> = {}) {
  const t = rules.replies[name];
  const values: Record<string, string> = {
    ref: input.ref,
    subject: input.subject,
    mailbox: input.mailbox,
    contact: input.contact ?? '',
    persons: personsText(input.persons),
    count: countText(input.persons.length),
    problems: problemsText(input, rules),
    form: formText(input, rules),
    accepted: acceptedText(input, rules),
    note: noteText(input, rules),
    ...extra,
  };
  const subject = fill(t.subject, values).replace(/\s+/g, ' ').trim();
  const body =
    fill(t.body, values)
      .replace(/[ \t]+$/gm, '')
      .replace(/\n{3,}/g, '\n\n')
      .trim() + '\n';
  // Nothing mail-derived leaves with a personnummer in clear (the subject is the provider's own).
  return { subject: maskPersonnummerInText(subject), body: maskPersonnummerInText(body) };
}

/** What is missing or wrong, per person, with who is already complete. */
export function composeMissingInfo(input: ComposeInput, rules: Rules) {
  return render(rules, 'missingInfo', input);
}

/** The answer to a reply that brought nothing new: what is still missing. */
export function composeStillMissing(input: ComposeInput, rules: Rules) {
  return render(rules, 'stillMissing', input);
}

/** A reminder to a provider who has not answered our request; `asked` is the date we asked. */
export function composeReminder(input: ComposeInput & { asked: Date }, rules: Rules) {
  return render(rules, 'reminder', input, { asked: swedishDate(input.asked) });
}

export function composeReceipt(input: ComposeInput, rules: Rules) {
  return render(rules, 'receipt', input);
}

export function composeRemovalReceipt(input: ComposeInput, rules: Rules) {
  return render(rules, 'removalReceipt', input);
}

/** For senders not verified as the provider, for questions, and for replies over the size cap: no personal data. */
export function composeAcknowledgement(input: Pick<ComposeInput, 'ref' | 'subject' | 'mailbox' | 'contact'>, rules: Rules) {
  return render(rules, 'acknowledgement', { ...input, persons: [] });
}

export function composeDoneConfirmation(input: ComposeInput, rules: Rules, action: 'grant' | 'revoke' = 'grant') {
  return render(rules, action === 'revoke' ? 'removalDone' : 'doneConfirmation', input);
}

export function composeRejection(input: Omit<ComposeInput, 'persons'> & { reason: string }, rules: Rules) {
  const reason = maskPersonnummerInText(input.reason.replace(/\s+/g, ' ').trim().slice(0, 2000));
  return render(rules, 'rejection', { ...input, persons: [] }, { reason });
}

const MONTHS = ['januari', 'februari', 'mars', 'april', 'maj', 'juni', 'juli', 'augusti', 'september', 'oktober', 'november', 'december'];

/** "25 november 2026", in Swedish time. */
export function swedishDate(d: Date): string {
  const [y, m, day] = new Intl.DateTimeFormat('en-CA', { timeZone: 'Europe/Stockholm', year: 'numeric', month: '2-digit', day: '2-digit' })
    .format(d)
    .split('-')
    .map(Number) as [number, number, number];
  return `${day} ${MONTHS[m - 1]} ${y}`;
}
