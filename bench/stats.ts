/**
 * The statistics of the benchmarks: one percentile and one median for all of them.
 *
 * @module
 */

/** Linear-interpolated percentile (`p` in 0..100) of `values` (any order); NaN when empty. */
export function percentile(values: readonly number[], p: number): number {
  if (values.length === 0) return NaN;
  const sorted = [...values].sort((a, b) => a - b);
  const rank = (p / 100) * (sorted.length - 1);
  const low = Math.floor(rank);
  const a = sorted[low]!;
  const b = sorted[Math.ceil(rank)]!;
  return a + (b - a) * (rank - low);
}

/** The median of `values`; NaN when empty. */
export function median(values: readonly number[]): number {
  return percentile(values, 50);
}
