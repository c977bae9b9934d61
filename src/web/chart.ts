/**
 * The geometry of the history charts, pure: round axis ticks, time ticks on
 * the clock, and the lines of a series with gaps where it has no sample.
 * Drawn into SVG by `history_view.ts`.
 *
 * @module
 */

/** The window a chart covers: the last hour. */
export const CHART_WINDOW_MS = 3_600_000;

/** Round a float to 12 significant digits (removes `0.30000000000000004`). */
const tidy = (value: number) => Number(value.toPrecision(12));

/**
 * Ticks from 0 to at least `max`, about `count` steps of 1, 2, 2.5 or 5
 * times a power of ten. A `max` of 0 or less (or not finite) counts as 1.
 *
 * @example
 * ```ts
 * niceTicks(7.3); // [0, 2, 4, 6, 8]
 * ```
 */
export function niceTicks(max: number, count = 4): number[] {
  const top = Number.isFinite(max) && max > 0 ? max : 1;
  const raw = top / count;
  const magnitude = 10 ** Math.floor(Math.log10(raw));
  const step = [1, 2, 2.5, 5, 10].map((m) => m * magnitude).find((s) => s >= raw * (1 - 1e-9))!;
  const steps = Math.ceil(tidy(top / step));
  return Array.from({ length: steps + 1 }, (_, i) => tidy(i * step));
}

/**
 * Ticks for a byte axis: {@linkcode niceTicks} in the largest binary unit
 * (B, KiB, MiB, GiB) that `max` reaches, so that the ticks are round in it.
 * Under one byte (no sample yet), the axis goes to 1 MiB: never a fraction
 * of a byte.
 */
export function byteTicks(max: number, count = 4): number[] {
  if (!(max >= 1)) max = 1024 * 1024;
  let unit = 1;
  while (max >= unit * 1024 && unit < 1024 ** 4) unit *= 1024;
  return niceTicks(max / unit, count).map((tick) => tidy(tick * unit));
}

/**
 * Times (ms) of the ticks of a time axis that ends at `endMs` and covers
 * `windowMs`: every `everyMs` on the clock (10:00, 10:15, …).
 */
export function timeTicks(endMs: number, windowMs = CHART_WINDOW_MS, everyMs = 900_000): number[] {
  const ticks: number[] = [];
  for (let t = Math.ceil((endMs - windowMs) / everyMs) * everyMs; t <= endMs; t += everyMs) {
    ticks.push(t);
  }
  return ticks;
}

/** The box a chart's lines are drawn in, in SVG units. */
export interface PlotBox {
  /** Left edge. */
  left: number;
  /** Top edge. */
  top: number;
  /** Width. */
  width: number;
  /** Height. */
  height: number;
}

/**
 * The points of a series, in runs of consecutive samples (a null starts a
 * new run): point `i` of `values` (oldest first, one every `stepMs`) is
 * `(n - 1 - i) × stepMs` before the end of the window, at the right edge of
 * `box`; y spans 0 (bottom) to `yMax` (top). Points before the window are left out.
 */
export function seriesRuns(
  values: readonly (number | null)[],
  options: { stepMs: number; yMax: number; box: PlotBox; windowMs?: number },
): [number, number][][] {
  const { stepMs, yMax, box } = options;
  const windowMs = options.windowMs ?? CHART_WINDOW_MS;
  const runs: [number, number][][] = [];
  let run: [number, number][] | null = null;
  const n = values.length;
  for (let i = 0; i < n; i++) {
    const value = values[i];
    const age = (n - 1 - i) * stepMs;
    if (value === null || value === undefined || age > windowMs) {
      run = null;
      continue;
    }
    const x = box.left + box.width * (1 - age / windowMs);
    const y = box.top + box.height * (1 - Math.min(Math.max(value, 0), yMax) / yMax);
    if (run === null) runs.push(run = []);
    run.push([tidy(x), tidy(y)]);
  }
  return runs;
}

/** The x of time `ms` on a time axis of `box` that ends at `endMs`; null outside the window. */
export function timeX(
  ms: number,
  endMs: number,
  box: PlotBox,
  windowMs = CHART_WINDOW_MS,
): number | null {
  const age = endMs - ms;
  if (age < 0 || age > windowMs) return null;
  return tidy(box.left + box.width * (1 - age / windowMs));
}
