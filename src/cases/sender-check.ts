import type { AuthVerdict } from '../db/schema';
import { findProvider } from '../intake/senders';
import type { Rules } from '../rules/load';
import type { CaseRow } from './find-case';

/** Who a mail is from, as far as we can tell: the provider its domain claims, and whether that is verified. */
export interface SenderStanding {
  address: string | null;
  provider: { name: string } | null;
  verdict: AuthVerdict;
  /** A known provider's domain and a `pass` verdict: only then is the sender that provider. */
  verified: boolean;
}

export function senderStanding(rules: Rules, address: string | null, verdict: AuthVerdict): SenderStanding {
  const provider = findProvider(rules, address);
  return { address, provider, verdict, verified: provider !== null && verdict === 'pass' };
}

export type SenderDecision = { ok: true } | { ok: false; reason: string };

/**
 * Step 2: may this sender change this case? Only while the case is open, and only its own sender
 * (not contradicted by a failed verification, and verified when the case's sender was) or a
 * verified address of the same known provider. The reason is shown to IT staff.
 */
export function checkSender(c: CaseRow, s: SenderStanding): SenderDecision {
  if (c.erasedAt || c.status === 'rejected' || c.status === 'done') {
    return { ok: false, reason: `hänvisar till ${c.ref}, som är ${c.status === 'rejected' ? 'avvisat' : 'avslutat'}` };
  }
  const other = { ok: false as const, reason: `hänvisar till ${c.ref} från en annan avsändare` };
  if (s.address && s.address === c.sender) {
    if (s.verdict === 'fail' || (c.senderVerified && s.verdict !== 'pass')) {
      return { ok: false, reason: `hänvisar till ${c.ref}; avsändaren är inte verifierad` };
    }
    return { ok: true };
  }
  if (s.verified && c.knownProvider && c.providerName === s.provider!.name) return { ok: true };
  return other;
}
