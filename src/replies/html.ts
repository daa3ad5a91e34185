/**
 * The HTML alternative of a reply, made from its plain text at send time: one <p> per paragraph,
 * lines of "  - " as a list, other line breaks kept; everything escaped (the text holds values the
 * provider wrote).
 */

const escape = (s: string): string =>
  s.replace(/[&<>"']/g, (c) => ({ '&': '&amp;', '<': '&lt;', '>': '&gt;', '"': '&quot;', "'": '&#39;' })[c]!);

const ITEM = /^\s*- /;

export function htmlOf(text: string): string {
  const blocks = text
    .replace(/\r\n/g, '\n')
    .split(/\n\s*\n/)
    .map((b) => b.replace(/^\n+|\n+$/g, ''))
    .filter((b) => b.trim() !== '');
  const parts = blocks.map((block) => {
    const lines = block.split('\n');
    const out: string[] = [];
    let para: string[] = [];
    let list: string[] = [];
    const flush = () => {
      if (para.length) out.push(`<p>${para.map(escape).join('<br>\n')}</p>`);
      if (list.length) out.push(`<ul>\n${list.map((l) => `<li>${l}</li>`).join('\n')}\n</ul>`);
      para = [];
      list = [];
    };
    for (const line of lines) {
      if (ITEM.test(line)) {
        if (para.length) flush();
        list.push(escape(line.replace(ITEM, '')));
      } else if (list.length && /^\s{3,}\S/.test(line)) {
        // A line indented under a list item belongs to it ("Ni skrev: …").
        list[list.length - 1] += `<br>\n${escape(line.trim())}`;
      } else {
        if (list.length) flush();
        para.push(line.trim());
      }
    }
    flush();
    return out.join('\n');
  });
  return [
    '<!DOCTYPE html>',
    '<html lang="sv"><head><meta charset="utf-8"></head>',
    '<body style="font-family: Arial, Helvetica, sans-serif; font-size: 11pt; line-height: 1.4;">',
    ...parts,
    '</body></html>',
    '',
  ].join('\n');
}
