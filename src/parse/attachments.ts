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

export function embeddedMessages(mail: MailInput): Buffer[] {
  return mail.attachments.filter((a) => a.contentType === 'message/rfc822').map((a) => a.content);
}
