import { echoable, maskPersonnummerInText } from '../cases/sanitize';
import type { PersonRecord } from '../parse/types';
import { FIELDS } from '../parse/types';
import type { Rules } from '../rules/load';

/** Reply texts from the templates in rules/replies.yaml. */

export interface ComposeInput {
  ref: string;
  subject: string; // the provider's subject without SV:/VB: prefixes
  mailbox: string;
  persons: Array<Pick<PersonRecord, 'name' | 'function' | 'hsaId' | 'treservaUser' | 'problems'>>;
  note?: string;
}

function fill(template: string, values: Record<string, string>): string {
  return template.replace(/\{(\w+)\}/g, (m, key: string) => values[key] ?? m);
}

/** A person as the reply names them: only values without a problem are repeated (an invalid one may be a personnummer). */
function who(p: ComposeInput['persons'][number], i: number): string {
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

function problemsText(input: ComposeInput): string {
  return capped(
    input.persons.filter((p) => p.problems.length > 0),
    (p, i) => [`${who(p, i)}:`, ...p.problems.map((pr) => `  - ${pr.message}`)].join('\n'),
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

function personsText(input: ComposeInput): string {
  return capped(input.persons, (p, i) => `  - ${who(p, i)}`);
}

function render(t: { subject: string; body: string }, values: Record<string, string>) {
  const subject = fill(t.subject, values).replace(/\s+/g, ' ').trim();
  const body =
    fill(t.body, values)
      .replace(/\n{3,}/g, '\n\n')
      .trimEnd() + '\n';
  // Nothing mail-derived leaves with a personnummer in clear (the subject is the provider's own).
  return { subject: maskPersonnummerInText(subject), body: maskPersonnummerInText(body) };
}

export function composeMissingInfo(input: ComposeInput, rules: Rules) {
  return render(rules.replies.missingInfo, {
    ref: input.ref,
    subject: input.subject,
    mailbox: input.mailbox,
    problems: problemsText(input),
    form: formText(input, rules),
    persons: personsText(input),
  });
}

export function composeReceipt(input: ComposeInput, rules: Rules) {
  return render(rules.replies.receipt, { ref: input.ref, subject: input.subject, mailbox: input.mailbox, persons: personsText(input) });
}

export function composeRemovalReceipt(input: ComposeInput, rules: Rules) {
  return render(rules.replies.removalReceipt, {
    ref: input.ref,
    subject: input.subject,
    mailbox: input.mailbox,
    persons: personsText(input),
  });
}

/** For senders not verified as the provider, and for replies over the size cap: no personal data. */
export function composeAcknowledgement(input: Pick<ComposeInput, 'ref' | 'subject' | 'mailbox'>, rules: Rules) {
  return render(rules.replies.acknowledgement, { ref: input.ref, subject: input.subject, mailbox: input.mailbox });
}

export function composeDoneConfirmation(input: ComposeInput, rules: Rules, action: 'grant' | 'revoke' = 'grant') {
  return render(action === 'revoke' ? rules.replies.removalDone : rules.replies.doneConfirmation, {
    ref: input.ref,
    subject: input.subject,
    mailbox: input.mailbox,
    persons: personsText(input),
    note: input.note ? `Meddelande från IT-avdelningen: ${input.note}` : '',
  });
}
