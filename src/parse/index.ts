import { errorCode, errorMessage } from '../errors';
import type { Rules } from '../rules/load';
import { csvTables, embeddedMessages, xlsxTables } from './attachments';
import { automatedReason } from './classify';
import { extractFromLines, extractFromRows } from './extract';
import { assignIntent, mailIntent } from './intent';
import { Lexicon } from './lexicon';
import { takeOwnWords } from './own-words';
import { plausibleBare } from './values';
import { FIELDS } from './types';
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

const filled = (persons: RawPerson[]) => persons.reduce((n, p) => n + FIELDS.filter((f) => p[f] != null).length, 0);

/** What a mail client shows: no zero-width marks, links as their text, lines of bounded length. */
export function visibleText(text: string): string {
  return text
    .replace(/[\u200b-\u200d\u2060\ufeff\u00ad\u202a-\u202e\u2066-\u2069]/g, '')
    .replace(/([^\s<>]+)\s?<mailto:[^<>\s]{1,200}>/g, '$1')
    .replace(/\[mailto:[^\]\s]{1,200}\]/g, '')
    .replace(/([^\s<>]+)\s?<https?:\/\/[^<>\s]{1,500}>/g, '$1')
    .split(/\r?\n/)
    .map((l) => (l.length > MAX_LINE ? l.slice(0, MAX_LINE) : l))
    .join('\n');
}
const MAX_LINE = 2000;

const FIRST_PERSON = /(?<![\p{L}])(?:jag|mitt|min|mina|mig|i have|my)(?![\p{L}])/iu;

/** A self-announcing sender ("jag har fått mitt SITHS-kort") named only in the signature. */
function fromSignature(person: RawPerson, fresh: string[], signature: string[], rules: Rules): void {
  if ((person.name != null && person.function != null) || !FIRST_PERSON.test(fresh.join(' '))) return;
  const lexicon = Lexicon.for(rules);
  const lines = signature
    .slice(1)
    .map((l) => l.trim())
    .filter(Boolean)
    .slice(0, 4);
  for (const [k, line] of lines.entries()) {
    const cells = line.split(/\s*(?:[,|/]|\s[-–]\s)\s*/).filter(Boolean);
    if (person.name == null && plausibleBare('name', cells[0]!) && !lexicon.isRole(cells[0]!)) {
      person.name = cells[0]!;
      const fn = cells[1] ?? lines[k + 1];
      if (person.function == null && fn && lexicon.isRole(fn)) person.function = fn;
      return;
    }
  }
}

function fromThread(text: string, subject: string, reply: boolean, rules: Rules, labels: LabelMatcher, depth = 0): RawPerson[] {
  const t = splitThread(text);
  const persons = extractFromLines(t.fresh, rules, labels);
  if (persons.length === 1) fromSignature(persons[0]!, t.fresh, t.signature, rules);
  assignIntent(persons, t.fresh, rules, mailIntent([subject], rules));
  if (persons.length > 0 || reply || t.older.length === 0 || depth >= 5) return persons;
  return fromThread(t.older.join('\n'), subject, false, rules, labels, depth + 1);
}

/** One body (the text part, or the HTML as text): our own words out, our typed-in form read, the rest extracted. */
function fromBody(text: string, subject: string, reply: boolean, rules: Rules, labels: LabelMatcher): RawPerson[] {
  const own = takeOwnWords(visibleText(text).replace(/\r\n?/g, '\n').replace(/\u00a0/g, ' ').split('\n'), rules);
  const persons = fromThread(own.rest.join('\n'), subject, reply || own.persons.length > 0, rules, labels);
  assignIntent(own.persons, own.rest, rules, mailIntent([subject], rules));
  return [...own.persons, ...persons];
}

async function personsOf(mail: MailInput, rules: Rules, labels: LabelMatcher, depth: number): Promise<{ persons: RawPerson[]; bodyText: string }> {
  const { reply } = subjectInfo(mail.subject);
  const htmlText = mail.html ? htmlToText(mail.html) : null;
  let persons = mail.text.trim() ? fromBody(mail.text, mail.subject, reply, rules, labels) : [];
  if (htmlText) {
    const fromHtml = fromBody(htmlText, mail.subject, reply, rules, labels);
    if (filled(fromHtml) > filled(persons)) persons = fromHtml;
  }
  // Attachment rows carry no phrases of their own: the mail's words (subject, then body) decide.
  const fallback = mailIntent([mail.subject], rules) ?? mailIntent([mail.text || htmlText || ''], rules);
  for (const rows of [...csvTables(mail), ...(await xlsxTables(mail))]) {
    for (const p of extractFromRows(rows, labels)) persons.push({ ...p, intent: fallback ?? 'grant' });
  }
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
