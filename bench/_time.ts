/** Timing helper shared by the benchmarks. @module */

/** Median seconds of `repeat` runs of `fn` after one warm-up run. */
export async function time(fn: () => unknown, repeat = 5): Promise<number> {
  await fn();
  const times: number[] = [];
  for (let i = 0; i < repeat; i++) {
    const t0 = performance.now();
    await fn();
    times.push((performance.now() - t0) / 1000);
  }
  return times.sort((a, b) => a - b)[Math.floor(times.length / 2)];
}
