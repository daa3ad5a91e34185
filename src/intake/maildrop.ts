import { watch, type FSWatcher } from 'node:fs';
import fs from 'node:fs/promises';
import path from 'node:path';
import type { AppContext } from '../context';
import type { Intake, IntakeStatus } from './intake';
import { ingestBatch, type Folder } from './process';

/** A file modified this recently may still be being written: it is taken on a later pass. */
const SETTLE_MS = 1000;

/**
 * Embedded default mailbox: `.eml` files dropped in a folder are processed in name order, then
 * moved to `processed/`, `review/` or `ignored/` beside them. Files younger than SETTLE_MS are left
 * for a pass once they have settled (they may still be being written; writing elsewhere and
 * renaming in is best). A file that cannot be read stays where it is and is logged; the files
 * behind it still go through.
 */
export class MaildropIntake implements Intake {
  private stopped = false;
  private readonly dir: string;
  private watcher: FSWatcher | null = null;
  private settleTimer: NodeJS.Timeout | null = null;
  private lastPollAt: Date | null = null;
  gate: () => boolean = () => true;
  lastFailures = 0;
  /** Told after each batch stored (the worker starts sending its replies while the next batch is read). */
  stored: () => void = () => {};

  constructor(
    private readonly ctx: AppContext,
    /** Called when a file lands in the folder and when files left for settling may be taken. */
    private readonly onNewMail: (reason: string) => void = () => {},
  ) {
    this.dir = ctx.config.maildropDir;
  }

  get leaseName(): string {
    return `maildrop:${this.dir}`;
  }

  get status(): IntakeStatus {
    return { ok: true, detail: `maildrop ${this.dir}`, lastPollAt: this.lastPollAt };
  }

  private async prepare(): Promise<void> {
    for (const sub of ['', 'processed', 'review', 'ignored']) await fs.mkdir(path.join(this.dir, sub), { recursive: true });
  }

  /** Makes the folders; new files in the folder are taken at once (the worker's schedule catches anything missed). */
  async start(): Promise<void> {
    await this.prepare();
    this.watcher = watch(this.dir, () => this.onNewMail('maildrop'));
    this.watcher.on('error', () => {});
  }

  async poll(): Promise<void> {
    const log = this.ctx.log.child({ component: 'maildrop' });
    this.lastFailures = -1;
    await this.prepare();
    const files = (await fs.readdir(this.dir, { withFileTypes: true }))
      .filter((e) => e.isFile() && /\.eml$/i.test(e.name))
      .map((e) => e.name)
      .sort();
    let failed = 0;
    let deferred = 0;
    // Settled files in batches: read, parsed in parallel and stored together (see ingestBatch).
    const ready: string[] = [];
    for (const name of files) {
      try {
        if (Date.now() - (await fs.stat(path.join(this.dir, name))).mtimeMs < SETTLE_MS) deferred++;
        else ready.push(name);
      } catch (err) {
        failed++;
        log.error({ file: name, err }, 'maildrop file not processed; will retry');
      }
    }
    for (let i = 0; i < ready.length && !this.stopped && this.gate(); i += this.ctx.config.intakeBatch) {
      const names = ready.slice(i, i + this.ctx.config.intakeBatch);
      const read = await Promise.all(
        names.map((name) =>
          fs.readFile(path.join(this.dir, name)).then(
            (raw) => ({ name, raw }),
            (err: unknown) => {
              failed++;
              log.error({ file: name, err }, 'maildrop file not processed; will retry');
              return null;
            },
          ),
        ),
      );
      const got = read.filter((x) => x !== null);
      const results = await ingestBatch(
        this.ctx,
        got.map((g) => ({ raw: g.raw, source: { kind: 'maildrop' as const } })),
      );
      if (results.some((r) => r.ok)) this.stored();
      for (const [n, r] of results.entries()) {
        const name = got[n]!.name;
        try {
          if (!r.ok) throw r.error;
          await this.moveTo(path.join(this.dir, name), r.outcome.folder);
        } catch (err) {
          failed++;
          log.error({ file: name, err }, 'maildrop file not processed; will retry');
        }
      }
    }
    this.lastFailures = failed;
    this.lastPollAt = this.ctx.now();
    // Files still being written: look again once they have settled.
    if (deferred > 0 && !this.stopped && !this.settleTimer) {
      this.settleTimer = setTimeout(() => {
        this.settleTimer = null;
        this.onNewMail('maildrop-settle');
      }, SETTLE_MS);
      this.settleTimer.unref();
    }
  }

  private async moveTo(file: string, folder: Folder): Promise<void> {
    let target = path.join(this.dir, folder, path.basename(file));
    // A later file of the same name does not overwrite the earlier one.
    if (
      await fs.stat(target).then(
        () => true,
        () => false,
      )
    )
      target = target.replace(/(\.eml)?$/i, `-${Date.now()}$1`);
    await fs.rename(file, target).catch(async (err: NodeJS.ErrnoException) => {
      if (err.code === 'ENOENT') return; // moved by a previous run that crashed before recording it
      throw err;
    });
  }

  requestStop(): void {
    this.stopped = true;
    this.watcher?.close();
    if (this.settleTimer) clearTimeout(this.settleTimer);
  }

  async close(): Promise<void> {
    this.requestStop();
  }
}
