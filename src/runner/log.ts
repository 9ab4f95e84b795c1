/** Structured logs: one JSON object per line, with a time, a level and an event name. */
export interface Logger {
  info(event: string, fields?: Record<string, unknown>): void;
  warn(event: string, fields?: Record<string, unknown>): void;
  error(event: string, fields?: Record<string, unknown>): void;
}

export function jsonLogger(
  write: (line: string) => void,
  now: () => number = Date.now,
  base: Record<string, unknown> = {},
): Logger {
  const emit =
    (level: string) =>
    (event: string, fields: Record<string, unknown> = {}) =>
      write(JSON.stringify({ time: new Date(now()).toISOString(), level, event, ...base, ...fields }) + "\n");
  return { info: emit("info"), warn: emit("warn"), error: emit("error") };
}
