import MailComposer from 'nodemailer/lib/mail-composer';
import writeXlsxFile from 'write-excel-file/node';
import { parseMail } from '../src/parse';
import { DEFAULT_RULES_DIR, loadRules } from '../src/rules/load';

/** Spreadsheets made for real (write-excel-file: shared strings, styles) and attached for real (nodemailer's composer). */

const rules = loadRules(DEFAULT_RULES_DIR);

async function withAttachment(filename: string, content: Buffer, contentType: string): Promise<Buffer> {
  return new MailComposer({
    from: 'Anna Ek <anna@omsorgshuset.se>',
    to: 'vardochstod@orebro.se',
    subject: 'Nya SITHS-kort, se bifogad fil',
    text: 'Hej!\n\nUppgifterna finns i bifogad fil.\n\nMvh Anna',
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
