/**
 * The plan: everything one run needs, in one immutable document. The run manager reads it from
 * the plan ConfigMap it mounts, so a run sees exactly one revision of the pipeline.
 */
import { DEFAULT_PLACEHOLDER_IMAGE } from "../model/platform.ts";
import type { ResolvedPipeline } from "../model/resolve.ts";
import { STEP_POOL, contentHash, pipelineNamespace } from "../contract/names.ts";
import { toYaml } from "../contract/yaml.ts";
import { PLAN_API_VERSION, type Plan } from "../contract/plan-format.ts";
import { placeholderJobs } from "./placeholder-job.ts";
import { stepJob } from "./step-job.ts";

/** `placeholderImage`: the cluster's pause image for `prewarm` placeholders (only prewarm plans carry it). */
export function buildPlan(pipeline: ResolvedPipeline, placeholderImage: string = DEFAULT_PLACEHOLDER_IMAGE): Plan {
  return {
    apiVersion: PLAN_API_VERSION,
    kind: "Plan",
    pipeline: pipeline.name,
    namespace: pipelineNamespace(pipeline.name),
    source: pipeline.source,
    maxParallel: pipeline.maxParallel,
    runTimeoutSeconds: pipeline.runTimeoutSeconds,
    historyKeep: pipeline.historyKeep,
    schedulingTimeoutSeconds: pipeline.schedulingTimeoutSeconds,
    ...(pipeline.notify.length
      ? {
          notify: pipeline.notify.map((n) => ({
            on: [...n.on],
            secret: { ...n.webhook.secretKeyRef },
            format: n.format ?? "json",
          })),
        }
      : {}),
    concurrency: pipeline.concurrency,
    timeZone: pipeline.timeZone,
    ...(Object.keys(pipeline.params).length ? { params: pipeline.params } : {}),
    onDemandNodePool: STEP_POOL["on-demand"],
    // In the order the serializer writes them, so that it need not sort each step's keys.
    steps: pipeline.steps.map((s) => ({
      name: s.name,
      capacity: s.capacity,
      dependsOn: [...s.dependsOn],
      estimateSeconds: s.estimateSeconds,
      job: stepJob(pipeline, s),
      onDemandAfterInterruptions: s.capacity === "on-demand" ? null : s.onDemandAfterInterruptions,
      retries: s.retries,
    })),
    ...(pipeline.prewarm ? { placeholders: placeholderJobs(pipeline, placeholderImage) } : {}),
  };
}

export function planText(plan: Plan): string {
  return toYaml(plan);
}

/** A plan with its text and content hash: built once per pipeline, shared by every cluster's chart. */
export interface PlanDocument {
  readonly plan: Plan;
  readonly text: string;
  readonly hash: string;
}

export function planDocument(
  pipeline: ResolvedPipeline,
  placeholderImage: string = DEFAULT_PLACEHOLDER_IMAGE,
): PlanDocument {
  const plan = buildPlan(pipeline, placeholderImage);
  const text = planText(plan);
  return { plan, text, hash: contentHash(text) };
}
