import MailComposer from 'nodemailer/lib/mail-composer';
import { PDFDocument, StandardFonts } from 'pdf-lib';
import writeXlsxFile from 'write-excel-file/node';
import { parseMail } from '../src/parse';
import { ATTACHMENT_READ_MAX } from '../src/parse/read-mail';
import { DEFAULT_RULES_DIR, loadRules } from '../src/rules/load';

/** Spreadsheets made for real (write-excel-file: shared strings, styles) and attached for real (nodemailer's composer). */

const rules = loadRules(DEFAULT_RULES_DIR);

async function withAttachment(
  filename: string,
  content: Buffer,
  contentType: string,
  mail: { from?: string; subject?: string; text?: string } = {},
): Promise<Buffer> {
  return new MailComposer({
    from: mail.from ?? 'Anna Ek <anna@omsorgshuset.se>',
    to: 'vardochstod@orebro.se',
    subject: mail.subject ?? 'Nya SITHS-kort, se bifogad fil',
    text: mail.text ?? 'Hej!\n\nUppgifterna finns i bifogad fil.\n\nMvh Anna',
    attachments: [{ filename, content, contentType }],
  })
    .compile()
    .build();
}

test('an .xlsx attachment with a header row gives one person per row', async () => {
  const xlsx = await writeXlsxFile(
    [
      ['Namn på behörig', 'Funktion', 'HSA-id', 'Användarnamn i Treserva/TES'],
      ['Lisa Berg', 'Enhetschef', 'se2321000016-4hk5', 'lisber'],
      ['Erik Ek', 'Sjuksköterska', 'SE5565594230-B31', null],
    ],
    { sheet: 'Behöriga' },
  ).toBuffer();
  const raw = await withAttachment('behoriga.xlsx', xlsx, 'application/vnd.openxmlformats-officedocument.spreadsheetml.sheet');
  const { result } = await parseMail(raw, rules);
  expect(result.kind).toBe('notification');
  expect(result.persons.map((p) => [p.name, p.function, p.hsaId, p.treservaUser])).toEqual([
    ['Lisa Berg', 'Enhetschef', 'SE2321000016-4HK5', 'lisber'],
    ['Erik Ek', 'Sjuksköterska', 'SE5565594230-B31', null],
  ]);
  expect(result.persons[1]!.problems.map((p) => `${p.field}:${p.code}`)).toEqual(['treservaUser:missing']);
  expect(result.autoReply).toBe(true);
});

test('a broken .xlsx is no crash and adds nothing', async () => {
  const raw = await withAttachment(
    'trasig.xlsx',
    Buffer.from('not a zip file'),
    'application/vnd.openxmlformats-officedocument.spreadsheetml.sheet',
  );
  const { result } = await parseMail(raw, rules);
  expect(result.error).toBeUndefined();
  expect(result.kind).toBe('other');
});

test('a Windows-1252 CSV from Swedish Excel (";" separated) is decoded and read', async () => {
  const iconv = (await import('iconv-lite')).default;
  const csv = iconv.encode('Namn;Funktion;HSA-id;Användarnamn\r\nÅsa Öberg;Undersköterska;SE2321000016-AOE1;asaobe\r\n', 'win1252');
  const raw = await withAttachment('lista.csv', csv, 'text/csv');
  const { result } = await parseMail(raw, rules);
  expect(result.persons).toEqual([
    { name: 'Åsa Öberg', function: 'Undersköterska', hsaId: 'SE2321000016-AOE1', treservaUser: 'asaobe', intent: 'grant', problems: [] },
  ]);
});

/** A real PDF with a text layer (pdf-lib, standard font), one line per entry; none gives a page without text. */
async function pdfWith(lines: string[]): Promise<Buffer> {
  const doc = await PDFDocument.create();
  const page = doc.addPage([595, 842]);
  const font = await doc.embedFont(StandardFonts.Helvetica);
  lines.forEach((text, i) => page.drawText(text, { x: 50, y: 780 - i * 18, size: 11, font }));
  if (lines.length === 0) page.drawRectangle({ x: 50, y: 600, width: 200, height: 120 }); // a "scan": no text
  return Buffer.from(await doc.save());
}

test('a PDF form attached with a body that only points to it gives its person', async () => {
  const pdf = await pdfWith([
    'Anmälan behörighet Lifecare SP',
    'Namn: Nora Åkesson',
    'Befattning: Undersköterska',
    'HSA-id: SE2321000016-NÅ27',
    'Treserva användarnamn: noraak',
  ]);
  const { result } = await parseMail(await withAttachment('anmalan.pdf', pdf, 'application/pdf'), rules);
  expect(result.kind).toBe('notification');
  expect(result.persons.map((p) => [p.name, p.function, p.treservaUser])).toEqual([['Nora Åkesson', 'Undersköterska', 'noraak']]);
  expect(result.persons[0]!.problems.map((p) => p.field)).toEqual(['hsaId']); // "Å" is no HSA-id character
});

test("a card letter's PDF completes the person the body names (HSA-id only in the letter), its next label no part of the name", async () => {
  const pdf = await pdfWith([
    'Följesedel SITHS-kort',
    'Kortinnehavare: Johan Lundberg',
    'Organisation: Ängsbacka Omsorg AB',
    'HSA-id: SE2321000016-JL21',
    'Kortnummer: 9752 2700 0014 3318',
  ]);
  const raw = await withAttachment('foljesedel.pdf', pdf, 'application/pdf', {
    from: 'Gunilla Persson <gunilla@angsbacka.se>',
    subject: 'SITHS-kort Johan',
    text: 'Hej!\n\nBifogar följesedeln för Johan Lundberg som har fått sitt kort. Han är undersköterska hos oss. Användarnamn i TES: johlun\n\nMvh Gunilla',
  });
  const { result } = await parseMail(raw, rules);
  expect(result.persons.map((p) => [p.name, p.function, p.hsaId, p.treservaUser])).toEqual([
    ['Johan Lundberg', 'Undersköterska', 'SE2321000016-JL21', 'johlun'],
  ]);
  expect(result.autoReply).toBe(false);
});

test('a PDF without a text layer (a scan) or a broken PDF leaves the reader unsure, not asking', async () => {
  for (const pdf of [await pdfWith([]), Buffer.from('%PDF-1.7\n1 0 obj << /Type /Catalog >>\ntruncated')]) {
    const raw = await withAttachment('skanning.pdf', pdf, 'application/pdf', {
      subject: 'SITHS-kort',
      text: 'Hej!\n\nLisa Berg, undersköterska, användarnamn lisber. HSA-id står på bifogad följesedel.\n\nMvh Anna',
    });
    const { result } = await parseMail(raw, rules);
    expect(result.persons.map((p) => [p.name, p.hsaId])).toEqual([['Lisa Berg', null]]);
    expect(result.persons[0]!.unsure).toEqual([{ field: 'hsaId', candidates: ['bilagan skanning.pdf'] }]);
    expect(result.autoReply).toBe(false);
  }
});

test('an attachment over ATTACHMENT_READ_MAX is drained, not kept or read; the same rows under it are read', async () => {
  const rows = 'Namn;Funktion;HSA-id;Användarnamn\r\nLisa Berg;Enhetschef;SE2321000016-4HK5;lisber\r\n';
  const filler = ';;;\r\n'.repeat(Math.ceil(ATTACHMENT_READ_MAX / 5) + 1);
  const small = await parseMail(await withAttachment('behoriga.csv', Buffer.from(rows), 'text/csv'), rules);
  expect(small.result.persons.map((p) => p.treservaUser)).toEqual(['lisber']);
  const big = await parseMail(await withAttachment('behoriga.csv', Buffer.from(rows + filler), 'text/csv'), rules);
  expect(big.result.error).toBeUndefined();
  expect(big.result.persons).toEqual([]);
  expect(big.mail!.attachments.map((a) => [a.filename, a.content.length, a.tooLarge])).toEqual([['behoriga.csv', 0, true]]);
});
