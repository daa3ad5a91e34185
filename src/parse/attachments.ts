import { createRequire } from 'node:module';
import zlib from 'node:zlib';
import iconv from 'iconv-lite';
import Papa from 'papaparse';
import type readXlsxFile from 'read-excel-file/node';
import type { CellValue } from 'read-excel-file/node';
import type { MailInput } from './read-mail';

/** Text of a CSV attachment: UTF-8 when it decodes cleanly, otherwise Windows-1252 (Excel's default). */
export function decodeText(buf: Buffer): string {
  const utf8 = buf.toString('utf8');
  const text = utf8.includes('\ufffd') ? iconv.decode(buf, 'win1252') : utf8;
  return text.replace(/^\ufeff/, '');
}

export function isCsv(a: MailInput['attachments'][number]): boolean {
  return (
    (/^(text\/csv|application\/csv|text\/comma-separated-values|application\/vnd\.ms-excel)$/.test(a.contentType) &&
      !/\.xlsx?$/i.test(a.filename ?? '')) ||
    /\.csv$/i.test(a.filename ?? '')
  );
}

/** Rows of cells from each CSV attachment (delimiter detected: ";" from Swedish Excel, or ","). */
export function csvTables(mail: MailInput): string[][][] {
  return mail.attachments.filter(isCsv).map((a) => {
    const parsed = Papa.parse<string[]>(decodeText(a.content), { skipEmptyLines: 'greedy', delimitersToGuess: [';', ',', '\t', '|'] });
    return parsed.data.map((row) => row.map((c) => String(c).trim()));
  });
}

const XLSX = /^application\/vnd\.openxmlformats-officedocument\.spreadsheetml\.sheet$/;

/** A cell as text: a date as YYYY-MM-DD, a formula by its cached result (read-excel-file gives that). */
function cellText(v: CellValue | null): string {
  if (v == null) return '';
  if (v instanceof Date) return v.toISOString().slice(0, 10);
  return typeof v === 'object' ? '' : String(v);
}

/** What a workbook may expand to before it is read (a person list is a few kilobytes). */
export const XLSX_LIMITS = { entries: 500, uncompressedBytes: 8 * 1024 * 1024, cells: 20_000 };

/**
 * Zip-bomb check: walks the zip's central directory and inflates every entry for real (declared
 * sizes can lie) within the byte budget, counting the cells of the sheets. Returns the reason the
 * workbook is refused, or null. Entries, bytes and cells are bounded before read-excel-file sees it.
 */
export function xlsxTooLarge(buf: Buffer, limits = XLSX_LIMITS): string | null {
  const eocd = buf.lastIndexOf(Buffer.from([0x50, 0x4b, 0x05, 0x06]), Math.max(0, buf.length - 22));
  if (eocd < 0 || eocd + 22 > buf.length) return null; // not a zip: read-excel-file refuses it below
  const entries = buf.readUInt16LE(eocd + 10);
  let at = buf.readUInt32LE(eocd + 16);
  if (entries === 0xffff || at === 0xffffffff) return 'zip64';
  if (entries > limits.entries) return `${entries} entries`;
  let budget = limits.uncompressedBytes;
  let cells = 0;
  for (let i = 0; i < entries; i++) {
    if (at + 46 > buf.length || buf.readUInt32LE(at) !== 0x02014b50) return 'broken central directory';
    const method = buf.readUInt16LE(at + 10);
    const compressed = buf.readUInt32LE(at + 20);
    const declared = buf.readUInt32LE(at + 24);
    const nameLen = buf.readUInt16LE(at + 28);
    const name = buf.toString('utf8', at + 46, at + 46 + nameLen);
    const local = buf.readUInt32LE(at + 42);
    at += 46 + nameLen + buf.readUInt16LE(at + 30) + buf.readUInt16LE(at + 32);
    if (declared > budget) return `over ${limits.uncompressedBytes} bytes uncompressed`;
    if (local + 30 > buf.length || buf.readUInt32LE(local) !== 0x04034b50) return 'broken local header';
    const start = local + 30 + buf.readUInt16LE(local + 26) + buf.readUInt16LE(local + 28);
    const data = buf.subarray(start, start + compressed);
    let out: Buffer;
    try {
      out = method === 0 ? data : method === 8 ? zlib.inflateRawSync(data, { maxOutputLength: Math.max(1, budget) }) : Buffer.alloc(0);
    } catch (err) {
      if ((err as NodeJS.ErrnoException).code === 'ERR_BUFFER_TOO_LARGE') return `over ${limits.uncompressedBytes} bytes uncompressed`;
      return 'broken entry';
    }
    budget -= out.length;
    if (budget < 0) return `over ${limits.uncompressedBytes} bytes uncompressed`;
    if (/^xl\/worksheets\/[^/]+\.xml$/i.test(name)) {
      for (let j = out.indexOf('<c '); j >= 0; j = out.indexOf('<c ', j + 3)) {
        if (++cells > limits.cells) return `over ${limits.cells} cells`;
      }
    }
  }
  return null;
}

/** read-excel-file, loaded with the first workbook (most mail has none: the parse thread starts without it). */
let reader: typeof readXlsxFile | null = null;
const xlsxReader = () => (reader ??= createRequire(__filename)('read-excel-file/node') as typeof readXlsxFile);

/** Rows of cells from each sheet of each .xlsx attachment. An unreadable or oversized workbook adds nothing. */
export async function xlsxTables(mail: MailInput): Promise<string[][][]> {
  const tables: string[][][] = [];
  for (const a of mail.attachments.filter((x) => XLSX.test(x.contentType) || /\.xlsx$/i.test(x.filename ?? ''))) {
    if (xlsxTooLarge(a.content)) continue;
    try {
      for (const sheet of await xlsxReader()(a.content)) {
        const rows = sheet.data.map((row) => row.map((v) => cellText(v).trim()));
        tables.push(rows.filter((row) => row.some((c) => c !== '')));
      }
    } catch {
      // Not a workbook after all: the mail's other parts still count.
    }
  }
  return tables;
}

export function embeddedMessages(mail: MailInput): Buffer[] {
  return mail.attachments.filter((a) => a.contentType === 'message/rfc822').map((a) => a.content);
}
