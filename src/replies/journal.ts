import fs from 'node:fs';
import path from 'node:path';

/**
 * A small local journal of replies the SMTP server accepted, written (synchronously) before the
 * database is told. If marking a reply sent fails, or the process dies before it could, the next
 * sender on this machine reads the journal of a dead process and marks those replies sent instead
 * of sending them again. One file per process: `<dir>/<pid>.log`, one outbox id per line.
 */
export class SendJournal {
  private readonly file: string;
  private fd: number | null = null;

  constructor(
    private readonly dir: string,
    private readonly pid = process.pid,
  ) {
    this.file = path.join(dir, `${pid}.log`);
  }

  /** The SMTP server took reply `id`. */
  record(id: number): void {
    if (this.fd === null) {
      fs.mkdirSync(this.dir, { recursive: true });
      this.fd = fs.openSync(this.file, 'a');
    }
    fs.writeSync(this.fd, `${id}\n`);
  }

  /** Every reply this process marked: the journal starts again empty. */
  clear(): void {
    if (this.fd !== null) fs.ftruncateSync(this.fd, 0);
  }

  close(): void {
    if (this.fd !== null) fs.closeSync(this.fd);
    this.fd = null;
  }

  /** Outbox ids in the journals of processes no longer running (and their files, to remove once applied). */
  orphans(): { ids: number[]; files: string[] } {
    let names: string[];
    try {
      names = fs.readdirSync(this.dir);
    } catch {
      return { ids: [], files: [] };
    }
    const ids = new Set<number>();
    const files: string[] = [];
    for (const name of names) {
      const m = /^(\d+)\.log$/.exec(name);
      if (!m) continue;
      const pid = Number(m[1]);
      if (pid === this.pid || alive(pid)) continue;
      const file = path.join(this.dir, name);
      files.push(file);
      for (const line of fs.readFileSync(file, 'utf8').split('\n')) {
        const id = Number.parseInt(line, 10);
        if (Number.isInteger(id)) ids.add(id);
      }
    }
    return { ids: [...ids], files };
  }
}

function alive(pid: number): boolean {
  try {
    process.kill(pid, 0);
    return true;
  } catch (err) {
    return (err as NodeJS.ErrnoException).code === 'EPERM';
  }
}
