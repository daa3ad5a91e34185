import { Coalescer } from '../src/loop';

test('runs one at a time, reruns once for calls made during a run, and never rejects', async () => {
  let runs = 0;
  let concurrent = 0;
  let maxConcurrent = 0;
  const errors: unknown[] = [];
  const c = new Coalescer(
    async () => {
      runs++;
      concurrent++;
      maxConcurrent = Math.max(maxConcurrent, concurrent);
      await new Promise((r) => setTimeout(r, 20));
      concurrent--;
      if (runs === 1) throw new Error('first run fails');
    },
    (err) => errors.push(err),
  );
  const first = c.run();
  const during = [c.run(), c.run(), c.run()];
  await Promise.all([first, ...during]);
  expect(runs).toBe(2); // the three calls during the first run coalesce into one more run
  expect(maxConcurrent).toBe(1);
  expect(errors).toHaveLength(1);
  await c.run();
  expect(runs).toBe(3);
  expect(c.current).toBeNull();
});

test('does not start when inactive', async () => {
  let runs = 0;
  const c = new Coalescer(
    async () => void runs++,
    () => {},
    () => false,
  );
  await c.run();
  expect(runs).toBe(0);
});
