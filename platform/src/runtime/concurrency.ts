// Bounded concurrency for independent work: many at once is what hides round-trip latency, a
// bound is what keeps a burst from opening thousands of requests (and holding their memory) at once.

/** `work` on every item, at most `limit` at once; resolves when all are done, rejects on the first failure. */
export async function forEachAtOnce<T>(items: readonly T[], limit: number, work: (item: T) => Promise<void>): Promise<void> {
  let next = 0;
  const lanes = Array.from({ length: Math.max(1, Math.min(limit, items.length)) }, async () => {
    while (next < items.length) await work(items[next++]!);
  });
  await Promise.all(lanes);
}
