import { parse, NodeType, type HTMLElement, type Node, type TextNode } from 'node-html-parser';

/**
 * Mail HTML to plain text lines. A table row becomes one tab-separated line, so label/value
 * tables read like labelled lines and row-per-person tables like delimited text tables.
 * Blockquotes become "> " lines so quoted old text is recognised as such. Nothing is run or loaded.
 */

const BLOCK = new Set([
  'p',
  'div',
  'br',
  'tr',
  'li',
  'ul',
  'ol',
  'h1',
  'h2',
  'h3',
  'h4',
  'h5',
  'h6',
  'table',
  'tbody',
  'thead',
  'section',
  'article',
  'header',
  'footer',
  'pre',
  'hr',
  'dl',
  'dt',
  'dd',
  'address',
  'center',
]);
const SKIP = new Set(['style', 'script', 'head', 'title', 'xml', 'o:smarttagtype', 'noscript', 'template']);

function cellText(el: HTMLElement): string {
  return el.textContent
    .replace(/\u00a0/g, ' ')
    .replace(/\s+/g, ' ')
    .trim();
}

export function htmlToText(html: string): string {
  const root = parse(html, { comment: false, blockTextElements: { script: false, style: false, pre: true } });
  const out: string[] = [];
  let quoteDepth = 0;
  let line = '';
  const flush = () => {
    const prefix = '> '.repeat(quoteDepth);
    out.push(
      prefix +
        line
          .replace(/[ \u00a0]+/g, ' ')
          .replace(/ *\t */g, '\t')
          .trim(),
    );
    line = '';
  };
  const walk = (node: Node) => {
    if (node.nodeType === NodeType.TEXT_NODE) {
      line += (node as TextNode).text.replace(/[\s\u00a0]+/g, ' ');
      return;
    }
    if (node.nodeType !== NodeType.ELEMENT_NODE) return;
    const el = node as HTMLElement;
    const tag = (el.tagName ?? '').toLowerCase();
    if (SKIP.has(tag)) return;
    if ((tag === 'td' || tag === 'th') && !el.querySelector('table, blockquote') && el.textContent.length < 200) {
      if (line.trim() !== '') line += '\t';
      line += cellText(el);
      return;
    }
    // Preformatted text (a fixed-width report pasted into Outlook) keeps its lines and its spaces.
    if (tag === 'pre') {
      if (line.trim() !== '') flush();
      const prefix = '> '.repeat(quoteDepth);
      for (const l of el.textContent.replace(/\r\n?/g, '\n').split('\n')) out.push(prefix + l.replace(/\u00a0/g, ' ').trimEnd());
      out.push('');
      return;
    }
    const quote = tag === 'blockquote';
    const block = BLOCK.has(tag) || quote;
    if (block && line.trim() !== '') flush();
    if (quote) quoteDepth++;
    for (const child of el.childNodes) walk(child);
    if (quote) quoteDepth--;
    if (tag === 'br' || (block && line.trim() !== '')) flush();
    if (tag === 'p' || tag === 'table') out.push('');
  };
  walk(root);
  if (line.trim() !== '') flush();
  return out
    .join('\n')
    .replace(/\n{3,}/g, '\n\n')
    .trim();
}
