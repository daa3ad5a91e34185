import zlib from 'node:zlib';
import type ExcelJS from 'exceljs';
import iconv from 'iconv-lite';
import Papa from 'papaparse';
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

function cellText(v: ExcelJS.CellValue): string {
  if (v == null) return '';
  if (typeof v === 'object') {
    if ('richText' in v) return v.richText.map((r) => r.text).join('');
    if ('text' in v && typeof v.text === 'string') return v.text;
    if ('result' in v) return String(v.result ?? '');
    if (v instanceof Date) return v.toISOString().slice(0, 10);
  }
  return String(v);
}

/** What a workbook may expand to before it is read (a person list is a few kilobytes). */
export const XLSX_LIMITS = { entries: 500, uncompressedBytes: 8 * 1024 * 1024, cells: 20_000 };

/**
 * Zip-bomb check: walks the zip's central directory and inflates every entry for real (declared
 * sizes can lie) within the byte budget, counting the cells of the sheets. Returns the reason the
 * workbook is refused, or null. Entries, bytes and cells are bounded before exceljs sees it.
 */
export function xlsxTooLarge(buf: Buffer, limits = XLSX_LIMITS): string | null {
  const eocd = buf.lastIndexOf(Buffer.from([0x50, 0x4b, 0x05, 0x06]), Math.max(0, buf.length - 22));
  if (eocd < 0 || eocd + 22 > buf.length) return null; // not a zip: exceljs refuses it below
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

/** Rows of cells from each sheet of each .xlsx attachment. An unreadable or oversized workbook adds nothing. */
export async function xlsxTables(mail: MailInput): Promise<string[][][]> {
  const tables: string[][][] = [];
  for (const a of mail.attachments.filter((x) => XLSX.test(x.contentType) || /\.xlsx$/i.test(x.filename ?? ''))) {
    if (xlsxTooLarge(a.content)) continue;
    try {
      // Loaded on the first workbook (26 MB the worker does not hold otherwise).
      const { Workbook } = (await import('exceljs')).default;
      const wb = new Workbook();
      await wb.xlsx.load(a.content as unknown as ArrayBuffer);
      wb.eachSheet((sheet) => {
        const rows: string[][] = [];
        sheet.eachRow({ includeEmpty: false }, (row) => {
          const values = Array.isArray(row.values) ? row.values.slice(1) : [];
          rows.push(values.map((v) => cellText(v as ExcelJS.CellValue).trim()));
        });
        tables.push(rows);
      });
    } catch {
      // Not a workbook after all: the mail's other parts still count.
    }
  }
  return tables;
}

export function embeddedMessages(mail: MailInput): Buffer[] {
  return mail.attachments.filter((a) => a.contentType === 'message/rfc822').map((a) => a.content);
}
