import iconv from 'iconv-lite';
import { decodeText } from './attachments';
import { htmlToText } from './html';
import type { MailInput } from './read-mail';

/**
 * Lines of the attachments that are text of another kind: a `.txt` list, an `.html` page saved
 * from the intranet, an `.rtf` from WordPad. Each reads like a body. Bounded: a person list is
 * a few kilobytes, so anything over MAX_BYTES is left for IT staff (an unread attachment).
 */

const MAX_BYTES = 1_000_000;

type Attachment = MailInput['attachments'][number];

const kindOf = (a: Attachment): 'text' | 'html' | 'rtf' | null => {
  const name = a.filename ?? '';
  if (/^text\/plain$/i.test(a.contentType) || /\.txt$/i.test(name)) return 'text';
  if (/^text\/html$/i.test(a.contentType) || /\.html?$/i.test(name)) return 'html';
  if (/^(?:application|text)\/rtf$/i.test(a.contentType) || /\.rtf$/i.test(name)) return 'rtf';
  return null;
};

/** RTF to text: groups of fonts, colours and other destinations dropped; \par a line; \'hh and \uN characters. */
export function rtfToText(rtf: string): string {
  let out = '';
  let depth = 0;
  let skipFrom = -1;
  for (let i = 0; i < rtf.length && i < MAX_BYTES; i++) {
    const c = rtf[i]!;
    if (c === '{') {
      depth++;
      // "{\*\…}", "{\fonttbl …}", "{\colortbl …}", "{\stylesheet …}", "{\info …}": not text.
      if (skipFrom < 0 && /^\{\\(?:\*|fonttbl|colortbl|stylesheet|info|pict|header|footer)/.test(rtf.slice(i, i + 12))) skipFrom = depth;
      continue;
    }
    if (c === '}') {
      if (depth === skipFrom) skipFrom = -1;
      depth--;
      continue;
    }
    if (c === '\\') {
      const hex = /^\\'([0-9a-f]{2})/i.exec(rtf.slice(i, i + 4));
      if (hex) {
        if (skipFrom < 0) out += iconv.decode(Buffer.from([parseInt(hex[1]!, 16)]), 'win1252');
        i += 3;
        continue;
      }
      const word = /^\\([a-z]{1,32})(-?\d{1,10})? ?/i.exec(rtf.slice(i, i + 48));
      if (word) {
        i += word[0].length - 1;
        if (skipFrom >= 0) continue;
        if (word[1] === 'par' || word[1] === 'line' || word[1] === 'row') out += '\n';
        else if (word[1] === 'tab' || word[1] === 'cell') out += '\t';
        else if (word[1] === 'u' && word[2]) {
          out += String.fromCharCode((Number(word[2]) + 65536) % 65536);
          if (rtf[i + 1] === '?') i++;
        }
        continue;
      }
      // An escaped brace or backslash.
      if (skipFrom < 0 && i + 1 < rtf.length) out += rtf[i + 1];
      i++;
      continue;
    }
    if (skipFrom < 0 && c !== '\r' && c !== '\n') out += c;
  }
  return out;
}

/** Each readable text attachment's lines, with the attachment they came from. */
export function textAttachments(mail: MailInput): Array<{ attachment: Attachment; lines: string[] }> {
  const out: Array<{ attachment: Attachment; lines: string[] }> = [];
  for (const a of mail.attachments) {
    const kind = kindOf(a);
    if (!kind || a.content.length > MAX_BYTES) continue;
    const text = decodeText(a.content);
    const body = kind === 'html' ? htmlToText(text) : kind === 'rtf' ? rtfToText(text) : text;
    out.push({ attachment: a, lines: body.replace(/\r\n?/g, '\n').split('\n') });
  }
  return out;
}
