import type { Rules } from '../rules/load';

/** The known provider (rules/senders.yaml) a sender's mail domain belongs to, or null. */
export function findProvider(rules: Rules, from: string | null): { name: string } | null {
  const domain = from?.split('@')[1]?.toLowerCase();
  if (!domain) return null;
  for (const p of rules.senders.providers) {
    if (p.domains.some((d) => domain === d || domain.endsWith(`.${d}`))) return { name: p.name };
  }
  return null;
}
