/**
 * Splits a mail body into the sender's new text and the older text below it (a quoted
 * reply or a forwarded message), and cuts sign-offs and signatures.
 */

const SUBJECT_PREFIX = /^\s*(sv|svar|re|aw|vb|fwd?|fw|wg|tr|vs)\s*(\[\d+\])?\s*:\s*/i;
const REPLY_PREFIX = /^(sv|svar|re|aw|vs)$/i;

/** "SV: VB: Ny behörighet" → { base: "Ny behörighet", reply: true }. */
export function subjectInfo(subject: string): { base: string; reply: boolean; forward: boolean } {
  let s = subject.trim();
  let first: string | null = null;
  for (let m = SUBJECT_PREFIX.exec(s); m; m = SUBJECT_PREFIX.exec(s)) {
    first ??= m[1]!;
    s = s.slice(m[0].length);
  }
  return { base: s.trim(), reply: first !== null && REPLY_PREFIX.test(first), forward: first !== null && !REPLY_PREFIX.test(first) };
}

const ORIGINAL =
  /^\s*-{2,}\s*(ursprungligt meddelande|originalmeddelande|original message|vidarebefordrat meddelande|forwarded message|begin forwarded message)\s*-{2,}\s*$/i;
const BEGIN_FWD = /^\s*(begin forwarded message|vidarebefordrat meddelande)\s*:?\s*$/i;
const UNDERSCORES = /^\s*_{8,}\s*$/;
const HEADER_FROM = /^\s*\**\s*(från|from|avsändare)\s*:\**\s*\S/i;
const HEADER_NEXT = /^\s*\**\s*(skickat|sent|datum|date|till|to|ämne|subject|kopia|cc)\s*:/i;
const WROTE = /^\s*((den|on|am|le)\s.{3,160}\s(skrev|wrote|schrieb|a écrit)\b.{0,160}:|.{3,160}\sskrev\s.{0,160}följande\s*:)\s*$/i;
const WROTE_START = /^\s*(den|on)\s.{3,160}\s(skrev|wrote)\b/i;
// The last form: a sign-off after another language's ("Vriendelijke groet / Vänliga hälsningar").
const SIGNOFF =
  /^\s*(med\s+)?(vänliga?|bästa|varma|trevliga)\s+hälsning(ar)?\b|^\s*(mvh|mvh\.|m\.v\.h|vh|hälsningar)\b|^\s*(best|kind|warm)\s+regards\b|^\s*regards\s*,?\s*$|^--\s*$|^\s*tack på förhand\s*[!.]?\s*$|^\s*[^/\d]{2,30}\/\s*(?:(?:med\s+)?(?:vänliga?|bästa)\s+hälsning(?:ar)?|mvh|hälsningar|(?:best|kind)\s+regards)\s*[,!.]?\s*$/i;
/** "/Moa", "/Patrik Holm": a slash and the writer's name close the mail. */
const SLASH_SIGN = /^\s*\/\s?\p{Lu}[\p{L}-]{1,20}(?:\s\p{Lu}[\p{L}-]{1,20})?\s*$/u;
/** "Tack!" closes a mail when a name follows it; at the top it thanks for something. */
const THANKS = /^\s*tack(?:\s+för\s+hjälpen|\s+så\s+mycket)?\s*[!.,]?\s*$/i;

export interface Thread {
  /** What the sender wrote now, without quoted lines or signature. */
  fresh: string[];
  /** The quoted or forwarded older text, header lines and quote marks removed. */
  older: string[];
  /** The sender's sign-off and signature below the new text (a self-announcing sender's name). */
  signature: string[];
  /** The display name in the older message's From line ("Från: Lisa Berg <lisa@…>"), if any. */
  olderFrom: string | null;
}

/** Whether line i starts a quoted or forwarded message (a "wrote:" line, an Outlook header block, a separator). */
export function isBoundary(lines: string[], i: number): boolean {
  const line = lines[i]!;
  if (ORIGINAL.test(line) || BEGIN_FWD.test(line) || WROTE.test(line)) return true;
  if (WROTE_START.test(line) && !/:\s*$/.test(line) && /:\s*$/.test(lines[i + 1] ?? '')) return true;
  if (UNDERSCORES.test(line) && HEADER_FROM.test(lines.slice(i + 1, i + 3).find((l) => l.trim() !== '') ?? '')) return true;
  if (HEADER_FROM.test(line)) {
    return lines.slice(i + 1, i + 5).some((l) => HEADER_NEXT.test(l));
  }
  return false;
}

/** Cut at the first sign-off line: what follows is a signature, contact details or a disclaimer. */
export function cutSignature(lines: string[]): string[] {
  const first = lines.findIndex((l) => l.trim() !== '');
  const i = lines.findIndex(
    (l, k) =>
      SIGNOFF.test(l) ||
      SLASH_SIGN.test(l) ||
      (THANKS.test(l) && k > first && lines.slice(k + 1).filter((x) => x.trim() !== '').length <= 8),
  );
  return i < 0 ? lines : lines.slice(0, i);
}

function dropHeaderBlock(lines: string[]): string[] {
  let i = 0;
  while (
    i < lines.length &&
    (lines[i]!.trim() === '' ||
      ORIGINAL.test(lines[i]!) ||
      BEGIN_FWD.test(lines[i]!) ||
      UNDERSCORES.test(lines[i]!) ||
      WROTE.test(lines[i]!))
  )
    i++;
  let sawHeader = false;
  while (
    i < lines.length &&
    (HEADER_FROM.test(lines[i]!) || HEADER_NEXT.test(lines[i]!) || (sawHeader && /^\s+\S/.test(lines[i]!) && !/:/.test(lines[i]!)))
  ) {
    sawHeader = true;
    i++;
  }
  return lines.slice(i);
}

const unquote = (l: string) => l.replace(/^(\s*>)+ ?/, '');

export function splitThread(text: string): Thread {
  const lines = text
    .replace(/\r\n?/g, '\n')
    .replace(/\u00a0/g, ' ')
    .split('\n');
  let boundary = lines.length;
  for (let i = 0; i < lines.length; i++) {
    if (isBoundary(lines, i)) {
      boundary = i;
      break;
    }
  }
  const top = lines.slice(0, boundary);
  const own = top.filter((l) => !/^\s*>/.test(l));
  const fresh = cutSignature(own);
  const quotedTop = top.filter((l) => /^\s*>/.test(l)).map(unquote);
  const older = [...quotedTop, ...dropHeaderBlock(lines.slice(boundary).map(unquote))];
  const boundaryLines = lines.slice(boundary, boundary + 12).map(unquote);
  const fromLine = boundaryLines.find((l) => HEADER_FROM.test(l)) ?? boundaryLines.find((l) => WROTE.test(l));
  return { fresh, older, signature: own.slice(fresh.length), olderFrom: fromLine ? displayName(fromLine) : null };
}

/** "Från: Lisa Berg <lisa@x.se>", "Den 3 mars skrev Lisa Berg <lisa@x.se>:" → "Lisa Berg". */
function displayName(line: string): string | null {
  const m =
    /(?:från|from|avsändare)\s*:\**\s*"?([^"<>@:]{3,60}?)"?\s*(?:<|\[mailto:|$)/i.exec(line) ??
    /(?:skrev|wrote)\s+"?([^"<>@:]{3,60}?)"?\s*</i.exec(line);
  const name = m?.[1]?.trim();
  return name && /^\p{L}[\p{L}'’ .-]+$/u.test(name) ? name : null;
}
