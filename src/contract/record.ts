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
 * Pure: names, labels and documents. The run manager (src/runner/run.ts) writes records; the
 * `dagops` command (ops/) reads them.
 */
import { LABEL, MANAGED_BY } from "./labels.ts";
import type { Plan } from "./plan-format.ts";
import type { Attempt } from "./scheduler.ts";

/** The run: the run-manager Job that owns every step Job of one run. */
export interface RunId {
  readonly name: string;
  readonly uid: string;
  readonly namespace: string;
}

export const RECORD_API_VERSION = "dagops.dev/v1alpha1";
export const RUN_KEY = "run.json";
export const PLAN_COPY_KEY = "plan.yaml";
/** Run records carry this label (value "true"); retention lists them by it and the pipeline. */
export const RECORD_LABEL = "dagops.dev/record";
export const OUTCOME_LABEL = "dagops.dev/outcome";
/** Set by the CronJob controller on the Jobs it creates; absent on a run started by hand. */
export const SCHEDULED_ANNOTATION = "batch.kubernetes.io/cronjob-scheduled-timestamp";
export const DEFAULT_HISTORY_KEEP = 50;

export const recordName = (run: RunId) => `${run.name}-record`;
export const planCopyName = (run: RunId) => `${run.name}-plan`;
export const stepKey = (step: string) => `step.${step}.json`;

export type RecordOutcome = "running" | "succeeded" | "failed" | "timed-out" | "cancelled" | "skipped";

/**
 * What a run Job tells its run manager, in annotations: set by `dagops start`, `rerun` and
 * `backfill` when they create the Job, and by `dagops cancel` on a running one.
 */
export const RUN_ANNOTATION = {
  /** JSON object of parameter values as given (the run manager checks them and adds defaults). */
  params: "dagops.dev/params",
  /** Who started the run by hand (`dagops start`), and why. */
  startedBy: "dagops.dev/started-by",
  reason: "dagops.dev/reason",
  /** The run this one re-runs. */
  rerunOf: "dagops.dev/rerun-of",
  /** JSON object step → run: steps taken as done, each with the run whose output it keeps. */
  doneSteps: "dagops.dev/done-steps",
  /** The backfill that created the run. */
  backfill: "dagops.dev/backfill",
  /** JSON `{ by, reason, at }`: stop this run (running steps are deleted, outcome `cancelled`). */
  cancel: "dagops.dev/cancel",
  /** Set by `kubectl create job --from=cronjob/…` and by `dagops`: not a scheduled run. */
  instantiate: "cronjob.kubernetes.io/instantiate",
} as const;

export interface CancelRequest {
  readonly by: string;
  readonly reason: string;
  readonly at: string;
}

/** What the run Job's annotations ask of the run, read leniently: a malformed value is reported, never thrown. */
export interface RunIntent {
  readonly params: Record<string, string>;
  readonly startedBy?: string;
  readonly reason?: string;
  readonly rerunOf?: string;
  readonly doneSteps: Record<string, string>;
  readonly backfill?: string;
  readonly cancel?: CancelRequest;
  readonly problems: readonly string[];
}

export function runIntent(annotations: Readonly<Record<string, string>> | undefined): RunIntent {
  const a = annotations ?? {};
  const problems: string[] = [];
  const stringMap = (key: string): Record<string, string> => {
    if (a[key] === undefined) return {};
    try {
      const v = JSON.parse(a[key]!) as unknown;
      if (v && typeof v === "object" && !Array.isArray(v) && Object.values(v).every((x) => typeof x === "string"))
        return v as Record<string, string>;
    } catch {
      // reported below
    }
    problems.push(`annotation ${key} must be a JSON object of strings, found ${JSON.stringify(a[key]!.slice(0, 200))}`);
    return {};
  };
  return {
    params: stringMap(RUN_ANNOTATION.params),
    doneSteps: stringMap(RUN_ANNOTATION.doneSteps),
    ...(a[RUN_ANNOTATION.startedBy] ? { startedBy: a[RUN_ANNOTATION.startedBy] } : {}),
    ...(a[RUN_ANNOTATION.reason] ? { reason: a[RUN_ANNOTATION.reason] } : {}),
    ...(a[RUN_ANNOTATION.rerunOf] ? { rerunOf: a[RUN_ANNOTATION.rerunOf] } : {}),
    ...(a[RUN_ANNOTATION.backfill] ? { backfill: a[RUN_ANNOTATION.backfill] } : {}),
    ...(cancelRequest(a) ? { cancel: cancelRequest(a) } : {}),
    problems,
  };
}

export function cancelRequest(a: Readonly<Record<string, string>> | undefined): CancelRequest | undefined {
  const text = a?.[RUN_ANNOTATION.cancel];
  if (text === undefined) return undefined;
  try {
    const v = JSON.parse(text) as Partial<CancelRequest>;
    return { by: String(v.by ?? "unknown"), reason: String(v.reason ?? ""), at: String(v.at ?? "") };
  } catch {
    return { by: "unknown", reason: text.slice(0, 200), at: "" };
  }
}

/** The pipeline's Lease, in its namespace: held by the run going on (`concurrency: forbid | replace`). */
export function leaseName(pipeline: string): string {
  return `${pipeline}-run`;
}

/** `<artifacts>/<pipeline>/<run>/`: where a run's steps keep their data. */
export function runUri(artifacts: string, pipeline: string, run: string): string {
  return `${artifacts.replace(/\/+$/, "")}/${pipeline}/${run}/`;
}

/** `DAGOPS_INPUT_<STEP>`: `load-data` → `DAGOPS_INPUT_LOAD_DATA`. */
export function inputEnvName(step: string): string {
  return `DAGOPS_INPUT_${step.toUpperCase().replace(/-/g, "_")}`;
}

export interface RunHead {
  readonly apiVersion: typeof RECORD_API_VERSION;
  readonly kind: "RunRecord";
  readonly pipeline: string;
  readonly run: string;
  readonly runUid: string;
  readonly cluster: string | null;
  /** The plan ConfigMap the run was started from (its name carries the plan's hash). */
  readonly planRevision: string | null;
  readonly trigger:
    | { readonly kind: "schedule"; readonly scheduledAt: string }
    | { readonly kind: "manual"; readonly by?: string; readonly reason?: string; readonly backfill?: string };
  /** Every parameter's value for this run (given or default). */
  readonly params: Readonly<Record<string, string>>;
  /** The run this one re-runs, and the steps it took as done (step → the run whose output it keeps). */
  readonly rerunOf: string | null;
  readonly doneSteps: Readonly<Record<string, string>>;
  /** `<artifacts>/<pipeline>/<run>/` when the cluster sets `artifacts`. */
  readonly uri: string | null;
  /** Why the run ended as it did, when the steps do not say: skipped (which run holds the pipeline), cancelled (by whom). */
  readonly message: string | null;
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
    /** The node's instance type and capacity type (`spot` / `on-demand`), from its labels. */
    readonly instanceType?: string;
    readonly capacityType?: string;
    /** Taken as done: the run whose output this step keeps (a re-run from failure). */
    readonly from?: string;
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

export function recordLabels(plan: Plan, run: RunId, outcome: RecordOutcome): Record<string, string> {
  return {
    [LABEL.managedBy]: MANAGED_BY,
    [LABEL.pipeline]: plan.pipeline,
    [LABEL.run]: run.name,
    [RECORD_LABEL]: "true",
    [OUTCOME_LABEL]: outcome,
  };
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

export function stepRecord(
  step: string,
  attempts: readonly Attempt[],
  jobName: (attempt: number) => string,
  cap = 2048,
): string {
  // Only the last attempt keeps its message: earlier ones are usually the same failure again.
  const last = attempts.at(-1)?.attempt;
  const cut = (m: string) => (m.length > cap ? `…${m.slice(-(cap - 1))}` : m);
  const doc: StepRecord = {
    step,
    attempts: attempts.map((a) => ({
      attempt: a.attempt,
      job: a.doneIn ? "" : jobName(a.attempt),
      capacity: a.capacity,
      outcome: a.outcome,
      ...(a.reason
        ? { reason: a.reason.length > MAX_REASON ? `${a.reason.slice(0, MAX_REASON - 1)}…` : a.reason }
        : {}),
      ...(a.message && a.attempt === last ? { message: cut(a.message) } : {}),
      ...(a.exitCode !== undefined ? { exitCode: a.exitCode } : {}),
      ...(a.node ? { node: a.node } : {}),
      ...(a.instanceType ? { instanceType: a.instanceType } : {}),
      ...(a.capacityType ? { capacityType: a.capacityType } : {}),
      ...(a.doneIn ? { from: a.doneIn } : {}),
      startedAt: iso(a.startedAt),
      ...(a.finishedAt !== undefined ? { finishedAt: iso(a.finishedAt) } : {}),
    })),
  };
  return JSON.stringify(doc);
}

export function runHead(options: {
  plan: Plan;
  run: RunId;
  cluster: string | undefined;
  planRevision: string | undefined;
  scheduledAt: string | undefined;
  startedAt: number;
  finishedAt?: number;
  outcome: RecordOutcome;
  failedSteps?: readonly string[];
  logs?: LogPlaces;
  intent?: RunIntent;
  params?: Readonly<Record<string, string>>;
  uri?: string;
  message?: string;
}): RunHead {
  const intent = options.intent;
  const ns = options.run.namespace;
  return {
    apiVersion: RECORD_API_VERSION,
    kind: "RunRecord",
    pipeline: options.plan.pipeline,
    run: options.run.name,
    runUid: options.run.uid,
    cluster: options.cluster ?? null,
    planRevision: options.planRevision ?? null,
    trigger: options.scheduledAt
      ? { kind: "schedule", scheduledAt: options.scheduledAt }
      : {
          kind: "manual",
          ...(intent?.startedBy ? { by: intent.startedBy } : {}),
          ...(intent?.reason ? { reason: intent.reason } : {}),
          ...(intent?.backfill ? { backfill: intent.backfill } : {}),
        },
    params: options.params ?? {},
    rerunOf: intent?.rerunOf ?? null,
    doneSteps: intent?.doneSteps ?? {},
    uri: options.uri ?? null,
    message: options.message ?? null,
    startedAt: iso(options.startedAt),
    finishedAt: options.finishedAt === undefined ? null : iso(options.finishedAt),
    outcome: options.outcome,
    failedSteps: options.failedSteps ?? [],
    logs: {
      // Fargate's router (aws-logging) names streams after the pod's log file.
      runManager: options.logs?.runManagerGroup
        ? {
            logGroup: options.logs.runManagerGroup,
            streams: `run-manager-kube.var.log.containers.${options.run.name}-*_${ns}_run-manager-*.log`,
          }
        : null,
      // The CloudWatch Observability add-on names streams after the node and the pod's log file.
      steps: options.logs?.stepsGroup
        ? {
            logGroup: options.logs.stepsGroup,
            streams: `<node>-application.var.log.containers.${options.run.name}-<step>-*_${ns}_<step>-*.log`,
          }
        : null,
    },
  };
}

/**
 * The records to delete so that `keep` remain: the oldest first by creation time (then name),
 * never the current run's.
 */
export function beyondRetention(
  records: readonly { name: string; createdAt: string }[],
  keep: number,
  current: string,
): string[] {
  const sorted = [...records].sort((a, b) =>
    a.createdAt < b.createdAt ? 1 : a.createdAt > b.createdAt ? -1 : a.name < b.name ? 1 : -1,
  );
  return sorted
    .slice(keep)
    .map((r) => r.name)
    .filter((n) => n !== current);
}
