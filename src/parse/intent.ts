import type { Intent } from './types';

/**
 * Whether a text announces that someone is leaving (removal of access) rather than asking for
 * access: "har slutat", "avslutad anställning", "ta bort behörigheten", "ska inte längre ha
 * tillgång". For the parser to call per person block (or per mail). Bounded: the first 20,000
 * characters, alternations of fixed words with bounded gaps only.
 */
const LEAVER = [
  /\bhar\s{1,3}slutat\b/i,
  /\bslutar\s{1,3}(?:sin|sin\s{1,3}anst[äa]llning|hos\s{1,3}oss|den|idag|i\s{1,3}dag)\b/i,
  /\bavslutad\s{1,3}anst[äa]llning\b/i,
  /\banst[äa]llningen\s{1,3}(?:har\s{1,3})?(?:upph[öo]rt|avslutats?)\b/i,
  /\bta\s{1,3}bort\s{1,3}(?:[a-zåäö]{1,12}\s{1,3}){0,2}(?:beh[öo]righet(?:en)?|åtkomst(?:en)?|konto(?:t)?|anv[äa]ndare(?:n)?)\b/i,
  /\bska\s{1,3}inte\s{1,3}l[äa]ngre\s{1,3}ha\s{1,3}(?:tillg[åa]ng|beh[öo]righet|åtkomst)\b/i,
  /\b(?:avsluta|spärra|inaktivera)\s{1,3}(?:[a-zåäö]{1,12}\s{1,3}){0,2}(?:beh[öo]righet(?:en)?|konto(?:t)?)\b/i,
];

export function detectIntent(text: string): Intent {
  const t = text.slice(0, 20_000);
  return LEAVER.some((re) => re.test(t)) ? 'revoke' : 'grant';
}
