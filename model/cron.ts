/**
 * Validation of the cron dialect that the Kubernetes CronJob controller accepts
 * (robfig/cron standard parser): five fields, `*`, `?`, lists, ranges, steps, month and weekday
 * names, and the `@hourly` ... `@yearly` macros. Time zones go in `timeZone`, never in the
 * schedule (`CRON_TZ=` and `TZ=` are rejected by the API server).
 * https://kubernetes.io/docs/concepts/workloads/controllers/cron-jobs/#schedule-syntax
 */

const MACROS = ["@yearly", "@annually", "@monthly", "@weekly", "@daily", "@midnight", "@hourly"] as const;

interface FieldSpec {
  readonly name: string;
  readonly min: number;
  readonly max: number;
  readonly names?: readonly string[];
}

const FIELDS: readonly FieldSpec[] = [
  { name: "minute", min: 0, max: 59 },
  { name: "hour", min: 0, max: 23 },
  { name: "day of month", min: 1, max: 31 },
  { name: "month", min: 1, max: 12, names: ["JAN", "FEB", "MAR", "APR", "MAY", "JUN", "JUL", "AUG", "SEP", "OCT", "NOV", "DEC"] },
  { name: "day of week", min: 0, max: 7, names: ["SUN", "MON", "TUE", "WED", "THU", "FRI", "SAT"] },
];

/** An error message, or undefined when the schedule is valid. */
export function cronError(schedule: string): string | undefined {
  const text = schedule.trim();
  if (/^(CRON_)?TZ=/.test(text)) return "time zones are not allowed in the schedule; set timeZone instead";
  if (text.startsWith("@")) {
    return (MACROS as readonly string[]).includes(text)
      ? undefined
      : `unknown macro ${JSON.stringify(text)}; expected one of ${MACROS.join(", ")}`;
  }
  const fields = text.split(/\s+/);
  if (fields.length !== 5) {
    return `expected 5 fields (minute hour day-of-month month day-of-week), found ${fields.length}`;
  }
  for (let i = 0; i < 5; i++) {
    const err = fieldError(fields[i]!, FIELDS[i]!);
    if (err) return `${FIELDS[i]!.name} field ${JSON.stringify(fields[i])}: ${err}`;
  }
  return undefined;
}

function fieldError(field: string, spec: FieldSpec): string | undefined {
  for (const part of field.split(",")) {
    const [range, step, extra] = part.split("/");
    if (extra !== undefined) return "more than one '/'";
    if (step !== undefined && !/^[1-9][0-9]*$/.test(step)) return `step ${JSON.stringify(step)} is not a positive number`;
    if (range === "*" || range === "?") {
      if (range === "?" && spec.name !== "day of month" && spec.name !== "day of week") return "'?' is only allowed in day of month and day of week";
      continue;
    }
    const bounds = (range ?? "").split("-");
    if (bounds.length > 2) return `bad range ${JSON.stringify(range)}`;
    const values: number[] = [];
    for (const b of bounds) {
      const v = valueOf(b, spec);
      if (v === undefined) return `${JSON.stringify(b)} is not a number from ${spec.min} to ${spec.max}${spec.names ? ` or a name (${spec.names[0]}...)` : ""}`;
      values.push(v);
    }
    if (values.length === 2 && values[0]! > values[1]!) return `range ${range} runs backwards`;
  }
  return undefined;
}

function valueOf(token: string, spec: FieldSpec): number | undefined {
  if (/^[0-9]+$/.test(token)) {
    const v = Number(token);
    return v >= spec.min && v <= spec.max ? v : undefined;
  }
  const i = spec.names?.indexOf(token.toUpperCase()) ?? -1;
  return i < 0 ? undefined : i + (spec.name === "month" ? 1 : 0);
}
