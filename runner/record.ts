/**
 * What a run leaves behind, and what lets a restarted run manager carry on after a deploy:
 *
 * - the **run record**, ConfigMap `<run>-record`: not owned by the run's Job, so it outlives the
 *   Job's TTL. `run.json` holds the run (plan revision, cluster, trigger, start, end, outcome);
 *   one key per step (`step.<name>.json`) holds its attempts, so each update is a merge patch of
 *   one small key, never a rewrite of the whole record;
 * - the **plan copy**, ConfigMap `<run>-plan`: the plan text, owned by the run's Job (garbage-
 *   collected with it). A run-manager pod restarted after a sync pruned its plan revision finds
 *   an empty mount and reads the plan from here.
 *
 * Pure: names, labels and documents; run.ts does the API calls.
 */
import { LABEL, MANAGED_BY } from "../charts/labels.ts";
import type { Plan } from "../model/plan-format.ts";
import type { Attempt } from "../model/scheduler.ts";
import type { Run } from "./attempt.ts";

export const RECORD_API_VERSION = "dagops.dev/v1alpha1";
export const RUN_KEY = "run.json";
export const PLAN_COPY_KEY = "plan.yaml";
/** Run records carry this label (value "true"); retention lists them by it and the pipeline. */
export const RECORD_LABEL = "dagops.dev/record";
export const OUTCOME_LABEL = "dagops.dev/outcome";
/** Set by the CronJob controller on the Jobs it creates; absent on a run started by hand. */
export const SCHEDULED_ANNOTATION = "batch.kubernetes.io/cronjob-scheduled-timestamp";
export const DEFAULT_HISTORY_KEEP = 50;

export const recordName = (run: Run) => `${run.name}-record`;
export const planCopyName = (run: Run) => `${run.name}-plan`;
export const stepKey = (step: string) => `step.${step}.json`;

export type RecordOutcome = "running" | "succeeded" | "failed" | "timed-out";

export interface RunHead {
  readonly apiVersion: typeof RECORD_API_VERSION;
  readonly kind: "RunRecord";
  readonly pipeline: string;
  readonly run: string;
  readonly runUid: string;
  readonly cluster: string | null;
  /** The plan ConfigMap the run was started from (its name carries the plan's hash). */
  readonly planRevision: string | null;
  readonly trigger: { readonly kind: "schedule"; readonly scheduledAt: string } | { readonly kind: "manual" };
  readonly startedAt: string;
  readonly finishedAt: string | null;
  readonly outcome: RecordOutcome;
  /** Steps that failed for good, when the run failed. */
  readonly failedSteps: readonly string[];
  /** Where the full logs went: CloudWatch Logs groups and stream patterns, when the cluster routes them. */
  readonly logs: {
    readonly runManager: { readonly logGroup: string; readonly streams: string } | null;
    readonly steps: { readonly logGroup: string; readonly streams: string } | null;
  };
}

export interface LogPlaces {
  readonly runManagerGroup?: string;
  readonly stepsGroup?: string;
}

export interface StepRecord {
  readonly step: string;
  readonly attempts: readonly {
    readonly attempt: number;
    readonly job: string;
    readonly capacity: string;
    readonly outcome: string;
    readonly reason?: string;
    /** The full cause, or a failed container's last log lines (`FallbackToLogsOnError`). */
    readonly message?: string;
    readonly exitCode?: number;
    readonly node?: string;
    readonly startedAt: string;
    readonly finishedAt?: string;
  }[];
}

/**
 * The room a step's messages get: 200 KiB shared by the plan's steps, at most 2 KiB each, so
 * that any run's record stays under 512 KiB (the rest is attempts and names).
 */
export function messageCap(steps: number): number {
  return Math.max(64, Math.min(2048, Math.floor((200 * 1024) / Math.max(1, steps))));
}

export function recordLabels(plan: Plan, run: Run, outcome: RecordOutcome): Record<string, string> {
  return { [LABEL.managedBy]: MANAGED_BY, [LABEL.pipeline]: plan.pipeline, [LABEL.run]: run.name, [RECORD_LABEL]: "true", [OUTCOME_LABEL]: outcome };
}

/** The label selector of a pipeline's run records. */
export function recordSelector(pipeline: string): string {
  return `${LABEL.pipeline}=${pipeline},${RECORD_LABEL}=true`;
}

const iso = (ms: number) => new Date(ms).toISOString();

/**
 * A reason in a record is cut to this many characters (the full cause is in `message`, the log
 * and the Event): a 500-step run with 3 attempts each stays under 512 KiB, and even the longest
 * names with every step failed stay under the 1 MiB a ConfigMap may hold (both tested).
 */
export const MAX_REASON = 48;

export function stepRecord(step: string, attempts: readonly Attempt[], jobName: (attempt: number) => string, cap = 2048): string {
  // Only the last attempt keeps its message: earlier ones are usually the same failure again.
  const last = attempts.at(-1)?.attempt;
  const cut = (m: string) => (m.length > cap ? `…${m.slice(-(cap - 1))}` : m);
  const doc: StepRecord = {
    step,
    attempts: attempts.map((a) => ({
      attempt: a.attempt,
      job: jobName(a.attempt),
      capacity: a.capacity,
      outcome: a.outcome,
      ...(a.reason ? { reason: a.reason.length > MAX_REASON ? `${a.reason.slice(0, MAX_REASON - 1)}…` : a.reason } : {}),
      ...(a.message && a.attempt === last ? { message: cut(a.message) } : {}),
      ...(a.exitCode !== undefined ? { exitCode: a.exitCode } : {}),
      ...(a.node ? { node: a.node } : {}),
      startedAt: iso(a.startedAt),
      ...(a.finishedAt !== undefined ? { finishedAt: iso(a.finishedAt) } : {}),
    })),
  };
  return JSON.stringify(doc);
}

export function runHead(options: {
  plan: Plan;
  run: Run;
  cluster: string | undefined;
  planRevision: string | undefined;
  scheduledAt: string | undefined;
  startedAt: number;
  finishedAt?: number;
  outcome: RecordOutcome;
  failedSteps?: readonly string[];
  logs?: LogPlaces;
}): RunHead {
  const ns = options.run.namespace;
  return {
    apiVersion: RECORD_API_VERSION,
    kind: "RunRecord",
    pipeline: options.plan.pipeline,
    run: options.run.name,
    runUid: options.run.uid,
    cluster: options.cluster ?? null,
    planRevision: options.planRevision ?? null,
    trigger: options.scheduledAt ? { kind: "schedule", scheduledAt: options.scheduledAt } : { kind: "manual" },
    startedAt: iso(options.startedAt),
    finishedAt: options.finishedAt === undefined ? null : iso(options.finishedAt),
    outcome: options.outcome,
    failedSteps: options.failedSteps ?? [],
    logs: {
      // Fargate's router (aws-logging) names streams after the pod's log file.
      runManager: options.logs?.runManagerGroup ? { logGroup: options.logs.runManagerGroup, streams: `run-manager-kube.var.log.containers.${options.run.name}-*_${ns}_run-manager-*.log` } : null,
      // The CloudWatch Observability add-on names streams after the node and the pod's log file.
      steps: options.logs?.stepsGroup ? { logGroup: options.logs.stepsGroup, streams: `<node>-application.var.log.containers.${options.run.name}-<step>-*_${ns}_<step>-*.log` } : null,
    },
  };
}

/**
 * The records to delete so that `keep` remain: the oldest first by creation time (then name),
 * never the current run's.
 */
export function beyondRetention(records: readonly { name: string; createdAt: string }[], keep: number, current: string): string[] {
  const sorted = [...records].sort((a, b) => (a.createdAt < b.createdAt ? 1 : a.createdAt > b.createdAt ? -1 : a.name < b.name ? 1 : -1));
  return sorted
    .slice(keep)
    .map((r) => r.name)
    .filter((n) => n !== current);
}
