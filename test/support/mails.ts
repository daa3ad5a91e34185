import crypto from 'node:crypto';
import { luhnCheckDigit } from '../../src/parse/hsa-id';

/** Provider mails built for tests and benchmarks: labelled person blocks, real RFC 5322 text. */

export const OUR_ADDRESS = 'vardochstod@orebro.se';

/** A valid HSA-id with its own organisation number (Luhn check digit computed) and unique part. */
export function hsaIdFor(i: number, tag = 'T', base = 550_000_000, mult = 7_919, span = 400_000_000): string {
  const nine = String(base + ((i * mult) % span)).padStart(9, '0');
  return `SE${nine}${luhnCheckDigit(nine)}-${tag}${i.toString(36).toUpperCase()}X`;
}

export interface Person {
  name?: string;
  function?: string;
  hsaId?: string;
  user?: string;
}

export function personBlock(p: Person): string {
  const lines: string[] = [];
  if (p.name !== undefined) lines.push(`Namn på behörig: ${p.name}`);
  if (p.function !== undefined) lines.push(`Funktion: ${p.function}`);
  if (p.hsaId !== undefined) lines.push(`HSA-id: ${p.hsaId}`);
  if (p.user !== undefined) lines.push(`Användarnamn i Treserva/TES: ${p.user}`);
  return lines.join('\n');
}

/** RFC 2047 encoded word when the text is not plain ASCII. */
export function encodeHeader(text: string): string {
  return /^[\x20-\x7e]*$/.test(text) ? text : `=?utf-8?B?${Buffer.from(text, 'utf8').toString('base64')}?=`;
}

export interface MailSpec {
  from: string;
  fromName?: string;
  to?: string;
  subject: string;
  messageId: string;
  body: string;
  inReplyTo?: string;
  references?: string[];
  headers?: string[];
  contentType?: string;
  /** The Date header as written; now when left out. */
  date?: string;
}

export function buildMail(m: MailSpec): string {
  const head = [
    `From: ${m.fromName ? `${encodeHeader(m.fromName)} <${m.from}>` : m.from}`,
    `To: ${m.to ?? `${encodeHeader('Vård och stöd')} <${OUR_ADDRESS}>`}`,
    `Subject: ${encodeHeader(m.subject)}`,
    `Date: ${m.date ?? new Date().toUTCString().replace('GMT', '+0000')}`,
    `Message-ID: ${m.messageId}`,
    ...(m.inReplyTo ? [`In-Reply-To: ${m.inReplyTo}`] : []),
    ...(m.references?.length ? [`References: ${m.references.join(' ')}`] : []),
    ...(m.headers ?? []),
    'MIME-Version: 1.0',
    `Content-Type: ${m.contentType ?? 'text/plain; charset=utf-8'}`,
    ...(m.contentType ? [] : ['Content-Transfer-Encoding: 8bit']),
  ];
  return `${head.join('\r\n')}\r\n\r\n${m.body.replace(/\r?\n/g, '\r\n')}\r\n`;
}

/** A plain-text mail from Anna Ek at Omsorgshuset (a known provider), Message-ID `<id@omsorgshuset.se>`, on a fixed date. */
export function annaMail(id: string, subject: string, body: string, more: Partial<MailSpec> = {}): Buffer {
  return Buffer.from(
    buildMail({
      from: 'anna@omsorgshuset.se',
      fromName: 'Anna Ek',
      to: OUR_ADDRESS,
      subject,
      messageId: `<${id}@omsorgshuset.se>`,
      body,
      date: 'Wed, 25 Nov 2026 10:00:00 +0100',
      ...more,
    }),
  );
}

export const msgId = (tag: string, domain: string) => `<${tag}.${crypto.randomBytes(5).toString('hex')}@${domain}>`;

/** A provider's notification: persons as labelled blocks, a greeting and a signature. */
export function notification(o: { from: string; fromName: string; subject: string; persons: Person[]; messageId?: string }): {
  raw: string;
  messageId: string;
} {
  const messageId = o.messageId ?? msgId('anm', o.from.split('@')[1]!);
  const body = [
    'Hej!',
    '',
    'Här kommer uppgifterna till Lifecare SP.',
    '',
    o.persons.map(personBlock).join('\n\n'),
    '',
    'Med vänliga hälsningar',
    o.fromName,
    'Tel: 019-21 10 00',
  ].join('\n');
  return { raw: buildMail({ from: o.from, fromName: o.fromName, subject: o.subject, messageId, body }), messageId };
}

const B_FIRST = ['Lisa', 'Omar', 'Erik', 'Sara', 'Anna', 'Karin', 'Nils', 'Maja', 'Per', 'Åsa'];
const B_LAST = ['Berg', 'Said', 'Ek', 'Lind', 'Holm', 'Sjö', 'Nord', 'Falk', 'Öberg', 'Dahl'];
const B_FUNCS = ['Enhetschef', 'Undersköterska', 'Sjuksköterska', 'Samordnare'];
const B_DOMAINS = ['omsorgshuset.se', 'hemtjanstnarke.se', 'attendo.se', 'vardaga.se'];

/** Benchmark mail i (of run `run`): every 4th lacks the HSA-id (a missing-info reply), the others are complete (a receipt). */
export function benchNotification(i: number, run = 0): { raw: string; messageId: string; complete: boolean } {
  const complete = i % 4 !== 3;
  const domain = B_DOMAINS[i % B_DOMAINS.length]!;
  const name = `${B_FIRST[i % 10]!} ${B_LAST[Math.floor(i / 10) % 10]!}`;
  const m = notification({
    from: `handlaggare${i % 25}@${domain}`,
    fromName: `Handläggare ${i % 25}`,
    subject: `Anmälan SITHS-kort ${name} nr ${i}`,
    messageId: `<bench.${run}.${i}.${crypto.randomBytes(4).toString('hex')}@${domain}>`,
    persons: [
      { name, function: B_FUNCS[i % B_FUNCS.length]!, ...(complete ? { hsaId: hsaIdFor(i, `R${run}T`) } : {}), user: `user${run}x${i}` },
    ],
  });
  return { ...m, complete };
}

/** The mail made multipart/mixed: its text, then `mb` MiB of random bytes as a base64 attachment. */
export function withAttachment(raw: string, mb: number): string {
  const sep = raw.indexOf('\r\n\r\n');
  const head = raw
    .slice(0, sep)
    .replace(/^Content-Type: .*\r\nContent-Transfer-Encoding: 8bit$/m, 'Content-Type: multipart/mixed; boundary="lci-bench"');
  const b64 = crypto
    .randomBytes(mb * 1048576)
    .toString('base64')
    .replace(/.{76}/g, '$&\r\n');
  return [
    `${head}\r\n\r\n--lci-bench`,
    'Content-Type: text/plain; charset=utf-8\r\nContent-Transfer-Encoding: 8bit\r\n',
    `${raw.slice(sep + 4)}\r\n--lci-bench`,
    'Content-Type: application/octet-stream; name="bilaga.bin"\r\nContent-Disposition: attachment; filename="bilaga.bin"',
    'Content-Transfer-Encoding: base64\r\n',
    `${b64}\r\n--lci-bench--\r\n`,
  ].join('\r\n');
}
