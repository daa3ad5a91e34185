import { Readable } from 'node:stream';
import {
  MailParser,
  type AddressObject,
  type AttachmentStream,
  type HeaderLines,
  type HeaderValue,
  type Headers,
  type MessageText,
} from 'mailparser';

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
  /** `tooLarge`: over ATTACHMENT_READ_MAX decoded; its content is not kept (empty) and no reader reads it. */
  attachments: Array<{ filename: string | null; contentType: string; content: Buffer; tooLarge?: true }>;
}

/**
 * An attachment larger than this (decoded) is not kept: every reader has a smaller bound (PDF 5 MB,
 * text 1 MB, a zip's entries 8 MB inflated), and the parse thread holds no attachment it cannot read.
 */
export const ATTACHMENT_READ_MAX = 8 << 20;

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

/**
 * A large source goes to mailparser in pieces: given whole, its splitter turns all of it into
 * strings at once (a 41 MB mail in the benchmark: peak 462 MB whole, 333 MB in 64 KiB pieces).
 */
const PIECE = 65_536;
function* pieces(raw: Buffer): Generator<Buffer> {
  for (let i = 0; i < raw.length; i += PIECE) yield raw.subarray(i, i + PIECE);
}

interface Parsed {
  headers: Headers;
  headerLines: HeaderLines;
  text: string;
  html: string | null;
  attachments: MailInput['attachments'];
}

/**
 * mailparser's streaming parser, collected as its `simpleParser` does (the first error wins, cid
 * links left as they are), but an attachment over ATTACHMENT_READ_MAX is drained, not kept.
 */
function parse(raw: Buffer): Promise<Parsed> {
  return new Promise((resolve, reject) => {
    const parser = new MailParser({ skipImageLinks: true, skipTextToHtml: true, maxHtmlLengthToParse: 2_000_000 });
    const out: Parsed = { headers: new Map(), headerLines: [], text: '', html: null, attachments: [] };
    let settled = false;
    const fail = (err: unknown) => {
      if (settled) return;
      settled = true;
      reject(err instanceof Error ? err : new Error(String(err)));
    };
    parser.on('error', fail);
    parser.on('headers', (headers: Headers) => {
      out.headers = headers;
      out.headerLines = parser.headerLines || [];
    });
    parser.on('data', (data: AttachmentStream | MessageText) => {
      if (data.type === 'text') {
        out.text = data.text ?? '';
        out.html = typeof data.html === 'string' ? data.html : null;
        return;
      }
      const chunks: Buffer[] = [];
      let size = 0;
      data.content.on('data', (chunk: Buffer) => {
        size += chunk.length;
        if (size <= ATTACHMENT_READ_MAX) chunks.push(chunk);
        else chunks.length = 0;
      });
      data.content.on('end', () => {
        out.attachments.push({
          filename: data.filename ?? null,
          contentType: data.contentType || 'application/octet-stream',
          content: size <= ATTACHMENT_READ_MAX ? Buffer.concat(chunks, size) : Buffer.alloc(0),
          ...(size > ATTACHMENT_READ_MAX ? { tooLarge: true as const } : {}),
        });
        data.release?.();
      });
    });
    parser.on('end', () => {
      if (settled) return;
      settled = true;
      resolve(out);
    });
    if (raw.length <= PIECE) parser.end(raw);
    else Readable.from(pieces(raw)).pipe(parser);
  });
}

export async function readMail(raw: Buffer): Promise<MailInput> {
  const m = await parse(raw);
  const h = (key: string) => m.headers.get(key);
  const from = firstAddress(h('from') as AddressObject | undefined);
  const inReplyTo = ids(h('in-reply-to') as string | undefined)[0] ?? null;
  const rawId = h('message-id');
  const date = h('date');
  const messageId = typeof rawId === 'string' && rawId ? clean(rawId) : null;
  return {
    messageId: messageId ? (messageId.startsWith('<') ? messageId : `<${messageId}>`) : null,
    from: from.address,
    fromName: from.name,
    subject: clean(typeof h('subject') === 'string' ? (h('subject') as string) : '')
      .replace(/\s+/g, ' ')
      .trim(),
    date: date instanceof Date && !Number.isNaN(date.getTime()) ? date : null,
    inReplyTo,
    references: ids(h('references') as string | string[] | undefined),
    headers: m.headerLines.map((h) => ({
      key: h.key.toLowerCase(),
      value: clean(h.line.slice(h.line.indexOf(':') + 1).replace(/\r?\n[ \t]+/g, ' ')).trim(),
    })),
    contentType: headerString(h('content-type')).toLowerCase(),
    text: clean(m.text),
    html: m.html === null ? null : clean(m.html),
    attachments: m.attachments.map((a) => ({
      filename: a.filename ? clean(a.filename) : null,
      contentType: a.contentType.toLowerCase(),
      content: a.content,
      ...(a.tooLarge ? { tooLarge: a.tooLarge } : {}),
    })),
  };
}
