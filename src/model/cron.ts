/**
 * Validation of the cron dialect that the Kubernetes CronJob controller accepts
 * (robfig/cron standard parser): five fields, `*`, `?`, lists, ranges, steps, month and weekday
 * names, and the `@hourly` ... `@yearly` macros. Time zones go in `timeZone`, never in the
 * schedule (`CRON_TZ=` and `TZ=` are rejected by the API server).
 * https://kubernetes.io/docs/concepts/workloads/controllers/cron-jobs/#schedule-syntax
 */

import { createHash } from "node:crypto";
import { memoByText } from "./memo.ts";

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
  {
    name: "month",
    min: 1,
    max: 12,
    names: ["JAN", "FEB", "MAR", "APR", "MAY", "JUN", "JUL", "AUG", "SEP", "OCT", "NOV", "DEC"],
  },
  // 0–6: the API server parses schedules with robfig/cron v3, which refuses 7 (Sunday is 0 only).
  { name: "day of week", min: 0, max: 6, names: ["SUN", "MON", "TUE", "WED", "THU", "FRI", "SAT"] },
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
    if (step !== undefined && !/^[1-9][0-9]*$/.test(step))
      return `step ${JSON.stringify(step)} is not a positive number`;
    if (range === "*" || range === "?") {
      if (range === "?" && spec.name !== "day of month" && spec.name !== "day of week")
        return "'?' is only allowed in day of month and day of week";
      continue;
    }
    const bounds = (range ?? "").split("-");
    if (bounds.length > 2) return `bad range ${JSON.stringify(range)}`;
    const values: number[] = [];
    for (const b of bounds) {
      const v = valueOf(b, spec);
      if (v === undefined) {
        const sunday =
          spec.name === "day of week" && b === "7" ? "; Kubernetes' cron parser has no 7 for Sunday: use 0 or SUN" : "";
        return `${JSON.stringify(b)} is not a number from ${spec.min} to ${spec.max}${spec.names ? ` or a name (${spec.names[0]}...)` : ""}${sunday}`;
      }
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

const MACRO_FIELDS: Record<string, string> = {
  "@yearly": "0 0 1 1 *",
  "@annually": "0 0 1 1 *",
  "@monthly": "0 0 1 * *",
  "@weekly": "0 0 * * 0",
  "@daily": "0 0 * * *",
  "@midnight": "0 0 * * *",
  "@hourly": "0 * * * *",
};

/** The values each field of a valid schedule allows, and whether day fields were restricted. */
function expand(schedule: string): { sets: Set<number>[]; domStar: boolean; dowStar: boolean } {
  const text = schedule.trim();
  const fields = (MACRO_FIELDS[text] ?? text).split(/\s+/);
  const sets = fields.map((field, i) => {
    const spec = FIELDS[i]!;
    const out = new Set<number>();
    for (const part of field.split(",")) {
      const [range, stepText] = part.split("/");
      const step = Number(stepText ?? 1);
      let [lo, hi] = [spec.min, spec.max];
      if (range !== "*" && range !== "?") {
        const bounds = range!.split("-").map((b) => valueOf(b, spec)!);
        lo = bounds[0]!;
        hi = bounds.length === 2 ? bounds[1]! : stepText !== undefined ? spec.max : lo;
      }
      for (let v = lo; v <= hi; v += step) out.add(spec.name === "day of week" && v === 7 ? 0 : v);
    }
    return out;
  });
  const star = (f: string) => f.startsWith("*") || f.startsWith("?");
  return { sets, domStar: star(fields[2]!), dowStar: star(fields[4]!) };
}

/** A valid schedule's fields as sets, by schedule (asked for every minute of a daylight-saving window, and per pipeline). */
const expanded = memoByText(10_000, expand);

/**
 * How many times a valid schedule fires in an average month: its firings over the whole of a
 * non-leap year (2026, in UTC), divided by 12. Day of month and day of week combine as in cron:
 * when both are restricted, either one matching is enough.
 */
export const runsPerMonth = memoByText(10_000, (schedule): number => {
  const { sets, domStar, dowStar } = expanded(schedule);
  const [minutes, hours, doms, months, dows] = sets as [
    Set<number>,
    Set<number>,
    Set<number>,
    Set<number>,
    Set<number>,
  ];
  let days = 0;
  for (let d = new Date(Date.UTC(2026, 0, 1)); d.getUTCFullYear() === 2026; d.setUTCDate(d.getUTCDate() + 1)) {
    if (!months.has(d.getUTCMonth() + 1)) continue;
    const dom = doms.has(d.getUTCDate());
    const dow = dows.has(d.getUTCDay());
    if (domStar || dowStar ? dom && dow : dom || dow) days++;
  }
  return (days * hours.size * minutes.size) / 12;
});

/**
 * The hours of the day (0–23) in which a valid schedule can fire. By schedule: the shared limits
 * ask for every pipeline's, and thousands share a few hundred schedules.
 */
export const firingHours = memoByText(10_000, (schedule): readonly number[] =>
  Object.freeze([...expanded(schedule).sets[1]!].sort((a, b) => a - b)),
);

/** Whether a valid schedule fires at this wall-clock minute (month 1–12, day of week 0 = Sunday). */
export function firesAt(
  schedule: string,
  t: { month: number; day: number; weekday: number; hour: number; minute: number },
): boolean {
  const e = expanded(schedule);
  const [minutes, hours, doms, months, dows] = e.sets as [
    Set<number>,
    Set<number>,
    Set<number>,
    Set<number>,
    Set<number>,
  ];
  if (!minutes.has(t.minute) || !hours.has(t.hour) || !months.has(t.month)) return false;
  const dom = doms.has(t.day);
  const dow = dows.has(t.weekday);
  return e.domStar || e.dowStar ? dom && dow : dom || dow;
}

/**
 * `H` in a field (Jenkins' notation): a value derived from a stable hash of `seed` (the pipeline's
 * name), so that thousands of pipelines on one schedule spread over the window instead of all
 * starting in the same minute. `H` alone is one value in the field's range (day of month 1–28,
 * so that every month has it); `H/n` is every n-th value from an offset below n (`H/15` in the
 * minute field: `7-59/15`); `H(a-b)` is one value from a to b. Anything else is left as written.
 */
export function resolveHashed(schedule: string, seed: string): string {
  const text = schedule.trim();
  if (!text.includes("H") || text.startsWith("@")) return schedule;
  const fields = text.split(/\s+/);
  if (fields.length !== 5) return schedule;
  const hash = (i: number, n: number) =>
    parseInt(createHash("sha256").update(`${seed}\n${i}`).digest("hex").slice(0, 8), 16) % n;
  return fields
    .map((field, i) => {
      const spec = FIELDS[i]!;
      const max = spec.name === "day of month" ? 28 : spec.max;
      return field
        .split(",")
        .map((part) => {
          const step = /^H\/([1-9][0-9]*)$/.exec(part);
          if (step) {
            const n = Number(step[1]);
            return `${spec.min + hash(i, Math.min(n, max - spec.min + 1))}-${spec.max}/${n}`;
          }
          const range = /^H\((\d+)-(\d+)\)$/.exec(part);
          if (range && Number(range[2]) >= Number(range[1]))
            return String(Number(range[1]) + hash(i, Number(range[2]) - Number(range[1]) + 1));
          return part === "H" ? String(spec.min + hash(i, max - spec.min + 1)) : part;
        })
        .join(",");
    })
    .join(" ");
}
