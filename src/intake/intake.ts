/** What the worker asks of a mailbox: IMAP (`imap.ts`) or the maildrop folder (`maildrop.ts`). */

/** For /healthz and the metrics: is the mailbox reachable, and when was it last read through. */
export interface IntakeStatus {
  ok: boolean;
  detail: string;
  lastPollAt: Date | null;
}

/**
 * A mailbox read while this worker holds its lease. Each intake takes an `onNewMail(reason)` that it
 * calls when mail may be waiting (IDLE, a new file, files that have settled); the worker polls then.
 */
export interface Intake {
  /** The mailbox lease's name: one per mailbox (IMAP account and folder, or the maildrop folder). */
  readonly leaseName: string;
  /** Asked before each batch: false (the lease lost, shutting down) ends the pass there. */
  gate: () => boolean;
  /** Told after each batch stored (the worker starts sending its replies while the next batch is read). */
  stored: () => void;
  readonly status: IntakeStatus;
  /** Mails the last pass left for later (an error), or -1 when the pass itself failed. */
  readonly lastFailures: number;
  /** Gets ready and starts watching for new mail (IMAP: connects, with reconnects; maildrop: watches the folder). */
  start(): Promise<void>;
  /** Takes in everything waiting. */
  poll(): Promise<void>;
  /** Stops after the mail in hand. */
  requestStop(): void;
  close(): Promise<void>;
}
