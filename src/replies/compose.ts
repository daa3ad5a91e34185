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

function who(p: ComposeInput['persons'][number], i: number): string {
  const name = p.name ?? `Person ${i + 1} (namn saknas)`;
  return p.function ? `${name}, ${p.function}` : name;
}

function problemsText(input: ComposeInput): string {
  return input.persons
    .filter((p) => p.problems.length > 0)
    .map((p, i) => [`${who(p, i)}:`, ...p.problems.map((pr) => `  - ${pr.message}`)].join('\n'))
    .join('\n\n');
}

/** Ready-to-fill block: each person with problems, the four labels, values we already have filled in. */
function formText(input: ComposeInput, rules: Rules): string {
  return input.persons
    .filter((p) => p.problems.length > 0)
    .map((p) =>
      FIELDS.map((f) => {
        const bad = p.problems.some((pr) => pr.field === f);
        const value = bad ? '' : (p[f] ?? '');
        return `${rules.fields[f].label}: ${value}`.trimEnd();
      }).join('\n'),
    )
    .join('\n\n');
}

function personsText(input: ComposeInput): string {
  return input.persons.map((p, i) => `  - ${who(p, i)}`).join('\n');
}

function render(t: { subject: string; body: string }, values: Record<string, string>) {
  const subject = fill(t.subject, values).replace(/\s+/g, ' ').trim();
  const body = fill(t.body, values).replace(/\n{3,}/g, '\n\n').trimEnd() + '\n';
  return { subject, body };
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

export function composeDoneConfirmation(input: ComposeInput, rules: Rules) {
  return render(rules.replies.doneConfirmation, {
    ref: input.ref,
    subject: input.subject,
    mailbox: input.mailbox,
    persons: personsText(input),
    note: input.note ? `Meddelande från IT-avdelningen: ${input.note}` : '',
  });
}
