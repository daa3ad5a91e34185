import { parseMail } from '../../src/parse';
import { maskPersonnummer } from '../../src/parse/hsa-id';
import { extractFromLines } from '../../src/parse/extract';
import { LabelMatcher } from '../../src/parse/labels';
import { Lexicon } from '../../src/parse/lexicon';
import { DEFAULT_RULES_DIR, loadRules } from '../../src/rules/load';
import { annaMail, hsaIdFor } from '../support/mails';

/**
 * Small tables for how the reader assembles persons from prose and lines: persons named together
 * and told by first name after, a leaver beside her replacement, a function and its modifier, a
 * first name in an answer to our form. Each row is a way providers write that once read wrong.
 */

const rules = loadRules(DEFAULT_RULES_DIR);
const [A, B, C, D] = [hsaIdFor(1), hsaIdFor(2), hsaIdFor(3), hsaIdFor(4)];

type Want = Partial<Record<'name' | 'function' | 'hsaId' | 'treservaUser' | 'intent', string | null>>;
const read = (text: string) =>
  extractFromLines(text.split('\n'), rules).map((p) => ({
    name: p.name ?? null,
    function: p.function ?? null,
    hsaId: p.hsaId ?? null,
    treservaUser: p.treservaUser ?? null,
    ...(p.intent ? { intent: p.intent } : {}),
  }));

test.each<[string, string, Want[]]>([
  [
    'named together, told by first name and "respektive"',
    `Två nya medarbetare, Hanna Öberg och Ali Rezaei, båda anställda som sjuksköterska, har fått sina SITHS-kort. Hannas HSA-id är ${A} och Alis är ${B}. I Treserva heter de hanobe respektive alirez.`,
    [
      { name: 'Hanna Öberg', function: 'Sjuksköterska', hsaId: A, treservaUser: 'hanobe' },
      { name: 'Ali Rezaei', function: 'Sjuksköterska', hsaId: B, treservaUser: 'alirez' },
    ],
  ],
  [
    'a leaver beside her replacement in one sentence',
    `Emma Ståhl börjar på måndag och ersätter Lena Gran som slutar på fredag.\n\nEmma: sjuksköterska, hsa ${A}, treserva emmsta\n\nLena ska tas bort ur lifecare, hennes hsa är ${B}`,
    [
      { name: 'Emma Ståhl', function: 'Sjuksköterska', hsaId: A, treservaUser: 'emmsta', intent: 'grant' },
      { name: 'Lena Gran', function: null, hsaId: B, treservaUser: null, intent: 'revoke' },
    ],
  ],
  [
    'a name and a function on a heading line with nothing between',
    `Malin Ek usk\nHSA ${A}\nAnv malek`,
    [{ name: 'Malin Ek', function: 'Usk', hsaId: A, treservaUser: 'malek' }],
  ],
  [
    'dashes between the fields: a comma is part of a cell',
    `Erik Nyström - Vårdbiträde - HSA-id kommer senare, kortet är beställt - eriny`,
    [{ name: 'Erik Nyström', function: 'Vårdbiträde', hsaId: null, treservaUser: 'eriny' }],
  ],
  [
    'a line naming the firm is no label over the block below',
    `Två ändringar för Närkes Hemtjänst:\n\nNY ANVÄNDARE\nNamn på behörig: Elias Mattsson\nFunktion: Undersköterska\nHSA-id: ${A}\nAnvändarnamn i Treserva/TES: nhelma`,
    [{ name: 'Elias Mattsson', function: 'Undersköterska', hsaId: A, treservaUser: 'nhelma' }],
  ],
  [
    'a replacement and a leaver named together, their values by first name after',
    `Omar Ali ersätter Lisa Berg som har gått i pension. Omar: ssk, ${B}, omaali. Lisa: ${A}.`,
    [
      { name: 'Omar Ali', function: 'Ssk', hsaId: B, treservaUser: 'omaali', intent: 'grant' },
      { name: 'Lisa Berg', function: null, hsaId: A, treservaUser: null, intent: 'revoke' },
    ],
  ],
  [
    'leavers and a grant under "UT:" and "IN:"; a leaver\'s username in brackets after a pronoun; a genitive surname',
    `UT: Lisa Berg (${A}), Omar Ali (omaali)\nIN: Sara Lind, sjuksköterska, ${B}, sarlin\n\nEva Strand har gått i pension, ta bort henne (evastr). Kan ni stänga av Eva Strands konto?`,
    [
      { name: 'Lisa Berg', hsaId: A, treservaUser: null, intent: 'revoke' },
      { name: 'Omar Ali', hsaId: null, treservaUser: 'omaali', intent: 'revoke' },
      { name: 'Sara Lind', function: 'Sjuksköterska', hsaId: B, treservaUser: 'sarlin', intent: 'grant' },
      { name: 'Eva Strand', treservaUser: 'evastr', intent: 'revoke' },
    ],
  ],
  [
    'rows whose first cell says "X är <function>"',
    `Lisa Berg är undersköterska, ${A}, lisber.\nOmar Ali är sjuksköterska, ${B}, omaali.`,
    [
      { name: 'Lisa Berg', function: 'Undersköterska', hsaId: A, treservaUser: 'lisber' },
      { name: 'Omar Ali', function: 'Sjuksköterska', hsaId: B, treservaUser: 'omaali' },
    ],
  ],
  [
    'numbered rows with a legend sentence after them, a cell with its own short label',
    `1) Hodan Warsame, undersköterska, ${A}, tres: hodwar\n2) Petri Räsänen, undersköterska, ${B}, tres: petras\n\nOrdningen är namn, funktion, HSA-id och användarnamn i Treserva. Hör av er om något saknas.`,
    [
      { name: 'Hodan Warsame', function: 'Undersköterska', hsaId: A, treservaUser: 'hodwar' },
      { name: 'Petri Räsänen', function: 'Undersköterska', hsaId: B, treservaUser: 'petras' },
    ],
  ],
  [
    'persons named together, their functions by first name, ids and usernames "respektive" and "och"',
    `Fatima Al-Sayed och Jonas Berglund har fått sina SITHS-kort. Fatima är undersköterska och Jonas är sjuksköterska. Deras HSA-id är ${A} respektive ${B}, och i Treserva heter de fatals respektive jonber.\n\nHanna Virtanen och Ali Rezaei, som båda arbetar som undersköterska, fick sina kort före jul. Hannas HSA-id är ${C} och Alis ${D}. I Treserva heter de hanvir och alirez.\n\nKristoffer Sandberg väntar fortfarande på sitt kort.`,
    [
      { name: 'Fatima Al-Sayed', function: 'Undersköterska', hsaId: A, treservaUser: 'fatals' },
      { name: 'Jonas Berglund', function: 'Sjuksköterska', hsaId: B, treservaUser: 'jonber' },
      { name: 'Hanna Virtanen', function: 'Undersköterska', hsaId: C, treservaUser: 'hanvir' },
      { name: 'Ali Rezaei', function: 'Undersköterska', hsaId: D, treservaUser: 'alirez' },
    ],
  ],
  [
    'a leaver who had no access of her own is nobody to remove',
    `Maria Olofsson gick i pension vid årsskiftet. Hennes behörighet ska tas bort (HSA-id ${A}, Treserva marolo).\n\nLena Holm, som var vår kontaktperson för SITHS-korten, har också slutat. Hon hade ingen egen behörighet i Lifecare.`,
    [{ name: 'Maria Olofsson', hsaId: A, treservaUser: 'marolo', intent: 'revoke' }],
  ],
  [
    'a row with labelled cells: "HSA-id: SE 55… - T1X", an en dash in the id, "användarnamn lisber."',
    `Lisa Berg, usk, HSA-id: SE 5500079198 - T1X, lisber\nOmar Ali, ssk, HSA-ID ${B.replace('-', '–')}, användarnamn omaali.\n1. Undersköterska Karl Persson, HSA-id ${C}, användarnamn karper.`,
    [
      { name: 'Lisa Berg', function: 'Usk', hsaId: 'SE5500079198-T1X', treservaUser: 'lisber' },
      { name: 'Omar Ali', function: 'Ssk', hsaId: B, treservaUser: 'omaali' },
      { name: 'Karl Persson', function: 'Undersköterska', hsaId: C, treservaUser: 'karper' },
    ],
  ],
  [
    'new staff named together without a word of access, their values by first name after',
    `Vi har två nya sommarvikarier som börjar på måndag: Hanna Johansson och Ali Mohammadi. Båda har funktionen vårdbiträde.\n\nHannas HSA-id är ${A} och Alis ${B}. Användarnamnen i Treserva är vghajo respektive vgalmo.`,
    [
      { name: 'Hanna Johansson', function: 'Vårdbiträde', hsaId: A, treservaUser: 'vghajo' },
      { name: 'Ali Mohammadi', function: 'Vårdbiträde', hsaId: B, treservaUser: 'vgalmo' },
    ],
  ],
  [
    'a sentence naming the person above a labelled block with its own function; a surname that is also a given name',
    `Ny enhetschef är Amal Hassan, som har fått sitt SITHS-kort:\nFunktion: Enhetschef\nHSA-id: ${A}\nAnvändarnamn TES: amahas`,
    [{ name: 'Amal Hassan', function: 'Enhetschef', hsaId: A, treservaUser: 'amahas' }],
  ],
  [
    'rows without ids, one under the other, each its own sentence',
    `Leila Karimi, undersköterska, TES-användare leikar\nJohan Öst, sjuksköterska, TES-användare johost`,
    [
      { name: 'Leila Karimi', function: 'Undersköterska', treservaUser: 'leikar' },
      { name: 'Johan Öst', function: 'Sjuksköterska', treservaUser: 'johost' },
    ],
  ],
  [
    'labelled pairs of two persons in one flowed paragraph after a sentence',
    `Vi anmäler härmed två medarbetare som har fått SITHS-kort. Namn på behörig: Tove Sandberg-Lindahl, funktion: Enhetschef, HSA-id: ${A}, användarnamn i Treserva/TES: tovsan. Namn på behörig: Ebrahim Nazari, funktion: Undersköterska, HSA-id: ${B}, användarnamn i Treserva/TES: ebrnaz.`,
    [
      { name: 'Tove Sandberg-Lindahl', function: 'Enhetschef', hsaId: A, treservaUser: 'tovsan' },
      { name: 'Ebrahim Nazari', function: 'Undersköterska', hsaId: B, treservaUser: 'ebrnaz' },
    ],
  ],
  [
    'an action column and action headings: "Ta bort" is a leaver, "Lägg till" a grant',
    `Åtgärd | Namn | Funktion | HSA-id | Användarnamn\nLägg till | Oliwia Nowak | Undersköterska | ${A} | oliwno\nTa bort | Per-Olof Sundin | Undersköterska | ${B} | persun`,
    [
      { name: 'Oliwia Nowak', intent: 'grant' },
      { name: 'Per-Olof Sundin', intent: 'revoke' },
    ],
  ],
  [
    'em dashes between labels and values; a plural function',
    `Name — Lucía Romero\nHSA ID — ${A}\nTreserva user — lucrom\n\nVi har två nya undersköterskor: Hanna Lindgren och Ali Mohamud. Hannas HSA-id är ${B} och Alis ${C}.`,
    [
      { name: 'Lucía Romero', hsaId: A, treservaUser: 'lucrom' },
      { name: 'Hanna Lindgren', function: 'Undersköterskor', hsaId: B },
      { name: 'Ali Mohamud', function: 'Undersköterskor', hsaId: C },
    ],
  ],
  [
    'a fixed-width report under a header of labels',
    `EMP_NO  NAME                TITLE            HSA_ID               TRESERVA_USER\n------  ------------------  ---------------  -------------------  -------------\n104301  Maria Lindqvist     Undersköterska   ${A}    marlin\n104305  Kwame Osei          Undersköterska   ${B}    kweose`,
    [
      { name: 'Maria Lindqvist', function: 'Undersköterska', hsaId: A, treservaUser: 'marlin' },
      { name: 'Kwame Osei', function: 'Undersköterska', hsaId: B, treservaUser: 'kweose' },
    ],
  ],
  [
    'a pipe table whose "Användare" column holds usernames',
    `Namn | Funktion | HSA-id | Användare\nAnders Pihl | Enhetschef | ${A} | andpih\nLeila Rostami | Undersköterska | ${B} | leiros`,
    [
      { name: 'Anders Pihl', treservaUser: 'andpih' },
      { name: 'Leila Rostami', treservaUser: 'leiros' },
    ],
  ],
  [
    '"Funktion för båda:" gives both their function',
    `Vi har två nya sjuksköterskor. Funktion för båda: Sjuksköterska.\n\nAlexandra Popescu, HSA-id ${A}, Treserva: alepop\nSamuel Gebremedhin, HSA-id ${B}, Treserva: samgeb`,
    [
      { name: 'Alexandra Popescu', function: 'Sjuksköterska', treservaUser: 'alepop' },
      { name: 'Samuel Gebremedhin', function: 'Sjuksköterska', treservaUser: 'samgeb' },
    ],
  ],
  [
    'a heading above rows is no label with its value below',
    `here are the Treserva usernames:\nAhmed Yusuf – ahmyus\nPetra Sjöberg – petsjo`,
    [
      { name: 'Ahmed Yusuf', function: null, hsaId: null, treservaUser: 'ahmyus' },
      { name: 'Petra Sjöberg', function: null, hsaId: null, treservaUser: 'petsjo' },
    ],
  ],
  [
    'a person told in prose with a username stands beside a labelled one',
    `HSA-id för Sebastian Holm: ${A}\nElla Marić är undersköterska, användarnamn thelma.`,
    [
      { name: 'Sebastian Holm', function: null, hsaId: A, treservaUser: null },
      { name: 'Ella Marić', function: 'Undersköterska', hsaId: null, treservaUser: 'thelma' },
    ],
  ],
  [
    'one function before the names is everyone\'s; "båda" after them too',
    `Vi har två nya medarbetare med funktionen undersköterska som har fått sina SITHS-kort: Hanna Ström och Ali Hassan. Hannas HSA-id är ${A} och Alis ${B}.\n\nHanna Sjöberg och Ali Rezaei har fått sina SITHS-kort. Båda arbetar som vårdbiträde.`,
    [
      { name: 'Hanna Ström', function: 'Undersköterska', hsaId: A },
      { name: 'Ali Hassan', function: 'Undersköterska', hsaId: B },
      { name: 'Hanna Sjöberg', function: 'Vårdbiträde' },
      { name: 'Ali Rezaei', function: 'Vårdbiträde' },
    ],
  ],
  [
    'an unlabelled block closed by a labelled line is one person',
    `Amira Haddad\nSjuksköterska\n${A}\nTES: amihad\n\nViktor Lindgren\nEnhetschef\n${B}\nTES: viklin`,
    [
      { name: 'Amira Haddad', function: 'Sjuksköterska', hsaId: A, treservaUser: 'amihad' },
      { name: 'Viktor Lindgren', function: 'Enhetschef', hsaId: B, treservaUser: 'viklin' },
    ],
  ],
  [
    '"användare:" holding a username among labelled pairs',
    `Namn: Amina Jusufović, funktion: undersköterska, HSA: ${A}, användare: amijus\nNamn: Lars-Erik Holm, HSA: ${B}, användare: larhol`,
    [
      { name: 'Amina Jusufović', function: 'Undersköterska', hsaId: A, treservaUser: 'amijus' },
      { name: 'Lars-Erik Holm', function: null, hsaId: B, treservaUser: 'larhol' },
    ],
  ],
])('%s', (_, text, want) => {
  expect(read(text)).toEqual(want.map((w): unknown => expect.objectContaining(w)));
});

test.each<[string, Want]>([
  ['Jag går in som tf enhetschef under sommaren. HSA-id: ' + A, { function: 'tf enhetschef' }],
  [
    `Rebecka går in som biträdande enhetschef. Hennes användarnamn i Treserva är nhrest, HSA-id ${A}.`,
    { name: 'Rebecka', function: 'Biträdande enhetschef' },
  ],
  [
    `My name is Daniel Okafor and I work as a substitute (undersköterska). My manager Marcus asked me to write. HSA-ID: ${A}`,
    { function: 'Undersköterska' },
  ],
  [`Kvittens kan skickas till verksamhetschef Lars Wennberg (cc). HSA-id ${A}, användarnamn marohr`, { treservaUser: 'marohr' }],
  [`Jag har fått mitt SITHS-kort. Mitt HSA-id är ${A} och jag loggar in i TES med dragpet.`, { treservaUser: 'dragpet' }],
  [
    `Roya är sjukskriven och jag är tf. enhetschef under tiden, så jag behöver behörighet. HSA-id: ${A}. Användarnamn: nadgha.`,
    { function: 'tf. enhetschef' },
  ],
  [
    `Ny personal: Mariam Khoury, usk. Tes namn mariam.k\nHSA-id kommer senare, kortet är beställt`,
    { name: 'Mariam Khoury', treservaUser: 'mariam.k', hsaId: null },
  ],
  [`Jag har fyllt i användarnamnet nedan. HSA-id ${A}`, { treservaUser: null }],
  [`Hej Yusuf, hennes Treservakonto är klart: jelmar. HSA-id: ${A}`, { treservaUser: 'jelmar' }],
  [`Name: Omar Khalil\nHe works as undersköterska.\nHSA-id: ${A}\nTreserva username: omakha`, { function: 'Undersköterska' }],
  [`Namn: Jamal Idris\nFunktion: Vårdbiträde\nHSA-id: ${A}\nAnvändarnamn: saknas fortfarande`, { treservaUser: null }],
  [`Lisa Berg är ny undersköterska, HSA-id ${A}. lisber är hennes användarnamn i Treserva.`, { treservaUser: 'lisber' }],
  [
    `Jag heter Chiamaka Okafor och jobbar som undersköterska. Mitt HSA-id: ${A}, och i TES loggar jag in som chioka.`,
    { treservaUser: 'chioka' },
  ],
  [`Lisa Berg – HSA: ${A} – TES-login: lisber – usk`, { function: 'Usk', treservaUser: 'lisber' }],
  [`Användarnamnet till Treserva för Lisa Berg är lisber. Hon är undersköterska med HSA-id ${A}.`, { treservaUser: 'lisber' }],
  [`Lisa Berg ska ha behörighet. Funktion: undersköterska. HSA-id: ${A}. Användarnamn: lisber.`, { name: 'Lisa Berg' }],
  [`Lisa Berg börjar som undersköterska på måndag. HSA ${A}. Hon heter lisber i systemet.`, { treservaUser: 'lisber' }],
  [`**Lisa Berg** (undersköterska)\n· HSA-id: ${A}\n· Treserva: lisber`, { name: 'Lisa Berg', function: 'Undersköterska' }],
  [`Mitt HSA-id är ${A} och i TES heter jag ”jokama”.`, { treservaUser: 'jokama' }],
  [`En till: Roger Pettersson, undersköterska, HSA-id ${A}, användarnamn i TES: rog pet`, { treservaUser: 'rog pet' }],
])('%s', (text, want) => {
  const [p] = read(text);
  expect(p).toEqual(expect.objectContaining(want));
});

test('"man" in a question is no username', async () => {
  const mail = annaMail(
    'q1',
    'Fråga om kort',
    'Hej!\n\nFinns det något tillfälligt kort eller gemensam inloggning man kan använda?\n\nMvh Anna',
  );
  const { result } = await parseMail(mail, rules);
  expect(result.kind).toBe('other');
});

test.each([
  ['tf enhetschef', true],
  ['vik. samordnare', true],
  ['tf', false],
  ['tf Anna', false],
])('isRole(%s) is %s', (v, want) => {
  expect(Lexicon.for(rules).isRole(v)).toBe(want);
});

test('the firm named in a line is no label', () => {
  expect(LabelMatcher.for(rules).matchLine('Två ändringar för Närkes Hemtjänst:')).toBeNull();
});

test('a personnummer is masked the one way, written with or without its dash', () => {
  expect(maskPersonnummer('198506121234')).toBe('19850612-****');
  expect(maskPersonnummer('19850612 - 1234')).toBe('19850612-****');
});

/** Our "Komplettering behövs" mail as providers quote it, with the case's person in it. */
const ourForm = (name: string, missing: string) =>
  [
    '> Hej!',
    '>',
    '> Tack för ert mejl om behörighet till Lifecare SP. Ärendet har nummer LSP-2027-0330.',
    '>',
    '> Innan IT-avdelningen kan lägga upp behörighet behöver vi följande:',
    '>',
    `> ${name}:`,
    `>   - ${missing}`,
    '>',
    '> Svara på det här mejlet och fyll i uppgifterna nedan efter kolonet. Låt ärendenumret LSP-2027-0330 stå kvar i ämnesraden, så kopplas svaret till rätt ärende.',
    '>',
    `> Namn på behörig: ${name}`,
    '> Funktion:',
    `> HSA-id: ${A}`,
    '> Användarnamn i Treserva/TES:',
  ].join('\n');

test('an answer on top naming the person by first name keeps the first name; the case knows the rest', async () => {
  const body = `Moa är vårdbiträde och hennes användarnamn blir kvmoek\n\nSkickat från min iPhone\n\n> 15 juni 2027 kl. 08:12 skrev vardochstod@orebro.se:\n${ourForm('Moa Eklund', 'Funktion saknas.')}`;
  const { result } = await parseMail(annaMail('a1', 'Sv: Komplettering behövs [LSP-2027-0330] Ny vikarie', body), rules);
  expect(result.persons).toEqual([
    expect.objectContaining({ name: 'Moa', function: 'Vårdbiträde', hsaId: null, treservaUser: 'kvmoek', intent: 'grant' }),
  ]);
});

test('a first name alone in a new mail is asked for, not taken', async () => {
  const body = `Hej!\n\nMoa är vårdbiträde, HSA-id ${A}, användarnamn kvmoek.\n\nMvh Anna`;
  const { result } = await parseMail(annaMail('a2', 'Ny personal', body), rules);
  expect(result.persons[0]).toEqual(expect.objectContaining({ name: null, function: 'Vårdbiträde' }));
  expect(result.autoReply).toBe(true);
});

test('a value typed into our form under a shortened problem line ("- Funktion saknas.") is read', async () => {
  const body = `Hej!\n\n${ourForm('Jonathan Ek', 'Funktion saknas.').replace('> Funktion:', 'Funktion: Vårdbiträde')}\n\n/Petra`;
  const { result } = await parseMail(annaMail('a3', 'Re: Komplettering behövs [LSP-2027-0330] Sommar', body), rules);
  expect(result.persons).toEqual([expect.objectContaining({ name: 'Jonathan Ek', function: 'Vårdbiträde', hsaId: A })]);
});

test('a forwarded mail signed "/Moa" names Moa by her From line, not the forwarder by his signature', async () => {
  const body = [
    'Hej,',
    '',
    'Vidarebefordrar från vår nya usk Moa, hon jobbar helger från och med januari.',
    '',
    '/Patrik',
    '',
    '-------- Vidarebefordrat meddelande --------',
    'Ämne: SITHS',
    'Datum: Tue, 4 Jan 2028 21:14:02 +0100',
    'Från: Moa Lindberg <moa.lindberg92@gmail.com>',
    'Till: patrik.holm@omsorgshuset.se',
    '',
    `Hej Patrik! Nu har kortet kommit. HSA-id ${A}. Mitt användarnamn i treserva är komoli`,
    '',
    '/Moa',
    '',
    '-- ',
    'Patrik Holm',
    'Omsorgshuset AB',
  ].join('\n');
  const { result } = await parseMail(annaMail('a4', 'Fwd: SITHS', body), rules);
  expect(result.persons).toEqual([expect.objectContaining({ name: 'Moa Lindberg', function: 'usk', hsaId: A, treservaUser: 'komoli' })]);
});

test('"loggar in med kortet" names the card, not a username', async () => {
  const mail = annaMail(
    'q2',
    'SV: Behörighet klar',
    'Hej,\n\nhan kommer fortfarande inte in när han loggar in med kortet. Kan ni kolla?\n\n/Anna',
  );
  expect((await parseMail(mail, rules)).result.kind).toBe('other');
});

test('an answer names two persons of our form by first name, with their values "respektive"', async () => {
  const form = ourForm('Piotr Nowicki', 'Användarnamn i Treserva/TES saknas.').replace('LSP-2027-0330', 'LSP-2027-0702');
  const second = [
    '>',
    '> Namn på behörig: Tekle Gebremariam',
    '> Funktion: Undersköterska',
    `> HSA-id: ${B}`,
    '> Användarnamn i Treserva/TES:',
  ].join('\n');
  const body = `Hej!\n\nPiotr och Tekle har användarnamnen pinowi respektive tekgeb.\n\n/Karin\n\nDen 4 okt. 2027 skrev vardochstod@orebro.se:\n${form}\n${second}`;
  const { result } = await parseMail(annaMail('a5', 'SV: Komplettering behövs [LSP-2027-0702] Nya', body), rules);
  expect(result.persons).toEqual([
    expect.objectContaining({ name: 'Piotr', treservaUser: 'pinowi' }),
    expect.objectContaining({ name: 'Tekle', treservaUser: 'tekgeb' }),
  ]);
});

test('an answer "Ida är sjuksköterska." gives Ida\'s function, though no access word is written', async () => {
  const body = `Ida är sjuksköterska.\n\nSkickat från min iPhone\n\n> 30 sep. 2027 kl. 14:03 skrev vardochstod@orebro.se:\n${ourForm('Ida Pettersson', 'Funktion saknas.')}`;
  const { result } = await parseMail(annaMail('a6', 'Sv: Komplettering behövs [LSP-2027-0330] Ida', body), rules);
  expect(result.kind).toBe('notification');
  expect(result.persons).toEqual([expect.objectContaining({ name: 'Ida', function: 'Sjuksköterska' })]);
});

test('a CSV action column: "New starter" rows are grants beside a "Leaver" row', async () => {
  const csv = [
    'Change type,Full name,Job title,HSA ID,Treserva login',
    `New starter,Nikolai Ivanov,Care Assistant,${A},nikiva`,
    `Leaver,Grace Mensah,Care Assistant,${B},gramen`,
  ].join('\r\n');
  const boundary = 'b1';
  const body = [
    `--${boundary}`,
    'Content-Type: text/plain; charset=utf-8',
    '',
    'Hi, please grant access to the new starter and remove access for the leaver.',
    `--${boundary}`,
    'Content-Type: text/csv; name="starters.csv"',
    'Content-Disposition: attachment; filename="starters.csv"',
    '',
    csv,
    `--${boundary}--`,
  ].join('\n');
  const mail = annaMail('c1', 'Starters and leavers', body, { contentType: `multipart/mixed; boundary="${boundary}"` });
  const { result } = await parseMail(mail, rules);
  expect(result.persons.map((p) => [p.name, p.intent])).toEqual([
    ['Nikolai Ivanov', 'grant'],
    ['Grace Mensah', 'revoke'],
  ]);
});

test.each([
  ['Kevin: kevlun\nSamira: Sjuksköterska', 'Kevin', 'Samira'],
  ['Hej! Kevin Lund har användarnamnet kevlun. Samira Jama jobbar som sjuksköterska.', 'Kevin Lund', 'Samira Jama'],
])('an answer on top for the two persons of our form: %s', async (top, kevin, samira) => {
  const form = [
    ourForm('Kevin Lund', 'Användarnamn i Treserva/TES saknas.'),
    '>',
    '> Namn på behörig: Samira Jama',
    '> Funktion:',
    `> HSA-id: ${B}`,
    '> Användarnamn i Treserva/TES: samjam',
  ].join('\n');
  const body = `${top}\n\n/Karin\n\nDen 4 okt. 2027 skrev vardochstod@orebro.se:\n${form}`;
  const { result } = await parseMail(annaMail('a7', 'SV: Komplettering behövs [LSP-2027-0330] Två', body), rules);
  expect(result.persons).toEqual([
    expect.objectContaining({ name: kevin, treservaUser: 'kevlun', hsaId: null }),
    expect.objectContaining({ name: samira, function: 'Sjuksköterska', hsaId: null }),
  ]);
});

test.each([
  [
    'Vi skickade in uppgifter om vår nya samordnare förra veckan men har inte fått besked. Hur lång tid brukar det ta?\n\nHälsningar\nBirgitta Nordin',
  ],
  ['Vi har två nya medarbetare, Thanh Hương Phạm och Isak Lindblom, som har beställt SITHS-kort. Ska jag anmäla dem redan nu?'],
  [`Aisha Mohamud har låst sitt SITHS-kort och kommer inte åt Lifecare SP. Hennes HSA-id är ${A}. Vem ska vi vända oss till?`],
])('a question without a username or function announces nobody: %s', async (text) => {
  const { result } = await parseMail(annaMail('qq', 'Fråga', `Hej!\n\n${text}\n\nMvh Anna`), rules);
  expect(result.kind).toBe('other');
});

test('separate surname and given-name columns make "Given Surname", whatever their order', async () => {
  const csv = ['Employee No;Last name;First name;Job title;HSA ID;Treserva user', `104233;Karimi;Leyla;Enhetschef;${A};leykar`].join(
    '\r\n',
  );
  const body = [
    '--b2',
    'Content-Type: text/plain; charset=utf-8',
    '',
    'New hires attached.',
    '--b2',
    'Content-Type: text/csv; name="x.csv"',
    'Content-Disposition: attachment; filename="x.csv"',
    '',
    csv,
    '--b2--',
  ].join('\n');
  const { result } = await parseMail(annaMail('c2', 'New hires', body, { contentType: 'multipart/mixed; boundary="b2"' }), rules);
  expect(result.persons).toEqual([expect.objectContaining({ name: 'Leyla Karimi', function: 'Enhetschef', treservaUser: 'leykar' })]);
});

test('the writer\'s own line ("Me:") beside a colleague\'s: the writer named by her signature', async () => {
  const body = [
    'Hello,',
    '',
    'I started as the new Enhetschef at Omsorgshuset on 1 August. Could you please give Lifecare SP access to me and to our new nurse?',
    '',
    `Me: HSA-ID ${A}, Treserva username gramwa`,
    `Our nurse: Marcus Öberg, sjuksköterska, HSA-ID ${B}, Treserva username maroeb`,
    '',
    'Best regards,',
    'Grace Mwangi',
    'Enhetschef',
  ].join('\n');
  const { result } = await parseMail(annaMail('me1', 'Access for new unit manager and nurse', body, { fromName: 'Grace Mwangi' }), rules);
  expect(result.persons).toEqual([
    expect.objectContaining({ name: 'Grace Mwangi', function: 'Enhetschef', hsaId: A, treservaUser: 'gramwa' }),
    expect.objectContaining({ name: 'Marcus Öberg', function: 'Sjuksköterska', hsaId: B, treservaUser: 'maroeb' }),
  ]);
});

test('an answer naming two persons of our form by first name in one sentence, a value each', async () => {
  const form = [
    ourForm('Tobias Sundberg', 'Användarnamn i Treserva/TES saknas.'),
    '>',
    '> Namn på behörig: Fadumo Warsame',
    '> Funktion:',
    `> HSA-id: ${B}`,
    '> Användarnamn i Treserva/TES: fadwar',
  ].join('\n');
  const body = `Hej! Användarnamnet för Tobias är tobsun och Fadumo jobbar som nattsamordnare.\n/Marie\n\nSkickat från min iPhone\n\n> 4 mars 2028 kl. 10:40 skrev vardochstod@orebro.se:\n${form}`;
  const { result } = await parseMail(annaMail('a8', 'Re: Komplettering behövs [LSP-2027-0330] nya kort', body), rules);
  expect(result.persons).toEqual([
    expect.objectContaining({ name: 'Tobias', treservaUser: 'tobsun', function: null }),
    expect.objectContaining({ name: 'Fadumo', function: 'Nattsamordnare', treservaUser: null }),
  ]);
});

test('a fixed-width report pasted as preformatted HTML keeps its columns', async () => {
  const pre = [
    'Employee ID  Full Name          Job Profile              HSA ID                  Treserva/TES Login',
    '-----------  -----------------  -----------------------  ----------------------  ------------------',
    `10482        Grace Mensah       Home Care Assistant      ${A}       grmens`,
  ].join('\n');
  const html = `<html><body><p>Hi,</p><p>Below is one new starter.</p><pre style="font-family:Consolas">${pre}</pre><p>Kind regards</p></body></html>`;
  const { result } = await parseMail(annaMail('pre1', 'New starters', html, { contentType: 'text/html; charset=utf-8' }), rules);
  expect(result.persons).toEqual([
    expect.objectContaining({ name: 'Grace Mensah', function: 'Home Care Assistant', hsaId: A, treservaUser: 'grmens' }),
  ]);
});

test.each([
  ['text/plain; charset=utf-8', 'personal.txt', `Namn: Lisa Berg\r\nFunktion: Undersköterska\r\nHSA-id: ${A}\r\nAnvändarnamn: lisber`],
  [
    'text/html; charset=utf-8',
    'personal.html',
    `<table><tr><td>Namn</td><td>Lisa Berg</td></tr><tr><td>Funktion</td><td>Undersköterska</td></tr><tr><td>HSA-id</td><td>${A}</td></tr><tr><td>Treserva</td><td>lisber</td></tr></table>`,
  ],
  [
    'application/rtf',
    'personal.rtf',
    `{\\rtf1\\ansi{\\fonttbl{\\f0 Calibri;}}\\f0 Namn: Lisa Berg\\par Funktion: Undersk\\'f6terska\\par HSA-id: ${A}\\par Anv\\'e4ndarnamn: lisber\\par}`,
  ],
])('an attached %s reads like a body', async (ct, name, content) => {
  const body = [
    '--b',
    'Content-Type: text/plain; charset=utf-8',
    '',
    'Hej! Se bifogad fil.',
    '',
    'Mvh Anna',
    '--b',
    `Content-Type: ${ct}; name="${name}"`,
    `Content-Disposition: attachment; filename="${name}"`,
    'Content-Transfer-Encoding: 8bit',
    '',
    content,
    '--b--',
  ].join('\n');
  const { result } = await parseMail(annaMail(`att-${name}`, 'Ny personal', body, { contentType: 'multipart/mixed; boundary="b"' }), rules);
  expect(result.persons).toEqual([
    expect.objectContaining({ name: 'Lisa Berg', function: 'Undersköterska', hsaId: A, treservaUser: 'lisber' }),
  ]);
});

test('a list heading ending in a colon governs the items below it, not the one above', async () => {
  const body = `Hej,\n\nNYA (behöver behörighet från 21/12):\n• Elias Nord, Undersköterska, HSA-id ${A}, användarnamn elnord\n\nSKA TAS BORT (vikariatet slutade 18/12):\n• Peter Sandberg, HSA-id ${B}, användarnamn petsan\n\nMvh Anna`;
  const { result } = await parseMail(annaMail('h1', 'Ändringar', body), rules);
  expect(result.persons.map((p) => [p.name, p.intent])).toEqual([
    ['Elias Nord', 'grant'],
    ['Peter Sandberg', 'revoke'],
  ]);
});

test.each([
  ['Ditt ärende har registrerats [#12345]', 'Tack! Ditt ärende har tagits emot av vår kundtjänst.'],
  ['Frånvaromeddelande', 'Tack för ditt mejl. Jag är föräldraledig och åter 1 mars.'],
])('"%s" is machine mail, never answered', async (subject, body) => {
  const out = await parseMail(annaMail(`auto-${subject.length}`, subject, body), rules);
  expect(out.result.kind).toBe('automated');
  expect(out.automatedReason).toBe('automated-subject');
});

test('a forward of forwards: names on one level, each HSA-id in its own card letter below', async () => {
  const letter = (name: string, id: string, t: string) =>
    [
      '',
      '-----Ursprungligt meddelande-----',
      'Från: SITHS Kortservice <noreply@kortservice.example>',
      `Skickat: onsdag 5 september 2029 ${t}`,
      'Till: Reza Ahmadi <reza@omsorgshuset.se>',
      'Ämne: Leveransbesked SITHS eID-kort',
      '',
      'Leveransbesked',
      '',
      `Kortinnehavare: ${name}`,
      `HSA-id: ${id}`,
    ].join('\n');
  const body = [
    'Hej Kasia, kan du skicka vidare till kommunen?',
    '',
    'Leila Karimi, undersköterska, TES-användare leikar',
    'Johan Öst, sjuksköterska, TES-användare johost',
    '',
    'HSA-id:n står i kortbeskeden nedan.',
    '',
    '/Reza',
    letter('Leila Karimi', A, '06:15'),
    letter('Johan Öst', B, '07:15'),
  ].join('\n');
  const { result } = await parseMail(annaMail('fw2', 'VB: SITHS-kort', body), rules);
  expect(result.persons).toEqual([
    expect.objectContaining({ name: 'Leila Karimi', hsaId: A, treservaUser: 'leikar' }),
    expect.objectContaining({ name: 'Johan Öst', hsaId: B, treservaUser: 'johost' }),
  ]);
});

test('"Jag har sagt upp mig … ta bort min åtkomst" is a leaver', async () => {
  const body =
    'Hej!\n\nJag har sagt upp mig och min sista arbetsdag är den 19 oktober. Ni kan därför ta bort min åtkomst till Lifecare SP efter det.\nMitt användarnamn i Treserva är yasalk.\n\nYasmin Al-Khatib\nUndersköterska';
  const { result } = await parseMail(annaMail('rv1', 'Min behörighet', body, { fromName: 'Yasmin Al-Khatib' }), rules);
  expect(result.persons).toEqual([expect.objectContaining({ name: 'Yasmin Al-Khatib', treservaUser: 'yasalk', intent: 'revoke' })]);
  expect(result.autoReply).toBe(false);
});
