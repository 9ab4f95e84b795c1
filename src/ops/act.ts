/**
 * What the `dagops` command changes in the cluster: a new run Job from the CronJob's job template
 * (what `kubectl create job --from=cronjob/…` does, plus who, why and the parameters), a cancel
 * request on a running run's Job, and the checks made before either.
 */
import { createHash } from "node:crypto";
import type { V1Job } from "@kubernetes/client-node";
import { LABEL } from "../contract/labels.ts";
import { settleParams } from "../contract/params.ts";
import { finishedCondition, leaseLapsed } from "../contract/status.ts";
import { leaseName, RUN_ANNOTATION, type CancelRequest } from "../contract/record.ts";
import type { Cluster } from "./cluster.ts";
import { orMissing, type Deployed } from "./records.ts";
import { byKey } from "../contract/order.ts";

/** Kubernetes object names: 63 characters. A pipeline name has at most 40; the suffix fits the rest. */
const stamp = (at: Date) => at.toISOString().replace(/[-:T]/g, "").slice(2, 14); // YYMMDDhhmmss

/** `<pipeline>-m<YYMMDDhhmmss>` for `start`, `-r…` for `rerun`. */
export function manualRunName(pipeline: string, kind: "m" | "r", at: Date): string {
  return `${pipeline}-${kind}${stamp(at)}`;
}

/** `<pipeline>-b<hash>`: the same values always name the same run, so a backfill resumes instead of repeating. */
export function backfillRunName(pipeline: string, values: Readonly<Record<string, string>>): string {
  const key = JSON.stringify(Object.entries(values).sort(byKey));
  return `${pipeline}-b${createHash("sha256").update(`${pipeline}\n${key}`).digest("hex").slice(0, 10)}`;
}

export interface NewRun {
  readonly name: string;
  /** Parameter values as given (the run manager adds defaults and checks them again). */
  readonly params: Readonly<Record<string, string>>;
  readonly by: string;
  readonly reason?: string;
  readonly rerunOf?: string;
  readonly doneSteps?: Readonly<Record<string, string>>;
  readonly backfill?: string;
  /** Run this plan revision instead of the CronJob's (a re-run of an older revision that still exists). */
  readonly planRevision?: string;
}

/** The run Job: the CronJob's job template, owned by the CronJob as kubectl does, annotated with what the run manager needs. */
export function runJob(d: Deployed, r: NewRun): V1Job {
  const template = structuredClone(d.cronJob.spec!.jobTemplate);
  const spec = template.spec!;
  if (r.planRevision && r.planRevision !== d.planRevision) {
    const pod = spec.template.spec!;
    for (const c of pod.containers)
      for (const e of c.env ?? []) if (e.name === "DAGOPS_PLAN_CONFIGMAP") e.value = r.planRevision;
    for (const v of pod.volumes ?? []) if (v.configMap?.name === d.planRevision) v.configMap.name = r.planRevision;
  }
  const annotations: Record<string, string> = {
    ...template.metadata?.annotations,
    [RUN_ANNOTATION.instantiate]: "manual",
    [RUN_ANNOTATION.startedBy]: r.by,
    ...(r.reason ? { [RUN_ANNOTATION.reason]: r.reason } : {}),
    ...(Object.keys(r.params).length ? { [RUN_ANNOTATION.params]: JSON.stringify(r.params) } : {}),
    ...(r.rerunOf ? { [RUN_ANNOTATION.rerunOf]: r.rerunOf } : {}),
    ...(r.doneSteps && Object.keys(r.doneSteps).length
      ? { [RUN_ANNOTATION.doneSteps]: JSON.stringify(r.doneSteps) }
      : {}),
    ...(r.backfill ? { [RUN_ANNOTATION.backfill]: r.backfill } : {}),
  };
  return {
    apiVersion: "batch/v1",
    kind: "Job",
    metadata: {
      name: r.name,
      namespace: d.namespace,
      labels: { ...template.metadata?.labels, [LABEL.pipeline]: d.pipeline },
      annotations,
      ownerReferences: [
        {
          apiVersion: "batch/v1",
          kind: "CronJob",
          name: d.cronJob.metadata!.name!,
          uid: d.cronJob.metadata!.uid!,
          controller: true,
        },
      ],
    },
    spec,
  };
}

/** Checks given values against the deployed plan's declaration, as the run manager will. */
export function checkParams(d: Deployed, given: Readonly<Record<string, string>>, at: Date): string[] {
  return settleParams(d.plan.params ?? {}, given, { at, timeZone: d.plan.timeZone ?? "Etc/UTC" }).errors;
}

/**
 * The run holding the pipeline's Lease, if it is alive: held, not expired, and its Job not
 * finished. `dagops start` refuses a new run of a `forbid` pipeline while there is one.
 */
export async function runningHolder(cluster: Cluster, d: Deployed, now: number): Promise<string | undefined> {
  const lease = await orMissing(cluster.getLease(d.namespace, leaseName(d.pipeline)));
  const holder = lease?.spec?.holderIdentity;
  if (!lease || !holder) return undefined;
  if (leaseLapsed(lease.spec, now, 60)) return undefined;
  const job = await orMissing(cluster.getJob(d.namespace, holder));
  return job && !finishedCondition(job) ? holder : undefined;
}

export function cancelAnnotation(request: CancelRequest): Record<string, string> {
  return { [RUN_ANNOTATION.cancel]: JSON.stringify(request) };
}

/** Who is acting: the API server's answer (SelfSubjectReview), else the kubeconfig's user name. */
export async function whoami(cluster: Cluster): Promise<string> {
  try {
    return await cluster.whoami();
  } catch {
    return cluster.kubeUser;
  }
}
