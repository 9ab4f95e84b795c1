/**
 * Text that no YAML reader on the way to the cluster can carry: an unpaired UTF-16 surrogate has
 * no UTF-8 form (a writer turns it into U+FFFD, so output would change on every synth) and Go's
 * YAML parser refuses its escape. Refused at reading, with the field path.
 */
import { fieldPath, problem, type Problem } from "./problems.ts";

export const LONE_SURROGATE = /[\ud800-\udbff](?![\udc00-\udfff])|(?<![\ud800-\udbff])[\udc00-\udfff]/;

/** A problem for every string (value or key) in `value` that holds an unpaired surrogate. */
export function unpairedSurrogates(value: unknown, file: string, path: (string | number)[] = []): Problem[] {
  if (typeof value === "string") {
    const m = LONE_SURROGATE.exec(value);
    if (!m) return [];
    const code = m[0].charCodeAt(0).toString(16).toUpperCase();
    return [
      problem(
        "INVALID_VALUE",
        file,
        fieldPath(path),
        `contains an unpaired UTF-16 surrogate (U+${code}) at character ${m.index}; it has no UTF-8 form and Go's YAML parser (Argo CD, kubectl) cannot read it. Remove it or write the whole character`,
      ),
    ];
  }
  if (Array.isArray(value)) return value.flatMap((v, i) => unpairedSurrogates(v, file, [...path, i]));
  if (value !== null && typeof value === "object") {
    return Object.entries(value).flatMap(([k, v]) => [
      ...(LONE_SURROGATE.test(k)
        ? [problem("INVALID_VALUE", file, fieldPath(path), `a key contains an unpaired UTF-16 surrogate; remove it`)]
        : []),
      ...unpairedSurrogates(v, file, [...path, k]),
    ]);
  }
  return [];
}
