import ExcelJS from 'exceljs';
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
  return /^(text\/csv|application\/csv|text\/comma-separated-values|application\/vnd\.ms-excel)$/.test(a.contentType) && !/\.xlsx?$/i.test(a.filename ?? '')
    || /\.csv$/i.test(a.filename ?? '');
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

/** Rows of cells from each sheet of each .xlsx attachment. An unreadable workbook adds nothing. */
export async function xlsxTables(mail: MailInput): Promise<string[][][]> {
  const tables: string[][][] = [];
  for (const a of mail.attachments.filter((x) => XLSX.test(x.contentType) || /\.xlsx$/i.test(x.filename ?? ''))) {
    try {
      const wb = new ExcelJS.Workbook();
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
