/**
 * What `dagops runs` and `dagops status` print: plain-text tables and a timeline (one bar per step
 * over the run's time, like a Gantt chart), in ASCII so that it survives any terminal, log or
 * pull-request comment. Pure: the same views give the same text.
 */
import { formatDuration } from "../contract/duration.ts";
import type { RunHead, StepRecord } from "../contract/record.ts";
import { outcomeOf, type RunView } from "./records.ts";

/** Columns padded to their widest cell; the last column is not padded. */
export function table(header: readonly string[], rows: readonly (readonly string[])[]): string {
  const widths = header.map((h, i) => Math.max(h.length, ...rows.map((r) => (r[i] ?? "").length)));
  const line = (cells: readonly string[]) =>
    cells
      .map((c, i) => (i === cells.length - 1 ? c : c.padEnd(widths[i]!)))
      .join("  ")
      .trimEnd();
  return [line(header), ...rows.map(line)].join("\n") + "\n";
}

const ms = (iso: string | null | undefined) => (iso ? Date.parse(iso) : undefined);

export function duration(fromIso: string | null | undefined, toIso: string | null | undefined, now: number): string {
  const from = ms(fromIso);
  if (from === undefined) return "-";
  const to = ms(toIso) ?? now;
  const s = Math.max(0, Math.round((to - from) / 1000));
  return s === 0 ? "0s" : formatDuration(s);
}

/** `2026-11-30 04:30:00Z`: sortable, unambiguous, short. */
export function when(iso: string | null | undefined): string {
  return iso ? iso.replace("T", " ").replace(/\.\d+Z$/, "Z") : "-";
}

export function trigger(head: RunHead | undefined): string {
  if (!head) return "-";
  const t = head.trigger;
  const base = t.kind === "schedule" ? "schedule" : t.backfill ? `backfill` : `manual${t.by ? ` (${t.by})` : ""}`;
  return head.rerunOf ? `${base}, rerun of ${head.rerunOf}` : base;
}

export function runsTable(views: readonly RunView[], now: number, withPipeline: boolean): string {
  const rows = views.map((v) => [
    v.run,
    ...(withPipeline ? [v.pipeline] : []),
    trigger(v.head),
    when(v.head?.startedAt ?? v.createdAt),
    v.head ? duration(v.head.startedAt, v.head.finishedAt, now) : "-",
    outcomeOf(v),
    v.head?.failedSteps.join(", ") || "",
  ]);
  return table(
    ["RUN", ...(withPipeline ? ["PIPELINE"] : []), "TRIGGER", "STARTED", "DURATION", "OUTCOME", "FAILED STEP"],
    rows,
  );
}

type Attempt = StepRecord["attempts"][number];

function stepOutcome(s: StepRecord): string {
  const last = s.attempts.at(-1);
  if (!last) return "not-run";
  if (last.from) return `done in ${last.from}`;
  return last.outcome;
}

function capacityOf(a: Attempt | undefined): string {
  if (!a || a.from) return "-";
  // What was asked for, and what the node turned out to be when they differ.
  return a.capacityType && a.capacityType !== a.capacity ? `${a.capacity}->${a.capacityType}` : a.capacity;
}

/** `dagops status`: the run, its steps, and the timeline. */
export function statusText(v: RunView, now: number, width = 48): string {
  const h = v.head;
  const lines: string[] = [];
  const field = (name: string, value: string | null | undefined) =>
    value && lines.push(`${`${name}:`.padEnd(12)}${value}`);
  field("Run", v.run);
  field("Pipeline", `${v.pipeline} (namespace ${v.namespace}${h?.cluster ? `, cluster ${h.cluster}` : ""})`);
  field("Outcome", outcomeOf(v) + (h?.message ? `: ${h.message}` : ""));
  field(
    "Trigger",
    trigger(h) +
      (h?.trigger.kind === "schedule"
        ? ` at ${when(h.trigger.scheduledAt)}`
        : h?.trigger.kind === "manual" && h.trigger.reason
          ? `: ${h.trigger.reason}`
          : ""),
  );
  if (h && Object.keys(h.params).length)
    field(
      "Params",
      Object.entries(h.params)
        .map(([k, val]) => `${k}=${val}`)
        .join(" "),
    );
  field("Started", when(h?.startedAt ?? v.createdAt));
  if (h) field("Duration", duration(h.startedAt, h.finishedAt, now) + (h.finishedAt ? "" : " so far"));
  field("Plan", h?.planRevision ?? undefined);
  if (h && Object.keys(h.doneSteps).length)
    field(
      "Taken done",
      Object.entries(h.doneSteps)
        .map(([s, r]) => `${s} (from ${r})`)
        .join(", "),
    );
  field("Data", h?.uri ?? undefined);
  if (!h)
    lines.push(
      "",
      "The run manager has not written a record yet: the run is starting (its Fargate pod can take a minute).",
    );
  const out = [lines.join("\n"), ""];
  if (v.steps.length) {
    const rows = v.steps.map((s) => {
      const last = s.attempts.at(-1);
      const tries = s.attempts.filter((a) => !a.from).length;
      return [
        s.step,
        String(tries),
        capacityOf(last),
        last?.instanceType ?? "-",
        last ? duration(s.attempts[0]!.startedAt, last.finishedAt, now) : "-",
        stepOutcome(s),
        last?.reason && !last.from ? last.reason : "",
      ];
    });
    out.push(table(["STEP", "ATTEMPTS", "CAPACITY", "INSTANCE", "DURATION", "OUTCOME", "REASON"], rows));
    out.push(timeline(v, now, width));
  }
  return out.join("\n");
}

/**
 * One row per step, `width` columns from the run's start to its end (or now): `#` an attempt
 * that succeeded, `x` failed, `~` interrupted (Spot), `>` still running, `=` taken as done from
 * an earlier run. A later attempt draws over an earlier one where they share a column.
 */
export function timeline(v: RunView, now: number, width = 48): string {
  const start = ms(v.head?.startedAt) ?? ms(v.createdAt)!;
  const end = Math.max(
    ms(v.head?.finishedAt) ?? now,
    start + 1000,
    ...v.steps.flatMap((s) => s.attempts.map((a) => ms(a.finishedAt) ?? now)),
  );
  const span = end - start;
  const col = (t: number) => Math.min(width - 1, Math.max(0, Math.floor(((t - start) / span) * width)));
  const mark: Record<string, string> = { succeeded: "#", failed: "x", interrupted: "~", running: ">" };
  const name = Math.max(4, ...v.steps.map((s) => s.step.length));
  const rows = v.steps.map((s) => {
    const cells = Array<string>(width).fill(" ");
    for (const a of s.attempts) {
      if (a.from) {
        cells[0] = "=";
        continue;
      }
      const from = col(ms(a.startedAt)!);
      const to = col(ms(a.finishedAt) ?? now);
      for (let i = from; i <= to; i++) cells[i] = mark[a.outcome] ?? "?";
    }
    return `${s.step.padEnd(name)} |${cells.join("")}|`;
  });
  const total = formatDuration(Math.max(1, Math.round(span / 1000)));
  const axis = `${"".padEnd(name)} 0${total.padStart(width + 1)}`;
  return (
    [
      ...rows,
      axis,
      `${"".padEnd(name)} # succeeded  x failed  ~ interrupted  > running  = done in an earlier run`,
    ].join("\n") + "\n"
  );
}
