/**
 * The run manager's decisions, as pure functions of the plan and what has happened so far.
 * `npm run plan` simulates runs with the same code, so what it predicts is what the run manager
 * does.
 *
 * Rules, in order of precedence:
 * - A step starts once every dependency has succeeded, never more than `maxParallel` at once,
 *   in plan order.
 * - An attempt that ends with an application failure (exit code, timeout) uses one retry;
 *   the next attempt waits 10 s, 20 s, 40 s, … (at most 10 min), like Kubernetes' own backoff.
 * - A Spot interruption uses no retry and is re-run at once; after the step's
 *   `onDemandAfterInterruptions`, on the on-demand NodePool. After MAX_INTERRUPTIONS the step
 *   fails, so a run never loops forever on lost capacity.
 * - When a step has failed for good, nothing new starts, not even retries: running attempts
 *   finish (their results are reported), then the run fails.
 */
import type { Plan, PlanStep } from "./plan-format.ts";

export type Capacity = "spot" | "on-demand";
export type AttemptOutcome = "running" | "succeeded" | "failed" | "interrupted";

export interface Attempt {
  /** 1-based. */
  readonly attempt: number;
  readonly capacity: Capacity;
  readonly outcome: AttemptOutcome;
  /** Why it failed or was interrupted, e.g. `DeadlineExceeded`. */
  readonly reason?: string;
  /** Milliseconds since the epoch. */
  readonly startedAt: number;
  readonly finishedAt?: number;
  /** A failure retrying cannot help (an image that cannot be pulled, a missing Secret): the step fails at once. */
  readonly final?: boolean;
  /** What happened, in full: the kubelet's or scheduler's message, or the container's last log lines. */
  readonly message?: string;
  readonly exitCode?: number;
  /** The node the attempt's pod ran on, and that node's instance type and capacity type. */
  readonly node?: string;
  readonly instanceType?: string;
  readonly capacityType?: string;
  /** Taken as done in a re-run from failure: the run whose output this step keeps. */
  readonly doneIn?: string;
}

export type StepStatus = "waiting" | "ready" | "backoff" | "running" | "succeeded" | "failed";

/** Interruptions after which a step fails anyway. */
export const MAX_INTERRUPTIONS = 10;
/** Delay before retrying a failed attempt: `first`, doubled per failure, at most `max` (ms). */
export interface RetryDelay {
  readonly first: number;
  readonly max: number;
}
export const RETRY_DELAY: RetryDelay = { first: 10_000, max: 600_000 };

export interface StepHistory {
  readonly attempts: readonly Attempt[];
}

export type History = ReadonlyMap<string, StepHistory>;

/** Attempts with this outcome (counted without a filtered copy: the cost simulation asks this for every step at every event). */
function count(h: StepHistory | undefined, outcome: AttemptOutcome): number {
  let n = 0;
  for (const a of h?.attempts ?? []) if (a.outcome === outcome) n++;
  return n;
}

/** When the next attempt of a step that last failed may start (ms since the epoch). */
export function retryAt(h: StepHistory, delay: RetryDelay = RETRY_DELAY): number {
  const last = h.attempts.at(-1);
  if (!last || last.outcome !== "failed") return 0;
  const failures = count(h, "failed");
  return (last.finishedAt ?? last.startedAt) + Math.min(delay.max, delay.first * 2 ** (failures - 1));
}

/** A step's status at `now`; `failed` means failed for good. */
export function stepStatus(step: PlanStep, history: History, now: number, delay: RetryDelay = RETRY_DELAY): StepStatus {
  const h = history.get(step.name);
  const last = h?.attempts.at(-1);
  if (last?.outcome === "running") return "running";
  if (last?.outcome === "succeeded") return "succeeded";
  if (
    count(h, "failed") > step.retries ||
    count(h, "interrupted") >= MAX_INTERRUPTIONS ||
    (h?.attempts ?? []).some((a) => a.final)
  )
    return "failed";
  if (!step.dependsOn.every((d) => history.get(d)?.attempts.at(-1)?.outcome === "succeeded")) return "waiting";
  if (h && retryAt(h, delay) > now) return "backoff";
  return "ready";
}

/** The capacity of a step's next attempt. */
export function nextCapacity(step: PlanStep, h: StepHistory | undefined): Capacity {
  if (step.capacity === "on-demand") return "on-demand";
  const n = step.onDemandAfterInterruptions;
  return n !== null && count(h, "interrupted") >= n ? "on-demand" : "spot";
}

export interface Start {
  readonly step: string;
  readonly attempt: number;
  readonly capacity: Capacity;
}

export type RunState =
  | { readonly phase: "running"; readonly start: readonly Start[]; readonly wakeAt?: number }
  | { readonly phase: "failing"; readonly failed: readonly string[] }
  | { readonly phase: "succeeded" }
  | { readonly phase: "failed"; readonly failed: readonly string[] };

/**
 * What to do now: which attempts to start, or whether the run is over. `wakeAt` is the earliest
 * time a step in backoff becomes ready, so the caller can set one timer instead of polling.
 */
export function decide(plan: Plan, history: History, now: number, delay: RetryDelay = RETRY_DELAY): RunState {
  const status = new Map(plan.steps.map((s) => [s.name, stepStatus(s, history, now, delay)]));
  let running = 0;
  for (const s of status.values()) if (s === "running") running++;
  const failed = plan.steps.filter((s) => status.get(s.name) === "failed").map((s) => s.name);
  if (failed.length > 0) return running > 0 ? { phase: "failing", failed } : { phase: "failed", failed };
  if (plan.steps.every((s) => status.get(s.name) === "succeeded")) return { phase: "succeeded" };
  const start: Start[] = [];
  for (const s of plan.steps) {
    if (running + start.length >= plan.maxParallel) break;
    if (status.get(s.name) !== "ready") continue;
    const h = history.get(s.name);
    start.push({ step: s.name, attempt: (h?.attempts.at(-1)?.attempt ?? 0) + 1, capacity: nextCapacity(s, h) });
  }
  const waits = plan.steps
    .filter((s) => status.get(s.name) === "backoff")
    .map((s) => retryAt(history.get(s.name)!, delay));
  return { phase: "running", start, ...(waits.length ? { wakeAt: Math.min(...waits) } : {}) };
}
