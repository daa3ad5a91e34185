import fs from 'node:fs/promises';
import path from 'node:path';
import type { AppContext } from '../context';
import { ingestBatch, type Folder } from './process';

/**
 * Embedded default mailbox: `.eml` files dropped in a folder are processed in name order, then
 * moved to `processed/`, `review/` or `ignored/` beside them. Files younger than SETTLE_MS are left
 * for the next pass (they may still be being written; writing elsewhere and renaming in is best). A file that cannot be read stays
 * where it is and is logged; the files behind it still go through.
 */
/** A file modified this recently may still be being written: it is taken on a later pass. */
export const SETTLE_MS = 1000;

export class MaildropIntake {
  private stopped = false;
  /** Asked before each batch: false (lease lost, shutting down) ends the pass there. */
  gate: () => boolean = () => true;
  /** Told after each batch stored (the worker starts sending its replies while the next batch is read). */
  stored: () => void = () => {};

  constructor(
    private readonly ctx: AppContext,
    readonly dir = ctx.config.maildropDir,
  ) {}

  async prepare(): Promise<void> {
    for (const sub of ['', 'processed', 'review', 'ignored']) await fs.mkdir(path.join(this.dir, sub), { recursive: true });
  }

  async poll(): Promise<{ processed: number; failed: number; deferred: number }> {
    const log = this.ctx.log.child({ component: 'maildrop' });
    await this.prepare();
    const files = (await fs.readdir(this.dir, { withFileTypes: true }))
      .filter((e) => e.isFile() && /\.eml$/i.test(e.name))
      .map((e) => e.name)
      .sort();
    let processed = 0;
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
          processed++;
        } catch (err) {
          failed++;
          log.error({ file: name, err }, 'maildrop file not processed; will retry');
        }
      }
    }
    return { processed, failed, deferred };
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
  }

  async close(): Promise<void> {
    this.stopped = true;
  }
}
