/**
 * The two small helpers every stage wrote by hand: a string order that is the same on every
 * machine (code units, never the locale's: output must be byte-identical everywhere), and a map's
 * value made on first use.
 */

/** Code-unit order of two strings: -1, 0 or 1. */
export function compareText(a: string, b: string): number {
  return a < b ? -1 : a > b ? 1 : 0;
}

/** Entries (of a Map or Object.entries) by their keys, in code-unit order. */
export function byKey(a: readonly [string, unknown], b: readonly [string, unknown]): number {
  return compareText(a[0], b[0]);
}

/** The value of `key` in `map`, or the one `make` gives, stored first. */
export function getOrSet<K, V>(
  map: { get(key: K): V | undefined; set(key: K, value: V): unknown },
  key: K,
  make: () => V,
): V {
  let value = map.get(key);
  if (value === undefined) map.set(key, (value = make()));
  return value;
}
