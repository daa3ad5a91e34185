import { unzipSync } from 'fflate';
import type { MailInput } from './read-mail';

/**
 * Text lines of a Word (.docx) attachment: each paragraph a line, each table row one
 * tab-separated line, so a filled-in form reads like labelled lines and a person table like a
 * delimited table. Only `word/document.xml` is inflated, and only when it is of a sane size.
 */

const DOCX = /^application\/vnd\.openxmlformats-officedocument\.wordprocessingml\.document$/;
const MAX_XML_BYTES = 5_000_000;

const decode = (s: string) =>
  s
    .replace(/&lt;/g, '<')
    .replace(/&gt;/g, '>')
    .replace(/&quot;/g, '"')
    .replace(/&apos;/g, "'")
    .replace(/&#(\d{1,6});/g, (_, n: string) => String.fromCodePoint(Number(n)))
    .replace(/&#x([0-9a-f]{1,6});/gi, (_, n: string) => String.fromCodePoint(parseInt(n, 16)))
    .replace(/&amp;/g, '&');

/** The visible text of one paragraph's XML: runs' text, tabs and breaks. */
function paragraphText(xml: string): string {
  let out = '';
  for (const m of xml.matchAll(/<w:t(?:\s[^>]*)?>([^<]*)<\/w:t>|<w:(tab|br|cr)\b[^>]*\/>/g)) {
    out += m[1] !== undefined ? decode(m[1]) : m[2] === 'tab' ? '\t' : '\n';
  }
  return out;
}

export function docxLines(xml: string): string[] {
  // Each table becomes one marker paragraph, so its paragraphs are not read twice and order is kept.
  const tables: string[][] = [];
  const body = xml.replace(/<w:tbl>[\s\S]*?<\/w:tbl>/g, (tbl) => {
    const rows = (tbl.match(/<w:tr[\s>][\s\S]*?<\/w:tr>/g) ?? []).map((row) =>
      (row.match(/<w:tc[\s>][\s\S]*?<\/w:tc>/g) ?? [])
        .map((c) => (c.match(/<w:p[\s>][\s\S]*?<\/w:p>/g) ?? []).map(paragraphText).join(' ').replace(/\s+/g, ' ').trim())
        .join('\t'),
    );
    tables.push(['', ...rows, '']);
    return `<w:p><w:t>\u0000${tables.length - 1}</w:t></w:p>`;
  });
  return (body.match(/<w:p[\s>][\s\S]*?<\/w:p>/g) ?? []).flatMap((p) => {
    const text = paragraphText(p);
    const table = /^\u0000(\d+)$/.exec(text);
    return table ? tables[Number(table[1])]! : text.split('\n');
  });
}

/** Lines of each .docx attachment. An unreadable document adds nothing. */
export function docxTexts(mail: MailInput): string[][] {
  const out: string[][] = [];
  for (const a of mail.attachments.filter((x) => DOCX.test(x.contentType) || /\.docx$/i.test(x.filename ?? ''))) {
    try {
      const files = unzipSync(new Uint8Array(a.content), {
        filter: (f) => f.name === 'word/document.xml' && f.originalSize <= MAX_XML_BYTES,
      });
      const xml = files['word/document.xml'];
      if (xml && xml.length <= MAX_XML_BYTES) out.push(docxLines(Buffer.from(xml).toString('utf8')));
    } catch {
      // Not a Word document after all: the mail's other parts still count.
    }
  }
  return out;
}
