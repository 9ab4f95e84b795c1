/**
 * `fn`, remembered by its text argument: commands ask for the same few values thousands of times
 * (quantities like "500m", a plan read for its steps and for its cost, a schedule's hours). At
 * most `limit` results are kept (all are dropped when it is reached), so that a long-lived
 * process does not grow. Results are shared: nothing may change them. A call that throws is not
 * remembered.
 */
export function memoByText<T>(limit: number, fn: (text: string) => T): (text: string) => T {
  const kept = new Map<string, T>();
  return (text) => {
    if (kept.has(text)) return kept.get(text)!;
    if (kept.size >= limit) kept.clear();
    const value = fn(text);
    kept.set(text, value);
    return value;
  };
}
