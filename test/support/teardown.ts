/**
 * A teardown that names what hung: each step gets its own time limit and the steps after a failed
 * or hung one still run; the first failure is thrown at the end ("teardown: server.close() did not
 * finish within 20 s"), where a bare hook timeout says only that the hook took too long.
 */
export async function teardown(steps: Array<[label: string, step: () => unknown]>, limitMs = 20_000): Promise<void> {
  let first: Error | null = null;
  for (const [label, step] of steps) {
    let timer: NodeJS.Timeout | undefined;
    const limit = new Promise<never>((_, reject) => {
      timer = setTimeout(() => reject(new Error(`teardown: ${label} did not finish within ${limitMs / 1000} s`)), limitMs);
    });
    try {
      await Promise.race([Promise.resolve().then(step), limit]);
    } catch (err) {
      first ??= err instanceof Error ? err : new Error(`teardown: ${label} failed: ${String(err)}`);
    } finally {
      clearTimeout(timer);
    }
  }
  if (first) throw first;
}
