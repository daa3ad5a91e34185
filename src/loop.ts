/**
 * Runs a job one at a time. A call while it runs returns the running promise and makes the job
 * run once more right after (so no wake-up is lost). Never rejects: errors go to `onError`.
 */
export class Coalescer {
  private running: Promise<void> | null = null;
  private again = false;

  constructor(
    private readonly job: () => Promise<void>,
    private readonly onError: (err: unknown) => void,
    private readonly active: () => boolean = () => true,
  ) {}

  run(): Promise<void> {
    if (!this.active()) return this.running ?? Promise.resolve();
    if (this.running) {
      this.again = true;
      return this.running;
    }
    this.running = (async () => {
      do {
        this.again = false;
        await this.job().catch(this.onError);
      } while (this.again && this.active());
    })().finally(() => {
      this.running = null;
    });
    return this.running;
  }

  /** The run in progress, if any (for shutdown). */
  get current(): Promise<void> | null {
    return this.running;
  }
}
