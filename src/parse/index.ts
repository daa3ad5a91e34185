import { errorCode, errorMessage } from '../errors';
import type { Rules } from '../rules/load';
import { csvTables, embeddedMessages, xlsxTables } from './attachments';
import { automatedReason } from './classify';
import { docxTexts } from './docx';
import { pdfTexts } from './pdf';
import { textAttachments } from './text-attachments';
import { extractFromLines, extractFromRows } from './extract';
import { assignIntent, mailIntent } from './intent';
import { Lexicon } from './lexicon';
import { takeOwnWords } from './own-words';
import { plausibleName } from './extract';
import { FIRST_PERSON, mention, sentencesOf } from './prose';
import { FIELDS } from './types';
import { htmlToText } from './html';
import { LabelMatcher } from './labels';
import { readMail, type MailInput } from './read-mail';
import { splitThread, subjectInfo } from './thread';
import type { ParseResult } from './types';
import { markUnreadAttachments, markUnsure } from './unsure';
import { validatePerson, type RawPerson } from './validate';

export type { ParseResult } from './types';

/** The parse stage's full outcome: the public result plus what later stages need of the mail. */
export interface ParseOutcome {
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
  // Lines are bounded first, so no pattern below ever sees more than MAX_LINE characters at once.
  return text
    .split(/\r?\n/)
    .map((l) =>
      (l.length > MAX_LINE ? l.slice(0, MAX_LINE) : l)
        .replace(/[\u200b-\u200d\u2060\ufeff\u00ad\u202a-\u202e\u2066-\u2069]/g, '')
        .replace(/([^\s<>]{1,200})\s?<mailto:[^<>\s]{1,200}>/g, '$1')
        .replace(/\[mailto:[^\]\s]{1,200}\]/g, '')
        .replace(/([^\s<>]{1,200})\s?<https?:\/\/[^<>\s]{1,500}>/g, '$1'),
    )
    .join('\n');
}
const MAX_LINE = 2000;

/** A self-announcing sender ("jag har fått mitt SITHS-kort") named only in the signature or the From line. */
function fromSignature(person: RawPerson, fresh: string[], signature: string[], fromName: string | null, rules: Rules): void {
  if ((person.name != null && person.function != null) || !FIRST_PERSON.test(fresh.join(' '))) return;
  const lexicon = Lexicon.for(rules);
  // "Jag jobbar som undersköterska", "Jag är enhetschef": the writer's own function, when the person is the writer.
  if (person.function == null && (person.name == null || person.name === fromName)) {
    for (const sentence of sentencesOf(fresh.join(' '))) {
      const m = FIRST_PERSON.test(sentence) ? mention(sentence, rules) : {};
      if (m.function && (!m.name || m.name === person.name || person.name == null)) {
        person.function = m.function;
        break;
      }
    }
  }
  // The sign-off may carry the name itself ("Mvh Karin Lundqvist").
  const signOff =
    /^\s*(?:(?:mvh|med vänlig(?:a)? hälsning(?:ar)?|vänliga hälsningar|hälsningar|hälsning|vh|best regards|kind regards|regards)[,\s]+|\/\s*)(\S.{1,60})$/i.exec(
      signature[0] ?? '',
    );
  // "/Moa" above a signature block: the writer's first name; the From line has the whole of it.
  const first = signOff?.[1]?.trim();
  if (
    person.name == null &&
    first &&
    !/\s/.test(first) &&
    fromName?.toLowerCase().startsWith(`${first.toLowerCase()} `) &&
    plausibleName(fromName, lexicon)
  ) {
    person.name = fromName;
    return;
  }
  const lines = [...(signOff ? [signOff[1]!] : []), ...signature.slice(1)]
    .map((l) => l.trim())
    .filter(Boolean)
    .slice(0, 4);
  for (const [k, line] of lines.entries()) {
    const cells = line.split(/\s*(?:[,|/]|\s[-–]\s)\s*/).filter(Boolean);
    if (person.name == null && cells[0] && plausibleName(cells[0], lexicon)) {
      person.name = cells[0];
      const fn = cells[1] ?? lines[k + 1];
      if (person.function == null && fn && lexicon.isRole(fn)) person.function = fn;
      return;
    }
  }
  if (person.name == null && fromName && plausibleName(fromName, lexicon)) person.name = fromName;
}

/** Two readings of one person disagree on an id (names and functions may be written differently). */
const clash = (a: RawPerson, b: RawPerson) =>
  FIELDS.some((f) => f !== 'name' && f !== 'function' && a[f] != null && b[f] != null && a[f].toLowerCase() !== b[f].toLowerCase());

/**
 * Values of a person told over two levels of a forward (the note on top, the letter below) are one
 * person. Returns the persons of `older` that completed one of `fresh`.
 */
function completeFrom(fresh: RawPerson[], older: RawPerson[]): RawPerson[] {
  if (fresh.length > 1 && older.length > 0) return byFirstName(fresh, older);
  if (fresh.length !== 1 || older.length !== 1) return [];
  const [a, b] = [fresh[0]!, older[0]!];
  const sameName =
    a.name == null ||
    b.name == null ||
    a.name.toLowerCase().startsWith(b.name.toLowerCase().split(' ')[0]!) ||
    b.name.toLowerCase().startsWith(a.name.toLowerCase().split(' ')[0]!);
  if (!sameName || clash(a, b)) return [];
  for (const f of FIELDS) if (a[f] == null && b[f] != null) a[f] = b[f];
  if (a.name != null && b.name != null && b.name.length > a.name.length && b.name.toLowerCase().startsWith(a.name.toLowerCase()))
    a.name = b.name;
  if (a.name?.includes(' ')) delete a.firstOnly;
  // "Lisa Nyqvists kort" on top, "Kortinnehavare: Lisa Nyqvist" below: the genitive's s is no part of the name.
  if (a.name != null && b.name != null && a.name === `${b.name}s`) a.name = b.name;
  return [b];
}

/**
 * Several persons told by first name on top ("Jonas är enhetschef … och Malin är samordnare") and
 * by full name below (the card letter): each first name completes from the one person below it names.
 */
function byFirstName(fresh: RawPerson[], older: RawPerson[]): RawPerson[] {
  const used: RawPerson[] = [];
  for (const p of fresh) {
    if (p.name == null) continue;
    // A full name matches the same full name below (two levels of a forward); a first name the one of it.
    const same = older.filter((o) => sameName(o.name, p.name));
    const o = p.name.includes(' ') ? (same.length === 1 ? same[0]! : null) : (byFirst(older, p.name) ?? null);
    if (!o || clash(p, o)) continue;
    for (const f of FIELDS) if (p[f] == null && o[f] != null) p[f] = o[f];
    p.name = o.name!;
    delete p.firstOnly;
    used.push(o);
  }
  return used;
}

/** "Me:", "Jag:", "Mina uppgifter:": the writer's own line. */
const SELF_LINE = /^\s*(?:me|myself|my details|jag|jag själv|mig|mina uppgifter)\s*:/iu;
const THIRD_PERSON = /(?<![\p{L}])(?:hon|han|hen|she|he)(?![\p{L}])/iu;

/** "Nora är undersköterska hos oss" above a forwarded mail: the function of the person named by first name below. */
function noteOnTop(fresh: string[], older: RawPerson[], rules: Rules): void {
  const lexicon = Lexicon.for(rules);
  // "Vidarebefordrar från vår nya undersköterska Tesfay Gebremedhin": the one person below, named.
  if (older.length === 1) {
    for (const sentence of sentencesOf(fresh.join(' '))) {
      const m = mention(sentence, rules);
      const p = older[0]!;
      if (m.name && p.name == null) p.name = m.name;
      if (m.name && m.function && p.function == null && (p.name === m.name || p.name?.startsWith(m.name.split(' ')[0]!)))
        p.function = m.function;
      // "Se nedan från Julia. Hon ska ha behörighet som undersköterska.": the one person below, by pronoun.
      if (!m.name && m.function && p.function == null && THIRD_PERSON.test(sentence) && !FIRST_PERSON.test(sentence))
        p.function = m.function;
    }
  }
  for (const sentence of sentencesOf(fresh.join(' '))) {
    const words = sentence.split(/\s+/).map((w) => w.replace(/^[("']+|[)"',.:;!?]+$/g, ''));
    const roleAt = words.findIndex((_, k) => lexicon.roleAt(words, k) > 0);
    if (roleAt < 0) continue;
    const role = words.slice(roleAt, roleAt + lexicon.roleAt(words, roleAt)).join(' ');
    for (const p of older) {
      const first = p.name?.split(' ')[0];
      if (p.function == null && first && words.includes(first)) p.function = role;
    }
  }
}

function fromThread(
  text: string,
  subject: string,
  reply: boolean,
  rules: Rules,
  labels: LabelMatcher,
  fromName: string | null,
  depth = 0,
  known: readonly string[] = [],
): RawPerson[] {
  const t = splitThread(text);
  const persons = extractFromLines(t.fresh, rules, labels, { known });
  // The writer's signature names the person only after the forwarded part had its say: a manager
  // forwarding "Fridas leveransbesked" is not Frida.
  const signed = () => {
    // The writer's own line among others' ("Me: HSA-ID …"): the one nameless person is the writer.
    const nameless = persons.filter((p) => p.name == null);
    const span = (p: RawPerson) => t.fresh.slice(p.at ?? 0, (p.end ?? p.at ?? -1) + 1);
    const own = persons.length > 1 && nameless.length === 1 && nameless[0]!.at != null && span(nameless[0]!).some((l) => SELF_LINE.test(l));
    if (persons.length === 1 || own) fromSignature(own ? nameless[0]! : persons[0]!, t.fresh, t.signature, fromName, rules);
    return persons;
  };
  assignIntent(persons, t.fresh, rules, mailIntent([subject], rules));
  if (reply || t.older.length === 0 || depth >= 5) return signed();
  const incomplete = persons.some((p) => FIELDS.some((f) => p[f] == null));
  if (persons.length > 0 && !incomplete) return persons;
  const older = fromThread(t.older.join('\n'), subject, false, rules, labels, t.olderFrom, depth + 1);
  if (persons.length === 0) {
    noteOnTop(t.fresh, older, rules);
    return older;
  }
  const used = completeFrom(persons, older);
  // A forward of forwards ("Leveransbesked" for each card, one level each): a named, identified person
  // below whom the note above did not name stands beside them.
  for (const o of older)
    if (!used.includes(o) && o.name != null && o.hsaId != null && !persons.some((p) => sameName(p.name, o.name) || p.hsaId === o.hsaId))
      persons.push(o);
  return signed();
}

/** One body (the text part, or the HTML as text): our own words out, our typed-in form read, the rest extracted. */
/** An answer typed on the line below a quoted empty label ("> HSA-id:" then "SE…") joins that label. */
function joinInlineAnswers(lines: string[]): string[] {
  const out = [...lines];
  for (let i = 0; i + 1 < out.length; i++) {
    const label = /^((?:\s*>)+\s*[^:>]{2,60}:)\s*$/.exec(out[i]!);
    // The answer may stand one blank line below (Gmail leaves one on each side of it).
    const k = out[i + 1]!.trim() === '' && i + 2 < out.length ? i + 2 : i + 1;
    const next = out[k]!;
    if (label && next.trim() !== '' && !/^\s*>/.test(next) && !/:/.test(next) && next.trim().length <= 80) {
      out[i] = `${label[1]} ${next.trim()}`;
      out[k] = '';
    }
  }
  return out;
}

const sameName = (a: string | null | undefined, b: string | null | undefined) =>
  a != null && b != null && a.toLowerCase().replace(/\s+/g, ' ') === b.toLowerCase().replace(/\s+/g, ' ');

/** The one person of `among` whose first name is `name`, a first name alone. */
const byFirst = (among: RawPerson[], name: string | null | undefined): RawPerson | undefined => {
  if (name == null || /\s/.test(name.trim())) return undefined;
  const hits = among.filter((t) => t.name?.toLowerCase().split(/\s+/)[0] === name.toLowerCase());
  return hits.length === 1 ? hits[0] : undefined;
};

/**
 * A person written on top of our quoted form that the provider also typed into ("Rätt HSA-id för
 * Nils är SE…" above a form with a changed HSA-id) is that form's person: the words on top are the
 * newer. A form nobody typed into stays our words: it fills nothing (blind-corpus rules).
 */
function withOurForms(fresh: RawPerson[], typed: RawPerson[]): RawPerson[] {
  if (typed.length === 0) return fresh;
  const out = typed.map((p) => ({ ...p }));
  const rest: RawPerson[] = [];
  const only = <T>(xs: T[]) => (fresh.length === 1 && xs.length === 1 ? xs[0]! : undefined);
  for (const p of fresh) {
    const same = out.find((t) => sameName(t.name, p.name));
    const target = same ?? byFirst(out, p.name) ?? (p.name == null ? only(out) : undefined);
    if (target) {
      // The form's full name stays when the words on top give the first name alone.
      for (const f of FIELDS) if (p[f] != null && (f !== 'name' || same || p.name == null)) target[f] = p[f];
      if (p.intent) target.intent = p.intent;
      continue;
    }
    rest.push(p);
  }
  return [...out, ...rest];
}

/** One body's persons, and the lines it read as the provider's (for the unsure check). */
interface BodyRead {
  persons: RawPerson[];
  lines: string[];
}

function fromBody(text: string, subject: string, reply: boolean, rules: Rules, labels: LabelMatcher, fromName: string | null): BodyRead {
  const own = takeOwnWords(
    joinInlineAnswers(
      visibleText(text)
        .replace(/\r\n?/g, '\n')
        .replace(/\u00a0/g, ' ')
        .split('\n'),
    ),
    rules,
  );
  const replying = reply || own.persons.length > 0;
  const persons = fromThread(own.rest.join('\n'), subject, replying, rules, labels, fromName, 0, own.names);
  // An answer to our mail names the case's person as the provider likes ("Moa är vårdbiträde"):
  // the first name is written, and the case knows the rest.
  if (own.ours) for (const p of persons) if (FIELDS.some((f) => f !== 'name' && p[f] != null)) delete p.firstOnly;
  assignIntent(own.persons, own.rest, rules, mailIntent([subject], rules));
  // A reply's quoted text is old; a forward's is read.
  return { persons: withOurForms(persons, own.persons), lines: replying ? splitThread(own.rest.join('\n')).fresh : own.rest };
}

async function personsOf(
  mail: MailInput,
  rules: Rules,
  labels: LabelMatcher,
  depth: number,
): Promise<{ persons: RawPerson[]; bodyText: string; lines: string[]; read: Set<MailInput['attachments'][number]> }> {
  const { reply } = subjectInfo(mail.subject);
  const htmlText = mail.html ? htmlToText(mail.html) : null;
  let body: BodyRead = mail.text.trim()
    ? fromBody(mail.text, mail.subject, reply, rules, labels, mail.fromName)
    : { persons: [], lines: [] };
  if (htmlText) {
    const fromHtml = fromBody(htmlText, mail.subject, reply, rules, labels, mail.fromName);
    // On a tie, the HTML's table wins: it keeps the cells the plain text ran together.
    const htmlTable = /\t/.test(htmlText) && !/\t/.test(mail.text);
    if (filled(fromHtml.persons) > filled(body.persons) || (htmlTable && filled(fromHtml.persons) === filled(body.persons)))
      body = fromHtml;
  }
  let persons = body.persons;
  // Attachment rows carry no phrases of their own: the mail's words (subject, then body) decide.
  const fallback = mailIntent([mail.subject], rules) ?? mailIntent([mail.text || htmlText || ''], rules);
  for (const rows of [...csvTables(mail), ...(await xlsxTables(mail))]) {
    for (const p of extractFromRows(rows, labels, Lexicon.for(rules))) persons.push({ ...p, intent: p.intent ?? fallback ?? 'grant' });
  }
  // A Word form or table, a .txt list, a saved .html page or an .rtf reads like a body of its own.
  const read = new Set<MailInput['attachments'][number]>();
  for (const { attachment, lines } of [...docxTexts(mail).map((lines) => ({ attachment: null, lines })), ...textAttachments(mail)]) {
    if (attachment) read.add(attachment);
    const found = extractFromLines(lines, rules, labels);
    assignIntent(found, lines, rules, fallback);
    persons.push(...found);
  }
  // A PDF's text layer (a card letter, a filled-in form) completes the person the body names, or adds its own.
  for (const pdf of await pdfTexts(mail)) {
    read.add(pdf.attachment);
    const found = extractFromLines(pdf.lines, rules, labels);
    assignIntent(found, pdf.lines, rules, fallback);
    const used = completeFrom(persons, found);
    persons.push(...found.filter((p) => !used.includes(p)));
  }
  // An attached message (a forward as attachment) is read when the mail itself is not complete.
  if ((persons.length === 0 || persons.some((p) => FIELDS.some((f) => p[f] == null))) && depth < 3) {
    const inner: RawPerson[] = [];
    for (const m of embeddedMessages(mail)) {
      try {
        inner.push(...(await personsOf(await readMail(m), rules, labels, depth + 1)).persons);
      } catch {
        // An unreadable attached message adds nothing; the outer mail is still read.
      }
    }
    if (persons.length === 0) persons.push(...inner);
    else completeFrom(persons, inner);
  }
  // A name given only in the subject ("Ny SITHS-användare: Karin Ödman").
  if (persons.length === 1 && persons[0]!.name == null) {
    const m = mention(subjectInfo(mail.subject).base.replace(/^[^:]{0,40}:\s*/, ''), rules);
    if (m.name) persons[0]!.name = m.name;
  }
  // A first name alone that no fuller reading completed is no name: asked for, not guessed.
  for (const p of persons) {
    if (p.firstOnly && !p.name?.includes(' ')) p.name = null;
    delete p.firstOnly;
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
  // The text kept and shown: the HTML's own reading when it holds a table (rows as tab-separated
  // lines, shown as a table in the UI) and the plain text lost the columns.
  const tableText = htmlText !== null && /\t/.test(htmlText) && !/\t/.test(mail.text);
  return { persons, bodyText: mail.text.trim() && !tableText ? mail.text : (htmlText ?? ''), lines: body.lines, read };
}

/** Raw RFC 5322 bytes → classified, extracted and validated persons. Never throws. */
export async function parseMail(raw: Buffer, rules: Rules, opts: ParseOptions = {}): Promise<ParseOutcome> {
  let mail: MailInput;
  try {
    mail = await readMail(raw);
  } catch (err) {
    return {
      result: {
        messageId: null,
        from: null,
        subject: '',
        kind: 'other',
        persons: [],
        autoReply: false,
        error: { code: 'MAIL_UNREADABLE', message: errorMessage(err) },
      },
      mail: null,
      automatedReason: null,
      bodyText: raw.subarray(0, 100_000).toString('latin1'),
    };
  }
  const base = { messageId: mail.messageId, from: mail.from, subject: mail.subject };
  try {
    const reason = automatedReason(mail, rules, opts.ownDomain);
    if (reason) {
      return {
        result: { ...base, kind: 'automated', persons: [], autoReply: false },
        mail,
        automatedReason: reason,
        bodyText: mail.text || (mail.html ? htmlToText(mail.html) : ''),
      };
    }
    const { persons, bodyText, lines, read } = await personsOf(mail, rules, LabelMatcher.for(rules), 0);
    const records = persons.map((p) => validatePerson(p, rules));
    markUnsure(records, lines);
    markUnreadAttachments(
      records,
      lines,
      mail.attachments.filter((a) => !read.has(a)),
    );
    // A question about someone ("vi har beställt kort till Lisa Berg … kan hon få tillgång?") names a person but announces nobody.
    const asking = lines.some((l) => /\?/.test(l));
    // A follow-up ("Lisa har fortfarande inte kommit in … kan någon ringa?") gives no id: it announces nobody either.
    // A support question about someone's card ("Aisha har låst sitt kort … HSA-id …, vem ska vi vända oss till?") too.
    const followUp = asking && records.every((r) => !r.treservaUser && !r.function) && Lexicon.for(rules).isFollowUp(lines.join(' '));
    // "Vi skickade in uppgifter om vår nya samordnare … Hur lång tid brukar det ta?": no id, a question: nobody announced.
    const question = followUp || (records.every((r) => r.intent === 'grant' && !r.hsaId && !r.treservaUser) && asking);
    const kind = records.length > 0 && !question ? 'notification' : 'other';
    if (kind === 'other') records.length = 0;
    // An unsure person goes to IT staff: the provider is asked only for what the reader is sure is missing.
    const asks = records.some((p) => p.problems.length > 0 && !p.unsure?.length);
    return {
      result: { ...base, kind, persons: records, autoReply: kind === 'notification' && asks },
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
