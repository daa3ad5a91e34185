import { errorCode, errorMessage } from '../errors';
import type { Rules } from '../rules/load';
import { csvTables, embeddedMessages, xlsxTables } from './attachments';
import { automatedReason } from './classify';
import { extractFromLines, extractFromRows } from './extract';
import { htmlToText } from './html';
import { LabelMatcher } from './labels';
import { readMail, type MailInput } from './read-mail';
import { splitThread, subjectInfo } from './thread';
import type { ParseResult } from './types';
import { validatePerson, type RawPerson } from './validate';

export type { ParseResult } from './types';

/** The parse stage's full outcome: the public result plus what later stages need of the mail. */
export interface ParsedMail {
  result: ParseResult;
  mail: MailInput | null;
  automatedReason: string | null;
  /** Readable body for review: the text part, or the HTML rendered to text. */
  bodyText: string;
}

export interface ParseOptions {
  /** Our own Message-ID domain: our mail coming back is automated. */
  ownDomain?: string;
}

const filled = (persons: RawPerson[]) => persons.reduce((n, p) => n + Object.values(p).filter((v) => v != null).length, 0);

function fromThread(text: string, reply: boolean, rules: Rules, labels: LabelMatcher, depth = 0): RawPerson[] {
  const t = splitThread(text);
  const persons = extractFromLines(t.fresh, rules, labels);
  if (persons.length > 0 || reply || t.older.length === 0 || depth >= 5) return persons;
  return fromThread(t.older.join('\n'), false, rules, labels, depth + 1);
}

async function personsOf(mail: MailInput, rules: Rules, labels: LabelMatcher, depth: number): Promise<{ persons: RawPerson[]; bodyText: string }> {
  const { reply } = subjectInfo(mail.subject);
  const htmlText = mail.html ? htmlToText(mail.html) : null;
  let persons = mail.text.trim() ? fromThread(mail.text, reply, rules, labels) : [];
  if (htmlText) {
    const fromHtml = fromThread(htmlText, reply, rules, labels);
    if (filled(fromHtml) > filled(persons)) persons = fromHtml;
  }
  for (const rows of [...csvTables(mail), ...(await xlsxTables(mail))]) persons.push(...extractFromRows(rows, labels));
  if (persons.length === 0 && depth < 3) {
    for (const inner of embeddedMessages(mail)) {
      try {
        persons.push(...(await personsOf(await readMail(inner), rules, labels, depth + 1)).persons);
      } catch {
        // An unreadable attached message adds nothing; the outer mail is still read.
      }
    }
  }
  // The same HSA-id twice (body and attachment) is one person.
  const seen = new Set<string>();
  persons = persons.filter((p) => {
    const key = p.hsaId?.replace(/\s/g, '').toUpperCase();
    if (!key) return true;
    if (seen.has(key)) return false;
    seen.add(key);
    return true;
  });
  return { persons, bodyText: mail.text.trim() ? mail.text : (htmlText ?? '') };
}

/** Raw RFC 5322 bytes → classified, extracted and validated persons. Never throws. */
export async function parseMail(raw: Buffer, rules: Rules, opts: ParseOptions = {}): Promise<ParsedMail> {
  let mail: MailInput;
  try {
    mail = await readMail(raw);
  } catch (err) {
    return {
      result: { messageId: null, from: null, subject: '', kind: 'other', persons: [], autoReply: false, error: { code: 'MAIL_UNREADABLE', message: errorMessage(err) } },
      mail: null,
      automatedReason: null,
      bodyText: raw.toString('latin1').slice(0, 100_000),
    };
  }
  const base = { messageId: mail.messageId, from: mail.from, subject: mail.subject };
  try {
    const reason = automatedReason(mail, rules, opts.ownDomain);
    if (reason) {
      return { result: { ...base, kind: 'automated', persons: [], autoReply: false }, mail, automatedReason: reason, bodyText: mail.text || (mail.html ? htmlToText(mail.html) : '') };
    }
    const { persons, bodyText } = await personsOf(mail, rules, LabelMatcher.for(rules), 0);
    const records = persons.map((p) => validatePerson(p, rules));
    const kind = records.length > 0 ? 'notification' : 'other';
    return {
      result: { ...base, kind, persons: records, autoReply: kind === 'notification' && records.some((p) => p.problems.length > 0) },
      mail,
      automatedReason: null,
      bodyText,
    };
  } catch (err) {
    return {
      result: { ...base, kind: 'other', persons: [], autoReply: false, error: { code: errorCode(err), message: errorMessage(err) } },
      mail,
      automatedReason: null,
      bodyText: mail.text,
    };
  }
}
