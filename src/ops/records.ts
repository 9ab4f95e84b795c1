/**
 * Runs as the operator sees them: the run record (`<run>-record`, which outlives the run) joined
 * with what is still in the cluster (the run's Job, its step Jobs while they run).
 */
import type { V1ConfigMap, V1Job } from "@kubernetes/client-node";
import { parse } from "yaml";
import { LABEL, ROLE } from "../contract/labels.ts";
import { finishedCondition } from "../contract/status.ts";
import { pipelineNamespace } from "../contract/names.ts";
import type { Plan } from "../contract/plan-format.ts";
import { RECORD_LABEL, RUN_KEY, type RunHead, type StepRecord } from "../contract/record.ts";
import { KubeError } from "../kube/errors.ts";
import type { Cluster } from "./cluster.ts";
import { DagopsError } from "../contract/errors.ts";

export interface RunView {
  readonly pipeline: string;
  readonly namespace: string;
  readonly run: string;
  /** Absent while the run manager has not started yet (or could not write its record). */
  readonly head?: RunHead;
  readonly steps: readonly StepRecord[];
  /** The run's Job, while it exists (its TTL is an hour after the run ends). */
  readonly job?: V1Job;
  /** When the record was created (for sorting runs without a start time). */
  readonly createdAt: string;
}

export type Outcome = RunHead["outcome"] | "starting" | "unknown";

export function outcomeOf(v: RunView): Outcome {
  if (v.head) return v.head.outcome;
  return finishedCondition(v.job) ? "unknown" : "starting";
}

const stepKeys = (data: Record<string, string>) =>
  Object.keys(data).filter((k) => k.startsWith("step.") && k.endsWith(".json"));

export function viewOf(
  record: V1ConfigMap | undefined,
  job: V1Job | undefined,
  fallback: { pipeline: string; namespace: string; run: string },
): RunView {
  const data = record?.data ?? {};
  let head: RunHead | undefined;
  try {
    head = data[RUN_KEY] ? (JSON.parse(data[RUN_KEY]) as RunHead) : undefined;
  } catch {
    head = undefined;
  }
  const steps = stepKeys(data).flatMap((k) => {
    try {
      return [JSON.parse(data[k]!) as StepRecord];
    } catch {
      return [];
    }
  });
  return {
    pipeline: head?.pipeline ?? fallback.pipeline,
    namespace: record?.metadata?.namespace ?? fallback.namespace,
    run: head?.run ?? fallback.run,
    ...(head ? { head } : {}),
    steps: inRunOrder(steps),
    ...(job ? { job } : {}),
    createdAt: new Date(record?.metadata?.creationTimestamp ?? job?.metadata?.creationTimestamp ?? 0).toISOString(),
  };
}

/**
 * The pipeline a run belongs to: `--pipeline`, or tried from its name's prefixes, longest first
 * (runs are named `<pipeline>-<suffix>`): the first namespace with its record or Job wins.
 */
export async function findRun(
  cluster: Cluster,
  run: string,
  pipeline: string | undefined,
): Promise<RunView | undefined> {
  const candidates = pipeline !== undefined ? [pipeline] : prefixes(run);
  for (const p of candidates) {
    const ns = pipelineNamespace(p);
    const record = await orMissing(cluster.getConfigMap(ns, `${run}-record`));
    const job = await orMissing(cluster.getJob(ns, run));
    if (!record && !job) continue;
    const view = viewOf(record, job, { pipeline: p, namespace: ns, run });
    // The record gets an attempt when it ends: while the run goes on, its step Jobs say what runs now.
    return outcomeOf(view) === "running" || outcomeOf(view) === "starting"
      ? withLiveAttempts(view, await cluster.listJobs(ns, `${LABEL.run}=${run},${LABEL.role}=${ROLE.step}`))
      : view;
  }
  return undefined;
}

/** The view with the attempts of step Jobs its record does not have yet (running ones). */
export function withLiveAttempts(view: RunView, jobs: readonly V1Job[]): RunView {
  const steps = new Map(view.steps.map((s) => [s.step, { step: s.step, attempts: [...s.attempts] }]));
  for (const job of jobs) {
    const step = job.metadata?.labels?.[LABEL.step];
    const attempt = Number(job.metadata?.labels?.[LABEL.attempt]);
    if (!step || !Number.isInteger(attempt)) continue;
    const entry = steps.get(step) ?? { step, attempts: [] };
    steps.set(step, entry);
    if (entry.attempts.some((a) => a.attempt === attempt)) continue;
    const done = finishedCondition(job);
    const onDemand = job.spec?.template?.spec?.nodeSelector?.[LABEL.karpenterNodePool]?.endsWith("on-demand");
    entry.attempts.push({
      attempt,
      job: job.metadata?.name ?? "",
      capacity: onDemand ? "on-demand" : "spot",
      outcome: !done ? "running" : done.type === "Complete" ? "succeeded" : "failed",
      startedAt: new Date(job.status?.startTime ?? job.metadata?.creationTimestamp ?? 0).toISOString(),
      ...(done?.lastTransitionTime ? { finishedAt: new Date(done.lastTransitionTime).toISOString() } : {}),
    });
    entry.attempts.sort((a, b) => a.attempt - b.attempt);
  }
  return { ...view, steps: inRunOrder([...steps.values()]) };
}

/** Steps by the start of their first attempt, then by name; steps never started last. */
function inRunOrder(steps: StepRecord[]): StepRecord[] {
  const first = (s: StepRecord) => s.attempts[0]?.startedAt ?? "\uffff";
  return steps.sort((a, b) => (first(a) < first(b) ? -1 : first(a) > first(b) ? 1 : a.step < b.step ? -1 : 1));
}

function prefixes(run: string): string[] {
  const out: string[] = [];
  for (let i = run.lastIndexOf("-"); i > 0; i = run.lastIndexOf("-", i - 1)) out.push(run.slice(0, i));
  return out;
}

/** A 404 is an answer (undefined); anything else is thrown. */
export async function orMissing<T>(p: Promise<T>): Promise<T | undefined> {
  try {
    return await p;
  } catch (err) {
    if (err instanceof KubeError && err.status === 404) return undefined;
    throw err;
  }
}

/** Recent runs of one pipeline (or every pipeline): records, and run Jobs that have none yet. */
export async function listRuns(cluster: Cluster, pipeline: string | undefined): Promise<RunView[]> {
  const ns = pipeline === undefined ? undefined : pipelineNamespace(pipeline);
  const recordSelector =
    pipeline === undefined ? `${RECORD_LABEL}=true` : `${LABEL.pipeline}=${pipeline},${RECORD_LABEL}=true`;
  const jobSelector = `${LABEL.role}=${ROLE.runManager}${pipeline === undefined ? "" : `,${LABEL.pipeline}=${pipeline}`}`;
  const [records, jobs] = await Promise.all([
    cluster.listConfigMaps(ns, recordSelector),
    cluster.listJobs(ns, jobSelector),
  ]);
  const jobByRun = new Map(jobs.map((j) => [`${j.metadata?.namespace}/${j.metadata?.name}`, j]));
  const views = records.map((r) => {
    const run = r.metadata?.labels?.[LABEL.run] ?? r.metadata?.name?.replace(/-record$/, "") ?? "";
    const key = `${r.metadata?.namespace}/${run}`;
    const job = jobByRun.get(key);
    jobByRun.delete(key);
    return viewOf(r, job, {
      pipeline: r.metadata?.labels?.[LABEL.pipeline] ?? "",
      namespace: r.metadata?.namespace ?? "",
      run,
    });
  });
  for (const job of jobByRun.values())
    views.push(
      viewOf(undefined, job, {
        pipeline: job.metadata?.labels?.[LABEL.pipeline] ?? "",
        namespace: job.metadata?.namespace ?? "",
        run: job.metadata?.name ?? "",
      }),
    );
  const start = (v: RunView) => v.head?.startedAt ?? v.createdAt;
  return views.sort((a, b) => (start(a) < start(b) ? 1 : start(a) > start(b) ? -1 : a.run < b.run ? 1 : -1));
}

/** The pipeline as deployed: its CronJob, and the plan its job template names. */
export interface Deployed {
  readonly pipeline: string;
  readonly namespace: string;
  readonly cronJob: import("@kubernetes/client-node").V1CronJob;
  /** The plan ConfigMap's name (its hash names the revision), and the plan. */
  readonly planRevision: string;
  readonly plan: Plan;
}

/** A pipeline that is not deployed to the cluster asked (no CronJob, or no plan): `dagops` says which, and exits 1. */
export class NotDeployed extends DagopsError {
  readonly code = "NOT_DEPLOYED";
}

export async function deployed(cluster: Cluster, pipeline: string): Promise<Deployed> {
  const namespace = pipelineNamespace(pipeline);
  const cronJob = await orMissing(cluster.getCronJob(namespace, pipeline));
  if (!cronJob)
    throw new NotDeployed(
      `no pipeline ${pipeline} in this cluster (no CronJob ${namespace}/${pipeline}, context ${cluster.context}): is it deployed here? Check its clusters: and the Argo CD app pipeline-${pipeline}`,
    );
  const env = cronJob.spec?.jobTemplate?.spec?.template?.spec?.containers?.[0]?.env ?? [];
  const planRevision = env.find((e) => e.name === "DAGOPS_PLAN_CONFIGMAP")?.value;
  if (!planRevision)
    throw new NotDeployed(
      `CronJob ${namespace}/${pipeline} names no plan (env DAGOPS_PLAN_CONFIGMAP): it was not generated by dagops`,
    );
  const cm = await orMissing(cluster.getConfigMap(namespace, planRevision));
  const text = cm?.data?.["plan.yaml"];
  if (text === undefined)
    throw new NotDeployed(
      `plan ConfigMap ${namespace}/${planRevision}, named by the CronJob, is missing: the pipeline's Argo CD app is not synced yet`,
    );
  return { pipeline, namespace, cronJob, planRevision, plan: parse(text) as Plan };
}
