import { simpleParser, type AddressObject, type HeaderValue } from 'mailparser';

/** What the later stages need of a message, decoded by mailparser (charsets, QP, base64, encoded words). */
export interface MailInput {
  messageId: string | null;
  from: string | null;
  fromName: string | null;
  subject: string;
  date: Date | null;
  inReplyTo: string | null;
  references: string[];
  /** Raw header lines, keys lower-cased, values unfolded. */
  headers: Array<{ key: string; value: string }>;
  contentType: string;
  text: string;
  html: string | null;
  attachments: Array<{ filename: string | null; contentType: string; content: Buffer }>;
}

/** NUL and other C0 controls (but tab and newlines) cannot be stored in PostgreSQL text. */
const clean = (s: string) => s.replace(/[\u0000-\u0008\u000b\u000c\u000e-\u001f\ufffe\uffff]/g, '');

function firstAddress(v: AddressObject | AddressObject[] | undefined): { address: string | null; name: string | null } {
  const list = Array.isArray(v) ? v : v ? [v] : [];
  for (const obj of list) {
    for (const a of obj.value) {
      if (a.address) return { address: clean(a.address).trim().toLowerCase(), name: a.name ? clean(a.name) : null };
      for (const g of a.group ?? [])
        if (g.address) return { address: clean(g.address).trim().toLowerCase(), name: g.name ? clean(g.name) : null };
    }
  }
  return { address: null, name: null };
}

function headerString(v: HeaderValue | undefined): string {
  if (v == null) return '';
  if (typeof v === 'string') return v;
  if (typeof v === 'object' && 'value' in v && typeof (v as { value: unknown }).value === 'string') return (v as { value: string }).value;
  return '';
}

function ids(v: string | string[] | undefined): string[] {
  const list = Array.isArray(v) ? v : v ? v.split(/\s+/) : [];
  return list.map((s) => clean(s).trim()).filter((s) => /^<[^<>\s]+>$/.test(s));
}

export async function readMail(raw: Buffer): Promise<MailInput> {
  const m = await simpleParser(raw, { skipImageLinks: true, skipTextToHtml: true, maxHtmlLengthToParse: 2_000_000 });
  const from = firstAddress(m.from);
  const inReplyTo = ids(m.inReplyTo)[0] ?? null;
  const messageId = m.messageId ? clean(m.messageId) : null;
  return {
    messageId: messageId ? (messageId.startsWith('<') ? messageId : `<${messageId}>`) : null,
    from: from.address,
    fromName: from.name,
    subject: clean(m.subject ?? '')
      .replace(/\s+/g, ' ')
      .trim(),
    date: m.date && !Number.isNaN(m.date.getTime()) ? m.date : null,
    inReplyTo,
    references: ids(m.references),
    headers: m.headerLines.map((h) => ({
      key: h.key.toLowerCase(),
      value: clean(h.line.slice(h.line.indexOf(':') + 1).replace(/\r?\n[ \t]+/g, ' ')).trim(),
    })),
    contentType: headerString(m.headers.get('content-type')).toLowerCase(),
    text: clean(m.text ?? ''),
    html: typeof m.html === 'string' ? clean(m.html) : null,
    attachments: m.attachments.map((a) => ({
      filename: a.filename ? clean(a.filename) : null,
      contentType: (a.contentType || 'application/octet-stream').toLowerCase(),
      content: a.content,
    })),
  };
}
