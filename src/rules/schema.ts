import { z } from 'zod';
import { luhnValid } from '../parse/hsa-id';

const nonEmpty = z.string().trim().min(1, 'must not be empty');
const regex = nonEmpty.refine(
  (s) => {
    try {
      new RegExp(s, 'iu');
      return true;
    } catch {
      return false;
    }
  },
  { message: 'is not a valid regular expression' },
);

const labels = z.array(nonEmpty).min(1, 'needs at least one label');
const field = () => z.strictObject({ label: nonEmpty, labels, messages: z.strictObject({ missing: nonEmpty, invalid: nonEmpty }) });
const hsaField = z.strictObject({
  label: nonEmpty,
  labels,
  messages: z.strictObject({ missing: nonEmpty, invalid: nonEmpty, checksum: nonEmpty, personnummer: nonEmpty, tooLong: nonEmpty }),
});

export const fieldsFileSchema = z.strictObject({
  fields: z.strictObject({
    // Separate first-name and surname labels ("Förnamn:", "Efternamn:") make one name.
    name: field().extend({ givenLabels: z.array(nonEmpty).default([]), familyLabels: z.array(nonEmpty).default([]) }),
    function: field(),
    hsaId: hsaField,
    treservaUser: field(),
  }),
});

const phrase = nonEmpty.toLowerCase();
export const lexiconFileSchema = z.strictObject({
  roles: z.array(z.strictObject({ name: nonEmpty, abbreviations: z.array(nonEmpty).default([]) })).min(1, 'needs at least one role'),
  roleEndings: z.array(phrase).default([]),
  roleModifiers: z.array(phrase).default([]),
  placeholders: z.array(phrase).default([]),
  revoke: z.array(phrase).min(1, 'needs at least one phrase'),
  grant: z.array(phrase).default([]),
  followUp: z.array(phrase).default([]),
});

const domain = z
  .string()
  .trim()
  .toLowerCase()
  .regex(/^[a-z0-9.-]+\.[a-z]{2,}$/, 'must be a mail domain such as example.se');

/** A Swedish organisation number, 10 digits with a Luhn check digit ("556559-4230"); kept as 10 digits. */
const orgNumber = z
  .string()
  .trim()
  .transform((s) => s.replace(/[-\s]/g, ''))
  .refine((s) => /^[0-9]{10}$/.test(s) && luhnValid(s), { message: 'must be an organisation number such as 556559-4230 (with a valid check digit)' });

export const sendersFileSchema = z.strictObject({
  providers: z
    .array(z.strictObject({ name: nonEmpty, domains: z.array(domain).min(1), orgNumbers: z.array(orgNumber).default([]) }))
    .default([]),
  // Organisations whose HSA-ids any provider may use (Inera issues ids under its own number).
  acceptedIssuers: z.array(z.strictObject({ name: nonEmpty, orgNumber })).default([]),
  automated: z
    .strictObject({
      localParts: z.array(nonEmpty.toLowerCase()).default([]),
      subjects: z.array(regex).default([]),
    })
    .default({ localParts: [], subjects: [] }),
});

const template = (required: string[]) =>
  z.strictObject({
    subject: nonEmpty.refine((s) => s.includes('{ref}'), { message: 'must contain {ref}' }),
    body: nonEmpty.refine((s) => required.every((p) => s.includes(p)), {
      message: `must contain ${required.join(' and ')}`,
    }),
  });

/** A reply to a sender not known to be the provider: it must not carry personal data. */
const PERSONAL_PLACEHOLDERS = ['{persons}', '{problems}', '{form}', '{accepted}', '{note}', '{reason}'];
const neutral = template([]).refine((t) => !PERSONAL_PLACEHOLDERS.some((p) => t.body.includes(p) || t.subject.includes(p)), {
  message: `must not contain ${PERSONAL_PLACEHOLDERS.join(', ')} (it goes to senders not verified as the provider)`,
});

export const repliesFileSchema = z.strictObject({
  missingInfo: template(['{problems}', '{form}', '{accepted}']),
  stillMissing: template(['{problems}', '{form}']),
  reminder: template(['{problems}', '{form}']),
  receipt: template(['{persons}']),
  removalReceipt: template(['{persons}']),
  doneConfirmation: template(['{persons}']),
  removalDone: template(['{persons}']),
  rejection: template(['{reason}']),
  acknowledgement: neutral,
  phrases: z.strictObject({ accepted: nonEmpty, youWrote: nonEmpty, note: nonEmpty }),
  /** Words of out-of-office answers without headers: such a mail without data gets no answer. */
  outOfOffice: z.array(nonEmpty.max(100)).max(200).default([]),
  /** Texts sent before the current ones: still quoted in providers' mailboxes, so still our own words. */
  earlier: z.array(nonEmpty).default([]),
});

/** The reply templates by name (phrases and earlier texts apart). */
export type ReplyTemplateName = Exclude<keyof z.output<typeof repliesFileSchema>, 'phrases' | 'earlier' | 'outOfOffice'>;

export type FieldsFile = z.output<typeof fieldsFileSchema>;
export type LexiconFile = z.output<typeof lexiconFileSchema>;
export type SendersFile = z.output<typeof sendersFileSchema>;
export type RepliesFile = z.output<typeof repliesFileSchema>;
