/**
 * One attempt of one step as a Kubernetes Job: its name, the manifest built from the plan's
 * template, and how its status reads back as an outcome.
 */
import { createHash } from "node:crypto";
import type { IJob } from "kubernetes-models/batch/v1/Job";
import type { Plan, PlanStep } from "../contract/plan-format.ts";
import { LABEL } from "../contract/labels.ts";
import { finishedCondition } from "../contract/status.ts";
import type { Attempt, AttemptOutcome, Capacity, Start } from "../contract/scheduler.ts";

import type { RunId } from "../contract/record.ts";

/** Kubernetes object names of Jobs are DNS-1123 labels: at most 63 characters. */
export const MAX_JOB_NAME = 63;

/**
 * `<run>-<step>-<hash>-<attempt>`, cut to 63 characters. The hash of run uid and step keeps
 * names unique when the readable part is cut, and differs between two runs that reuse a name.
 * The same run, step and attempt always give the same name: a restarted run manager finds the
 * Jobs it created, and a create that raced a crash fails with AlreadyExists instead of
 * duplicating the step.
 */
export function attemptJobName(run: RunId, step: string, attempt: number): string {
  const hash = createHash("sha256").update(`${run.uid}/${step}`).digest("hex").slice(0, 6);
  const suffix = `-${hash}-${attempt}`;
  const readable = `${run.name}-${step}`.slice(0, MAX_JOB_NAME - suffix.length).replace(/-+$/, "");
  return readable + suffix;
}

/** Labels and annotations that would make Argo CD adopt (and then prune) a step Job. */
const ARGO_TRACKING = {
  labels: ["app.kubernetes.io/instance", "argocd.argoproj.io/instance"],
  annotationPrefix: "argocd.argoproj.io/",
};

function withoutArgoTracking(metadata: { labels?: Record<string, string>; annotations?: Record<string, string> }) {
  const labels = Object.fromEntries(
    Object.entries(metadata.labels ?? {}).filter(([k]) => !ARGO_TRACKING.labels.includes(k)),
  );
  const annotations = Object.fromEntries(
    Object.entries(metadata.annotations ?? {}).filter(([k]) => !k.startsWith(ARGO_TRACKING.annotationPrefix)),
  );
  return { labels, ...(Object.keys(annotations).length ? { annotations } : {}) };
}

/**
 * A fresh Job for one attempt, from the plan's template (never from an object read back from
 * the server: its selector and controller labels were defaulted and would be refused).
 */
export function attemptJob(
  plan: Plan,
  step: PlanStep,
  run: RunId,
  start: Start,
  env: readonly { readonly name: string; readonly value: string }[] = [],
): IJob {
  const template = structuredClone(step.job) as IJob & { spec: NonNullable<IJob["spec"]> };
  const runLabels = { [LABEL.run]: run.name, [LABEL.runUid]: run.uid, [LABEL.attempt]: String(start.attempt) };
  const meta = withoutArgoTracking(template.metadata ?? {});
  const podMeta = withoutArgoTracking(template.spec.template.metadata ?? {});
  const pod = template.spec.template.spec!;
  if (start.capacity === "on-demand")
    pod.nodeSelector = { ...pod.nodeSelector, [LABEL.karpenterNodePool]: plan.onDemandNodePool };
  for (const c of pod.containers) {
    // The run's own variables first: a `$(DAGOPS_PARAM_DATE)` in the step's own env values can
    // then refer to them (Kubernetes expands references to variables defined earlier only).
    c.env = [
      { name: "DAGOPS_RUN", value: run.name },
      { name: "DAGOPS_ATTEMPT", value: String(start.attempt) },
      ...env.map((e) => ({ ...e })),
      ...(c.env ?? []),
    ];
  }
  return {
    ...template,
    metadata: {
      ...meta,
      name: attemptJobName(run, step.name, start.attempt),
      namespace: run.namespace,
      labels: { ...meta.labels, ...runLabels },
      // Deleting the run deletes its steps. No blockOwnerDeletion: it would need update rights
      // on the owner's finalizers, and nothing here needs foreground deletion of the run.
      ownerReferences: [{ apiVersion: "batch/v1", kind: "Job", name: run.name, uid: run.uid }],
    },
    spec: {
      ...template.spec,
      template: { ...template.spec.template, metadata: { ...podMeta, labels: { ...podMeta.labels, ...runLabels } } },
    },
  };
}

/** Placeholder Job `i` of a prewarmed run: `<run>-warm-<hash>-<i>`, within 63 characters. */
export function placeholderJobName(run: RunId, i: number): string {
  return attemptJobName(run, "warm", i + 1);
}

/** A placeholder Job from the plan's template, owned by the run like its steps. */
export function placeholderJob(plan: Plan, run: RunId, i: number): IJob {
  const template = structuredClone(plan.placeholders![i]!) as IJob & { spec: NonNullable<IJob["spec"]> };
  const runLabels = { [LABEL.run]: run.name, [LABEL.runUid]: run.uid };
  const meta = withoutArgoTracking(template.metadata ?? {});
  const podMeta = withoutArgoTracking(template.spec.template.metadata ?? {});
  return {
    ...template,
    metadata: {
      ...meta,
      name: placeholderJobName(run, i),
      namespace: run.namespace,
      labels: { ...meta.labels, ...runLabels },
      ownerReferences: [{ apiVersion: "batch/v1", kind: "Job", name: run.name, uid: run.uid }],
    },
    spec: {
      ...template.spec,
      template: { ...template.spec.template, metadata: { ...podMeta, labels: { ...podMeta.labels, ...runLabels } } },
    },
  };
}

/** The label selector of every step Job of a run. */
export function runSelector(run: RunId): string {
  return `${LABEL.runUid}=${run.uid}`;
}

/** A Job's condition, in the shape both the API and client-node's models give. */
interface Condition {
  readonly type: string;
  readonly status: string;
  readonly reason?: string;
  readonly message?: string;
  readonly lastTransitionTime?: string | Date;
}

export interface ObservedJob {
  readonly metadata?: {
    readonly name?: string;
    readonly labels?: Record<string, string>;
    readonly creationTimestamp?: string | Date;
  };
  readonly spec?: { readonly template?: { readonly spec?: { readonly nodeSelector?: Record<string, string> } } };
  readonly status?: { readonly startTime?: string | Date; readonly conditions?: readonly Condition[] };
}

const ms = (t: string | Date | undefined): number | undefined => (t === undefined ? undefined : new Date(t).getTime());

/**
 * What a step Job says about its attempt. The template's only FailJob rule matches
 * `DisruptionTarget`, so a Job failed with reason `PodFailurePolicy` was interrupted (Spot
 * reclaim, node drain), not failed by its own code.
 */
export function outcomeOf(job: ObservedJob): { outcome: AttemptOutcome; reason?: string; finishedAt?: number } {
  const done = finishedCondition(job);
  if (!done) return { outcome: "running" };
  const finishedAt = ms(done.lastTransitionTime);
  const at = finishedAt !== undefined ? { finishedAt } : {};
  if (done.type === "Complete") return { outcome: "succeeded", ...at };
  const outcome = done.reason === "PodFailurePolicy" ? "interrupted" : "failed";
  return { outcome, reason: done.reason ?? "Failed", ...at };
}

/** The attempt a step Job records, or undefined if it is not a step Job of this run. */
export function attemptOf(job: ObservedJob, plan: Plan, now: number): { step: string; attempt: Attempt } | undefined {
  const labels = job.metadata?.labels ?? {};
  const step = labels[LABEL.step];
  const n = Number(labels[LABEL.attempt]);
  if (step === undefined || !plan.steps.some((s) => s.name === step) || !Number.isInteger(n) || n < 1) return undefined;
  const capacity: Capacity =
    job.spec?.template?.spec?.nodeSelector?.[LABEL.karpenterNodePool] === plan.onDemandNodePool ? "on-demand" : "spot";
  const startedAt = ms(job.status?.startTime) ?? ms(job.metadata?.creationTimestamp) ?? now;
  return { step, attempt: { attempt: n, capacity, startedAt, ...outcomeOf(job) } };
}
