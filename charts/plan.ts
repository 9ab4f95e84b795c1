/**
 * The plan: everything one run needs, in one immutable document. The run manager reads it from
 * the plan ConfigMap it mounts, so a run sees exactly one revision of the pipeline.
 */
import type { ResolvedPipeline } from "../model/resolve.ts";
import { STEP_POOL, contentHash, pipelineNamespace } from "./names.ts";
import { toYaml } from "./serialize.ts";
import { PLAN_API_VERSION, type Plan } from "./plan-format.ts";
import { placeholderJobs } from "./placeholder-job.ts";
import { stepJob } from "./step-job.ts";

export { PLAN_API_VERSION, type Plan, type PlanStep } from "./plan-format.ts";

export function buildPlan(pipeline: ResolvedPipeline): Plan {
  return {
    apiVersion: PLAN_API_VERSION,
    kind: "Plan",
    pipeline: pipeline.name,
    namespace: pipelineNamespace(pipeline.name),
    source: pipeline.source,
    maxParallel: pipeline.maxParallel,
    runTimeoutSeconds: pipeline.runTimeoutSeconds,
    onDemandNodePool: STEP_POOL["on-demand"],
    steps: pipeline.steps.map((s) => ({
      name: s.name,
      dependsOn: [...s.dependsOn],
      capacity: s.capacity,
      retries: s.retries,
      onDemandAfterInterruptions: s.capacity === "on-demand" ? null : s.onDemandAfterInterruptions,
      estimateSeconds: s.estimateSeconds,
      job: stepJob(pipeline, s),
    })),
    ...(pipeline.prewarm ? { placeholders: placeholderJobs(pipeline) } : {}),
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

export function planDocument(pipeline: ResolvedPipeline): PlanDocument {
  const plan = buildPlan(pipeline);
  const text = planText(plan);
  return { plan, text, hash: contentHash(text) };
}
