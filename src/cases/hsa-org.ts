import type { Rules } from '../rules/load';

/**
 * An HSA-id carries the organisation number of the directory owner: for a private provider its
 * own, or an accepted issuer's (Inera's for ids Inera created). Another number deserves a second
 * look by IT staff: returns the note to show, or null. Providers with no numbers listed are not checked.
 */
export function hsaOrgNote(rules: Rules, providerName: string | null, hsaId: string | null): string | null {
  if (!providerName || !hsaId) return null;
  const provider = rules.senders.providers.find((p) => p.name === providerName);
  if (!provider || provider.orgNumbers.length === 0) return null;
  const m = /^SE(?:16)?([0-9]{10})-/.exec(hsaId);
  if (!m) return null;
  const org = m[1]!;
  if (provider.orgNumbers.includes(org) || rules.senders.acceptedIssuers.some((i) => i.orgNumber === org)) return null;
  return `HSA-id hör till organisationsnummer ${org.slice(0, 6)}-${org.slice(6)}, inte till ${provider.name}`;
}
