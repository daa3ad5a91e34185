import type { DNSResolver } from 'mailauth';
import type { Config } from './config';
import type { Database } from './db/client';
import type { Logger } from './log';
import type { Rules } from './rules/load';

/** What every stage gets: configuration, rules, storage, a logger and a clock (injectable in tests). */
export interface AppContext {
  readonly config: Config;
  readonly rules: Rules;
  readonly database: Database;
  readonly log: Logger;
  readonly now: () => Date;
  /** DNS for the local DKIM/DMARC check (default: the system resolver); tests serve their own keys. */
  readonly resolver?: DNSResolver;
}
