/** The items grouped by key, each group in its order, the groups in the order of their first item. */
export function groupBy<T, K>(items: T[], key: (t: T) => K): Map<K, T[]> {
  const groups = new Map<K, T[]>();
  for (const t of items) {
    const k = key(t);
    const group = groups.get(k);
    if (group) group.push(t);
    else groups.set(k, [t]);
  }
  return groups;
}

/** Works through the lanes, `width` at a time, each lane in order; `step` returning false ends its lane. */
export async function eachLane<T>(lanes: T[][], width: number, step: (t: T) => Promise<boolean>): Promise<void> {
  let next = 0;
  const run = async () => {
    for (let lane = lanes[next++]; lane; lane = lanes[next++]) for (const t of lane) if (!(await step(t))) break;
  };
  await Promise.all(Array.from({ length: Math.max(1, Math.min(width, lanes.length)) }, run));
}
