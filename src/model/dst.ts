/**
 * Daylight saving time against a cron schedule. In a zone with DST, a local time inside the
 * spring-forward gap does not exist that day, and one inside the fall-back overlap happens twice:
 * a CronJob set for it runs zero times or twice that day. Pure: the caller passes the start of
 * the year to look at.
 */
import { firesAt } from "./cron.ts";
import { fieldPath, problem, type Problem } from "../contract/problems.ts";
import type { ResolvedPipeline } from "./resolve.ts";

export interface DstClash {
  /** The local date, `2027-03-28`. */
  readonly date: string;
  /** `gap`: clocks jump forward over these times; `overlap`: clocks go back and repeat them. */
  readonly kind: "gap" | "overlap";
  /** The schedule's local times inside the gap or overlap, `02:30`. */
  readonly times: readonly string[];
  /** The local times the change covers, `02:00–03:00`. */
  readonly window: string;
}

const MINUTE = 60_000;
const HOUR = 60 * MINUTE;

const formatters = new Map<string, Intl.DateTimeFormat>();
/** The zone's UTC offset at instant t, in minutes. */
function offsetMinutes(zone: string, t: number): number {
  let f = formatters.get(zone);
  if (!f) {
    f = new Intl.DateTimeFormat("en-US", {
      timeZone: zone,
      hourCycle: "h23",
      year: "numeric",
      month: "numeric",
      day: "numeric",
      hour: "numeric",
      minute: "numeric",
    });
    formatters.set(zone, f);
  }
  const p = Object.fromEntries(f.formatToParts(t).map((x) => [x.type, Number(x.value)]));
  const wall = Date.UTC(p.year!, p.month! - 1, p.day!, p.hour!, p.minute!);
  return Math.round((wall - Math.floor(t / MINUTE) * MINUTE) / MINUTE);
}

/**
 * Names of zones with one offset all year (UTC, GMT and the tz database's Etc/GMT±N): nothing to
 * scan. Etc/UTC is every pipeline's default, and scanning it cost a one-pipeline synth 40 ms (a
 * year of Intl lookups, and ICU's start). The test holds every name this admits to the scan.
 */
export const FIXED_OFFSET_ZONE = /^(Etc\/)?(UTC|UCT|GMT|GMT0|GMT[+-]\d{1,2}|Universal|Zulu|Greenwich)$/i;

const transitionCache = new Map<string, { at: number; from: number; to: number }[]>();
/** The zone's offset changes in the 366 days from `start`: the first instant of the new offset, and both offsets. */
function transitions(zone: string, start: number): { at: number; from: number; to: number }[] {
  return FIXED_OFFSET_ZONE.test(zone) ? [] : scanTransitions(zone, start);
}

/** transitions, by Intl: the offset every six hours, then the minute of each change. */
export function scanTransitions(zone: string, start: number): { at: number; from: number; to: number }[] {
  const key = `${zone}|${start}`;
  const hit = transitionCache.get(key);
  if (hit) return hit;
  const out: { at: number; from: number; to: number }[] = [];
  let prev = offsetMinutes(zone, start);
  // Every six hours (no zone changes its offset twice in six hours), then the minute by bisection.
  const step = 6 * HOUR;
  for (let t = start + step; t <= start + 366 * 24 * HOUR; t += step) {
    const now = offsetMinutes(zone, t);
    if (now === prev) continue;
    // The change happened in (t - step, t]: find the minute.
    let [lo, hi] = [t - step, t];
    while (hi - lo > MINUTE) {
      const mid = lo + Math.floor((hi - lo) / 2 / MINUTE) * MINUTE;
      if (offsetMinutes(zone, mid) === prev) lo = mid;
      else hi = mid;
    }
    out.push({ at: hi, from: prev, to: now });
    prev = now;
  }
  transitionCache.set(key, out);
  return out;
}

/** The days in the 366 days from `start` on which `schedule` in `zone` runs zero times or twice. */
export function dstClashes(schedule: string, zone: string, start: Date): DstClash[] {
  const startMs = Date.UTC(start.getUTCFullYear(), start.getUTCMonth(), start.getUTCDate());
  const out: DstClash[] = [];
  for (const { at, from, to } of transitions(zone, startMs)) {
    // Wall-clock window, written as UTC fields: the gap [at+from, at+to), or the overlap [at+to, at+from).
    const [lo, hi] = to > from ? [at + from * MINUTE, at + to * MINUTE] : [at + to * MINUTE, at + from * MINUTE];
    const times: string[] = [];
    for (let w = lo; w < hi; w += MINUTE) {
      const d = new Date(w);
      if (
        firesAt(schedule, {
          month: d.getUTCMonth() + 1,
          day: d.getUTCDate(),
          weekday: d.getUTCDay(),
          hour: d.getUTCHours(),
          minute: d.getUTCMinutes(),
        })
      ) {
        times.push(d.toISOString().slice(11, 16));
      }
    }
    const hhmm = (ms: number) => new Date(ms).toISOString().slice(11, 16);
    if (times.length)
      out.push({
        date: new Date(lo).toISOString().slice(0, 10),
        kind: to > from ? "gap" : "overlap",
        times,
        window: `${hhmm(lo)}–${hhmm(hi)}`,
      });
  }
  return out;
}

/**
 * DST_SCHEDULE warnings for a pipeline and each of its cluster variants: which dates of the year
 * from `start` are affected, and what to do instead.
 */
export function dstProblems(p: ResolvedPipeline, start: Date): Problem[] {
  const seen = new Set<string>();
  const problems: Problem[] = [];
  const variants: [string | undefined, ResolvedPipeline][] = [[undefined, p], ...Object.entries(p.overridden)];
  for (const [cluster, v] of variants) {
    if (v.schedule === undefined || v.suspend) continue;
    const key = `${v.schedule}|${v.timeZone}`;
    if (seen.has(key)) continue;
    seen.add(key);
    const clashes = dstClashes(v.schedule, v.timeZone, start);
    if (!clashes.length) continue;
    const ownSchedule = cluster !== undefined && v.schedule !== p.schedule;
    const ownZone = cluster !== undefined && v.timeZone !== p.timeZone;
    const path = ownSchedule
      ? ["overrides", cluster, "schedule"]
      : ownZone
        ? ["overrides", cluster, "timeZone"]
        : ["schedule"];
    const said = clashes.map((c) =>
      c.kind === "gap"
        ? `${c.date} (${c.times.join(", ")} does not exist: clocks jump forward, so no run)`
        : `${c.date} (${c.times.join(", ")} happens twice: clocks go back, so the run can start twice)`,
    );
    problems.push(
      problem(
        "DST_SCHEDULE",
        p.source,
        fieldPath(path),
        `schedule ${JSON.stringify(v.schedule)} in ${v.timeZone}${cluster !== undefined ? ` (cluster ${cluster})` : ""} falls into a daylight-saving change on ${said.join(" and ")}. Choose a time outside ${[...new Set(clashes.map((c) => c.window))].join(" and ")}, or a schedule in timeZone: Etc/UTC`,
        "warning",
      ),
    );
  }
  return problems;
}
