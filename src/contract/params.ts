/**
 * Run parameters: what a pipeline declares (`params:`), how a value given to `dagops start` or a
 * backfill is checked, and how a run's values are settled (given values, then defaults, with
 * `scheduled-date` / `scheduled-time` taken from the run's scheduled time). Shared by synth (the
 * declaration), the `dagops` command (checks before anything is created) and the run manager
 * (settles the values and hands them to the steps), so all three apply one rule.
 */

export type ParamType = "string" | "int" | "bool" | "date";

/** A default computed per run: the run's scheduled day in the pipeline's time zone, or its scheduled instant. */
export const DYNAMIC_DEFAULTS = ["scheduled-date", "scheduled-time"] as const;
export type DynamicDefault = (typeof DYNAMIC_DEFAULTS)[number];

export interface ParamDeclaration {
  readonly type: ParamType;
  /** A literal of the type, or `scheduled-date` / `scheduled-time`. Absent: the value must be given. */
  readonly default?: string | number | boolean;
  /** `string` only: a regular expression the whole value must match, such as `^[a-z0-9-]+$`. */
  readonly pattern?: string;
  readonly description?: string;
}

/** `date` → `DAGOPS_PARAM_DATE`; `tenant_id` → `DAGOPS_PARAM_TENANT_ID`. */
export function paramEnvName(name: string): string {
  return `DAGOPS_PARAM_${name.toUpperCase()}`;
}

/** Lower-case letters, digits and `_`, starting with a letter: the name maps to one env variable name. */
export const PARAM_NAME = /^[a-z][a-z0-9_]{0,30}$/;

const DATE = /^(\d{4})-(\d{2})-(\d{2})$/;

/**
 * The canonical text of a value of `type`, or an error saying what was expected. Canonical:
 * integers in decimal, booleans `true`/`false`, dates `YYYY-MM-DD` (a real day).
 */
/** A value that was checked: what it became, or why it was refused. */
export type Checked<T> = ({ kind: "ok" } & T) | { kind: "error"; error: string };

export function checkValue(
  name: string,
  decl: ParamDeclaration,
  raw: string | number | boolean,
): Checked<{ value: string }> {
  const text = String(raw);
  const found = JSON.stringify(raw);
  switch (decl.type) {
    case "int":
      return /^-?\d{1,15}$/.test(text)
        ? { kind: "ok", value: String(Number(text)) }
        : { kind: "error", error: `parameter ${name} is an int: expected a whole number such as 7, found ${found}` };
    case "bool":
      return text === "true" || text === "false"
        ? { kind: "ok", value: text }
        : { kind: "error", error: `parameter ${name} is a bool: expected true or false, found ${found}` };
    case "date":
      return isDate(text)
        ? { kind: "ok", value: text }
        : {
            kind: "error",
            error: `parameter ${name} is a date: expected a day as YYYY-MM-DD such as 2026-11-30, found ${found}`,
          };
    case "string": {
      if (typeof raw !== "string")
        return { kind: "error", error: `parameter ${name} is a string: expected text, found ${found}` };
      if (text.length > 1024)
        return { kind: "error", error: `parameter ${name}: at most 1024 characters, found ${text.length}` };
      if (decl.pattern !== undefined && !new RegExp(decl.pattern, "u").test(text))
        return { kind: "error", error: `parameter ${name} must match ${decl.pattern}, found ${found}` };
      return { kind: "ok", value: text };
    }
  }
}

export function isDate(text: string): boolean {
  const m = DATE.exec(text);
  if (!m) return false;
  const d = new Date(Date.UTC(Number(m[1]), Number(m[2]) - 1, Number(m[3])));
  return d.toISOString().slice(0, 10) === text;
}

/** Problems of a declaration, as (field, message) pairs: synth reports them with the file and path. */
export function declarationProblems(name: string, decl: ParamDeclaration): { field: string; message: string }[] {
  const problems: { field: string; message: string }[] = [];
  if (!PARAM_NAME.test(name))
    problems.push({
      field: "",
      message: `parameter names are lower-case letters, digits and _, starting with a letter (at most 31), so that each maps to one env variable; found ${JSON.stringify(name)}`,
    });
  if (decl.pattern !== undefined) {
    if (decl.type !== "string")
      problems.push({
        field: "pattern",
        message: `pattern applies to string parameters only; ${name} is ${decl.type}`,
      });
    try {
      new RegExp(decl.pattern, "u");
    } catch (err) {
      problems.push({ field: "pattern", message: `not a regular expression: ${(err as Error).message}` });
    }
  }
  const d = decl.default;
  if (d !== undefined) {
    if (DYNAMIC_DEFAULTS.includes(d as DynamicDefault)) {
      const fits = d === "scheduled-date" ? decl.type === "date" || decl.type === "string" : decl.type === "string";
      if (!fits)
        problems.push({
          field: "default",
          message: `${d} gives a ${d === "scheduled-date" ? "date" : "timestamp (string)"}; ${name} is ${decl.type}`,
        });
    } else if (problems.every((p) => p.field !== "pattern")) {
      const checked = checkValue(name, decl, d);
      if (checked.kind === "error")
        problems.push({ field: "default", message: `the default does not fit the declaration: ${checked.error}` });
    }
  }
  return problems;
}

/** The run's scheduled instant and time zone, from which dynamic defaults are computed. */
export interface RunClock {
  /** The scheduled time of a scheduled run, or the start of a manual one. */
  readonly at: Date;
  /** The pipeline's IANA time zone. */
  readonly timeZone: string;
}

/** The day `at` falls on in `timeZone`, as YYYY-MM-DD. */
export function dayIn(at: Date, timeZone: string): string {
  const parts = new Intl.DateTimeFormat("en-CA", {
    timeZone,
    year: "numeric",
    month: "2-digit",
    day: "2-digit",
  }).formatToParts(at);
  const get = (t: string) => parts.find((p) => p.type === t)!.value;
  return `${get("year")}-${get("month")}-${get("day")}`;
}

/**
 * Every declared parameter's value for one run: the given one (checked), else the default. Errors
 * name the parameter: an unknown one (with the declared names), a bad value, a missing one.
 */
export function settleParams(
  declared: Readonly<Record<string, ParamDeclaration>>,
  given: Readonly<Record<string, string>>,
  clock: RunClock,
): { values: Record<string, string>; errors: string[] } {
  const errors: string[] = [];
  const values: Record<string, string> = {};
  const names = Object.keys(declared).sort();
  for (const name of Object.keys(given).sort()) {
    if (!(name in declared))
      errors.push(
        `unknown parameter ${name}; ${names.length ? `the pipeline declares: ${names.join(", ")}` : "the pipeline declares no params"}`,
      );
  }
  for (const name of names) {
    const decl = declared[name]!;
    if (name in given) {
      const checked = checkValue(name, decl, given[name]!);
      if (checked.kind === "error") errors.push(checked.error);
      else values[name] = checked.value;
    } else if (decl.default === "scheduled-date") values[name] = dayIn(clock.at, clock.timeZone);
    else if (decl.default === "scheduled-time") values[name] = clock.at.toISOString().replace(/\.\d{3}Z$/, "Z");
    else if (decl.default !== undefined) {
      const checked = checkValue(name, decl, decl.default);
      if (checked.kind === "error") errors.push(checked.error);
      else values[name] = checked.value;
    } else errors.push(`parameter ${name} has no default: give it with --param ${name}=<${decl.type}>`);
  }
  return { values, errors };
}

/**
 * `k=v` arguments as given values. `k=A..B` (date or int) and `k=a,b,c` expand to several values:
 * backfills use them; `dagops start` refuses more than one.
 */
export function parseParamArgs(
  args: readonly string[],
  declared: Readonly<Record<string, ParamDeclaration>>,
): { values: Record<string, string[]>; errors: string[] } {
  const values: Record<string, string[]> = {};
  const errors: string[] = [];
  for (const arg of args) {
    const eq = arg.indexOf("=");
    if (eq <= 0) {
      errors.push(`--param expects name=value, found ${JSON.stringify(arg)}`);
      continue;
    }
    const name = arg.slice(0, eq);
    const raw = arg.slice(eq + 1);
    if (name in values) errors.push(`parameter ${name} is given twice`);
    const decl = declared[name];
    const range = /^(.+)\.\.(.+)$/.exec(raw);
    if (range && decl && (decl.type === "date" || decl.type === "int")) {
      const expanded = expandRange(name, decl.type, range[1]!, range[2]!);
      if (expanded.kind === "error") errors.push(expanded.error);
      else values[name] = expanded.values;
    } else values[name] = decl && decl.type !== "string" && raw.includes(",") ? raw.split(",") : [raw];
  }
  return { values, errors };
}

/** At most this many runs from one range: a typo such as 2026..2206 must not start ten thousand runs. */
export const MAX_EXPANSION = 1000;

function expandRange(name: string, type: "date" | "int", from: string, to: string): Checked<{ values: string[] }> {
  if (type === "int") {
    const a = Number(from);
    const b = Number(to);
    if (!Number.isInteger(a) || !Number.isInteger(b))
      return {
        kind: "error",
        error: `parameter ${name}: expected a range of whole numbers such as 1..10, found ${from}..${to}`,
      };
    if (b < a) return { kind: "error", error: `parameter ${name}: the range ${from}..${to} runs backwards` };
    if (b - a + 1 > MAX_EXPANSION)
      return {
        kind: "error",
        error: `parameter ${name}: ${from}..${to} is ${b - a + 1} values; at most ${MAX_EXPANSION} at once`,
      };
    return { kind: "ok", values: Array.from({ length: b - a + 1 }, (_, i) => String(a + i)) };
  }
  if (!isDate(from) || !isDate(to))
    return {
      kind: "error",
      error: `parameter ${name}: expected a range of days such as 2026-11-01..2026-11-30, found ${from}..${to}`,
    };
  const start = Date.parse(`${from}T00:00:00Z`);
  const end = Date.parse(`${to}T00:00:00Z`);
  if (end < start) return { kind: "error", error: `parameter ${name}: the range ${from}..${to} runs backwards` };
  const days = Math.round((end - start) / 86_400_000) + 1;
  if (days > MAX_EXPANSION)
    return {
      kind: "error",
      error: `parameter ${name}: ${from}..${to} is ${days} days; at most ${MAX_EXPANSION} at once`,
    };
  return {
    kind: "ok",
    values: Array.from({ length: days }, (_, i) => new Date(start + i * 86_400_000).toISOString().slice(0, 10)),
  };
}

/** Every combination of the given values, in order (the first parameter varies slowest). */
export function combinations(values: Readonly<Record<string, readonly string[]>>): Record<string, string>[] {
  let out: Record<string, string>[] = [{}];
  for (const name of Object.keys(values).sort())
    out = out.flatMap((o) => values[name]!.map((v) => ({ ...o, [name]: v })));
  return out;
}
