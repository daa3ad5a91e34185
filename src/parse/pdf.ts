import type { MailInput } from './read-mail';

/**
 * Text lines of a PDF attachment (a card issuer's letter, a filled-in form, a signed letter):
 * pdf.js reads the text layer, one line per text line of the page. A scan has no text layer and
 * gives no lines (the reader then stays unsure, see unsure.ts). Bounded: at most 5 MB, 10 pages.
 */

const PDF = /^application\/pdf$/i;
const MAX_BYTES = 5_000_000;
const MAX_PAGES = 10;
const MAX_LINES = 2_000;

export const isPdf = (a: { filename: string | null; contentType: string }): boolean =>
  PDF.test(a.contentType) || /\.pdf$/i.test(a.filename ?? '');

type PdfJs = typeof import('pdfjs-dist/legacy/build/pdf.mjs');
let pdfjs: Promise<PdfJs> | null = null;
// pdf.js is an ES module: loaded once, on the first PDF, not at start.
const load = (): Promise<PdfJs> => (pdfjs ??= import('pdfjs-dist/legacy/build/pdf.mjs'));

/** The lines of one PDF's text layer; none when it has none or cannot be read. */
export async function pdfLines(content: Buffer): Promise<string[]> {
  if (content.length > MAX_BYTES || content.subarray(0, 1024).indexOf('%PDF-') < 0) return [];
  const { getDocument } = await load();
  const task = getDocument({
    data: new Uint8Array(content),
    isEvalSupported: false,
    disableFontFace: true,
    useSystemFonts: false,
    stopAtErrors: false,
    verbosity: 0,
  });
  try {
    const doc = await task.promise;
    const lines: string[] = [];
    let line = '';
    for (let i = 1; i <= Math.min(doc.numPages, MAX_PAGES) && lines.length < MAX_LINES; i++) {
      const page = await doc.getPage(i);
      for (const item of (await page.getTextContent()).items) {
        if (!('str' in item)) continue;
        line += item.str;
        if (item.hasEOL) {
          lines.push(line.replace(/\s+/g, ' ').trim());
          line = '';
        }
      }
      lines.push(line.replace(/\s+/g, ' ').trim(), '');
      line = '';
      page.cleanup();
    }
    return lines.slice(0, MAX_LINES);
  } catch {
    return [];
  } finally {
    await task.destroy();
  }
}

type Attachment = MailInput['attachments'][number];

/** Each readable PDF attachment's lines, with the attachment it came from. */
export async function pdfTexts(mail: MailInput): Promise<Array<{ attachment: Attachment; lines: string[] }>> {
  const out: Array<{ attachment: Attachment; lines: string[] }> = [];
  for (const a of mail.attachments.filter(isPdf)) {
    const lines = await pdfLines(a.content);
    if (lines.some((l) => l.length > 0)) out.push({ attachment: a, lines });
  }
  return out;
}
