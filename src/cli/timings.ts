/** `--timings`: how long each phase of a command took, measured on the path that runs without it. */

/** Phase name → milliseconds, filled in when the caller asks for timings. */
export type Timings = Map<string, number>;

export function timed<T>(timings: Timings | undefined, phase: string, fn: () => T): T {
  if (!timings) return fn();
  const start = performance.now();
  const result = fn();
  if (result instanceof Promise) return result.finally(() => timings.set(phase, performance.now() - start)) as T;
  timings.set(phase, performance.now() - start);
  return result;
}

export function formatTimings(timings: Timings): string {
  return [...timings].map(([phase, ms]) => `  ${phase.padEnd(34)} ${(ms / 1000).toFixed(2).padStart(7)} s\n`).join("");
}
