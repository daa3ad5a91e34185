import { eachLane, groupBy } from '../../src/lanes';

const tick = () => new Promise<void>((r) => setTimeout(r, 1));

test('lanes by case: each case in its order, the cases in the order they first come', () => {
  const rows = [
    { id: 1, c: 'a' },
    { id: 2, c: 'b' },
    { id: 3, c: 'a' },
    { id: 4, c: 'c' },
    { id: 5, c: 'b' },
  ];
  expect([...groupBy(rows, (r) => r.c).values()].map((l) => l.map((r) => r.id))).toEqual([[1, 3], [2, 5], [4]]);
});

test('at most `width` steps at once, a lane never two at once and in its order; false ends only that lane', async () => {
  const lanes = [[1, 2, 3], [10, 11], [20, 21, 22], [30], [40, 41]];
  let busy = 0;
  let most = 0;
  const inLane = new Map<number, number>();
  const done: number[] = [];
  await eachLane(lanes, 3, async (n) => {
    const lane = Math.floor(n / 10);
    expect(inLane.get(lane) ?? 0).toBe(0);
    inLane.set(lane, 1);
    most = Math.max(most, ++busy);
    await tick();
    busy--;
    inLane.set(lane, 0);
    done.push(n);
    return n !== 20; // the third lane stops after its first
  });
  expect(most).toBe(3);
  expect(done.filter((n) => n < 10)).toEqual([1, 2, 3]);
  expect(done.filter((n) => n >= 20 && n < 30)).toEqual([20]);
  expect([...done].sort((a, b) => a - b)).toEqual([1, 2, 3, 10, 11, 20, 30, 40, 41]);
});

test('width 1 is one after another, in order', async () => {
  const done: number[] = [];
  await eachLane([[1, 2], [3], [4, 5]], 1, async (n) => {
    await tick();
    done.push(n);
    return true;
  });
  expect(done).toEqual([1, 2, 3, 4, 5]);
});
