import type { FastifyReply } from 'fastify';
import Papa from 'papaparse';
import { maskPersonnummerInText } from '../cases/sanitize';

/** CSV for Swedish Excel (semicolons, BOM, CRLF), every cell made safe against formula injection. */

/**
 * A cell Excel or LibreOffice must never run: a value (or any line of a multi-line value) starting
 * with =, +, -, @, tab or carriage return gets a leading apostrophe. Personnummer are masked.
 */
export function csvCell(value: string | number | null | undefined): string | number {
  if (value == null) return '';
  if (typeof value === 'number') return value;
  return maskPersonnummerInText(value).replace(/(^|\n)([=+\-@\t\r])/g, "$1'$2");
}

/** A decimal number the Swedish way (1,5), or '' for none. */
export function decimal(v: number | null | undefined): string {
  return v == null ? '' : String(v).replace('.', ',');
}

export function csvText(fields: readonly string[], data: Array<Array<string | number | null | undefined>>): string {
  const csv = Papa.unparse(
    { fields: [...fields], data: data.map((row) => row.map(csvCell)) },
    // every cell through csvCell, so none runs as a formula
    { delimiter: ';', newline: '\r\n', escapeFormulae: false },
  );
  return `\ufeff${csv}\r\n`;
}

export function sendCsv(reply: FastifyReply, filename: string, body: string): FastifyReply {
  return reply
    .type('text/csv; charset=utf-8')
    .header('Content-Disposition', `attachment; filename="${filename.replace(/[^A-Za-z0-9._-]/g, '_')}"`)
    .send(body);
}
