/**
 * A private PostgreSQL cluster a test may stop and restart (the shared one on 5432 stays up):
 * initdb as the `postgres` OS user in a temp folder, started with pg_ctl on a free port.
 */
import { execFile } from 'node:child_process';
import fs from 'node:fs';
import fsp from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import { promisify } from 'node:util';
import { freePort } from './ports';

const run = promisify(execFile);

function pgBin(): string {
  const versions = fs.existsSync('/usr/lib/postgresql') ? fs.readdirSync('/usr/lib/postgresql').sort() : [];
  const v = versions.at(-1);
  if (!v) throw new Error('PostgreSQL server binaries not found under /usr/lib/postgresql');
  return `/usr/lib/postgresql/${v}/bin`;
}

export interface PgCluster {
  port: number;
  url: string;
  /** pg_ctl restart: `fast` (clients told) or `immediate` (like a crash). */
  restart(mode?: 'fast' | 'immediate'): Promise<number>;
  stop(mode?: 'fast' | 'immediate'): Promise<void>;
  start(): Promise<void>;
  destroy(): Promise<void>;
}

export async function startPgCluster(): Promise<PgCluster> {
  const bin = pgBin();
  const root = await fsp.mkdtemp(path.join(os.tmpdir(), 'lci-pgc-'));
  const dir = path.join(root, 'data');
  await fsp.chmod(root, 0o755);
  const asRoot = process.getuid?.() === 0;
  const as = (cmd: string, args: string[]) => (asRoot ? run('runuser', ['-u', 'postgres', '--', cmd, ...args]) : run(cmd, args));
  if (asRoot) await run('chown', ['postgres:postgres', root]);
  await as(path.join(bin, 'initdb'), ['-D', dir, '-A', 'trust', '-U', 'postgres', '-E', 'UTF8', '--no-sync']);
  const port = await freePort();
  const opts = `-p ${port} -c listen_addresses=127.0.0.1 -c unix_socket_directories=${dir} -c fsync=off -c max_connections=100`;
  const ctl = (...args: string[]) => as(path.join(bin, 'pg_ctl'), ['-D', dir, '-l', path.join(dir, 'server.log'), ...args]);
  await ctl('start', '-w', '-o', opts);
  return {
    port,
    url: `postgres://postgres@127.0.0.1:${port}/postgres`,
    async restart(mode = 'fast') {
      const t = Date.now();
      await ctl('restart', '-w', '-m', mode, '-o', opts);
      return Date.now() - t;
    },
    async stop(mode = 'fast') {
      await ctl('stop', '-w', '-m', mode);
    },
    async start() {
      await ctl('start', '-w', '-o', opts);
    },
    async destroy() {
      await ctl('stop', '-w', '-m', 'immediate').catch(() => {});
      await fsp.rm(root, { recursive: true, force: true });
    },
  };
}
