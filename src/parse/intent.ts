import type { Rules } from '../rules/load';
import { Lexicon } from './lexicon';
import type { Intent } from './types';
import type { RawPerson } from './validate';

/**
 * Access or removal, per person. A revoke phrase ("har slutat", "ta bort behörigheten") on a
 * person's own lines, or in a heading above them that no grant phrase ("nya användare") has
 * overridden since, makes that person a leaver. With no phrase near a person, the mail's own
 * words decide: the subject, then the text as a whole, when they speak only of removal.
 */

const escape = (s: string) => s.replace(/[.*+?^${}()|[\]\\]/g, '\\$&');

interface LineCue {
  line: number;
  kind: Intent;
}

function lineCues(lines: readonly string[], lexicon: Lexicon): LineCue[] {
  const out: LineCue[] = [];
  lines.forEach((l, line) => {
    for (const c of lexicon.cues(l)) out.push({ line, kind: c.kind });
  });
  return out;
}

/** The intent of the whole text when every phrase in it says the same, else null. */
export function mailIntent(texts: readonly string[], rules: Rules): Intent | null {
  const kinds = new Set(
    texts.flatMap((t) =>
      Lexicon.for(rules)
        .cues(t)
        .map((c) => c.kind),
    ),
  );
  return kinds.size === 1 ? [...kinds][0]! : null;
}

/**
 * Sets `intent` on persons read from `lines` (`at`..`end`: the lines their values came from).
 * Own phrases first (any revoke wins: a leaver must never become a grant), then the nearest
 * heading phrase above (on a line of no person), then `fallback` (the subject's word), then grant.
 */
export function assignIntent(persons: RawPerson[], lines: readonly string[], rules: Rules, fallback: Intent | null): void {
  const cues = lineCues(lines, Lexicon.for(rules));
  // A line with phrases of both kinds ("två nya och en som har slutat") governs nobody as a heading.
  const mixed = new Set(cues.filter((c) => cues.some((d) => d.line === c.line && d.kind !== c.kind)).map((c) => c.line));
  // The subject speaks for the persons only when the text itself says nothing either way.
  const otherwise = cues.length > 0 ? null : fallback;
  const spans = persons.map((p) => (p.at == null ? null : { from: p.at, to: Math.max(p.at, p.end ?? p.at) }));
  const inSpan = (line: number) => spans.some((s) => s && line >= s.from && line <= s.to);
  persons.forEach((p, i) => {
    if (p.intent) return;
    const span = spans[i];
    if (!span) {
      p.intent = otherwise ?? 'grant';
      return;
    }
    // The line after the person's values counts as its own when it belongs to nobody else and is not blank.
    const after = span.to + 1;
    // A line that heads the next person ("Nya användare:") is that person's, not this one's.
    const headsNext = /:\s*$/.test(lines[after] ?? '') || spans.some((s) => s && s.from === after + 1);
    const ownTo = after < lines.length && lines[after]!.trim() !== '' && !inSpan(after) && !headsNext ? after : span.to;
    const own = cues.filter((c) => c.line >= span.from && c.line <= ownTo);
    if (own.some((c) => c.kind === 'revoke')) p.intent = 'revoke';
    else if (own.length > 0) p.intent = 'grant';
    else {
      // "Sara har slutat hos oss." under her block: a phrase on a line of nobody's that names her.
      const first = p.name?.split(/\s+/)[0];
      const naming = first
        ? cues.filter((c) => !inSpan(c.line) && new RegExp(`(?<![\\p{L}])${escape(first)}(?![\\p{L}])`, 'iu').test(lines[c.line]!))
        : [];
      const heading = cues.filter((c) => c.line < span.from && !inSpan(c.line) && !mixed.has(c.line)).pop();
      p.intent = naming.some((c) => c.kind === 'revoke') ? 'revoke' : naming.length > 0 ? 'grant' : (heading?.kind ?? otherwise ?? 'grant');
    }
  });
}

/**
 * Whether a text speaks of removal anywhere (the case steps' safety net: a mail that does, while
 * every person in it reads as a grant, goes to IT staff instead of becoming a grant).
 */
export function detectIntent(text: string, rules: Rules): Intent {
  return Lexicon.for(rules)
    .cues(text.slice(0, 20_000))
    .some((c) => c.kind === 'revoke')
    ? 'revoke'
    : 'grant';
}
