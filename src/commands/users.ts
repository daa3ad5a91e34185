import { envVariable, loadConfig } from '../config';
import { openDatabase } from '../db/client';
import { AppError } from '../errors';
import { audit } from '../audit';
import type { StaffRole } from '../db/schema';
import { createUser, findUser, MIN_PASSWORD_LENGTH, normalizeUsername, ROLES, setUserDisabled } from '../users';

/**
 * `users add <username> [--display-name NAME] [--update]`: creates a local staff account for the
 * review UI. The password comes from LCI_PASSWORD or, when that is unset, from standard input
 * (the first line), so it never appears in the shell history or the process list.
 */

export interface UsersAddOptions {
  displayName?: string;
  /** Set a new password for an existing account (and lift a sign-in lock; its sessions end). */
  update?: boolean;
  /** handlaggare | admin (new accounts default to admin: the embedded default and break-glass account). */
  role?: string;
  /** Defaults to the process's environment / standard input; injectable for tests. */
  env?: Record<string, string | undefined>;
  stdin?: NodeJS.ReadableStream;
  write?: (line: string) => void;
}

export async function readPassword(env: Record<string, string | undefined>, stdin: NodeJS.ReadableStream): Promise<string> {
  const fromEnv = env.LCI_PASSWORD;
  if (fromEnv !== undefined && fromEnv !== '') return fromEnv;
  if ((stdin as NodeJS.ReadStream).isTTY) {
    throw new AppError(
      'INVALID_INPUT',
      'give the password in LCI_PASSWORD or on standard input (e.g. `printf %s "$PW" | ... users add NAME`)',
    );
  }
  const chunks: Buffer[] = [];
  for await (const chunk of stdin) chunks.push(Buffer.isBuffer(chunk) ? chunk : Buffer.from(String(chunk)));
  const text = Buffer.concat(chunks).toString('utf8');
  const first = text.split(/\r?\n/)[0] ?? '';
  if (first === '')
    throw new AppError(
      'INVALID_INPUT',
      `no password given (LCI_PASSWORD is unset and standard input is empty); at least ${MIN_PASSWORD_LENGTH} characters`,
    );
  return first;
}

export async function usersAddCommand(username: string, opts: UsersAddOptions = {}): Promise<void> {
  const write = opts.write ?? ((line: string) => process.stdout.write(line + '\n'));
  if (opts.role !== undefined && !ROLES.includes(opts.role as StaffRole))
    throw new AppError('INVALID_INPUT', `--role must be one of ${ROLES.join(', ')}`);
  const password = await readPassword(opts.env ?? { LCI_PASSWORD: envVariable('LCI_PASSWORD') }, opts.stdin ?? process.stdin);
  const config = loadConfig(opts.env);
  const database = await openDatabase({ url: config.databaseUrl, pgliteDir: config.pgliteDir });
  try {
    const existed = (await findUser(database.db, username)) !== null;
    const user = await createUser(database.db, username, password, {
      displayName: opts.displayName ?? null,
      update: opts.update ?? false,
      ...(opts.role ? { role: opts.role as StaffRole } : {}),
    });
    await audit(database.db, { actor: 'cli', action: existed ? 'user.password_set' : 'user.created', after: { userId: user.id } });
    write(`${existed ? 'updated' : 'created'} user ${user.username}`);
  } finally {
    await database.close();
  }
}

/** `users disable NAME` / `users enable NAME`: a disabled account cannot sign in and its sessions end at once. */
export async function usersDisableCommand(
  username: string,
  disabled: boolean,
  opts: Pick<UsersAddOptions, 'env' | 'write'> = {},
): Promise<void> {
  const write = opts.write ?? ((line: string) => process.stdout.write(line + '\n'));
  const config = loadConfig(opts.env);
  const database = await openDatabase({ url: config.databaseUrl, pgliteDir: config.pgliteDir });
  try {
    const user = await findUser(database.db, username);
    if (!user) throw new AppError('NOT_FOUND', `no user ${normalizeUsername(username)}`);
    const changed = await setUserDisabled(database.db, user.id, disabled, new Date());
    if (changed)
      await audit(database.db, { actor: 'cli', action: disabled ? 'user.disabled' : 'user.enabled', after: { userId: user.id } });
    write(`${changed ? (disabled ? 'disabled' : 'enabled') : disabled ? 'already disabled' : 'already enabled'}: user ${user.username}`);
  } finally {
    await database.close();
  }
}
