/**
 * The one median of the benchmarks (bench/decode.ts, bench/notify.ts).
 */

/**
 * The median of `values`: the middle value, or the mean of the two middle values when their
 * count is even; null when there are none. Does not change `values`.
 */
export function median(values: readonly number[]): number | null {
  if (values.length === 0) return null;
  const sorted = [...values].sort((a, b) => a - b);
  const mid = sorted.length >> 1;
  return sorted.length % 2 === 1 ? sorted[mid]! : (sorted[mid - 1]! + sorted[mid]!) / 2;
}
