/**
 * The plan: everything one run needs, in one immutable document. The run manager reads it from
 * the plan ConfigMap it mounts, so a run sees exactly one revision of the pipeline.
 */
import type { IJob } from "kubernetes-models/batch/v1/Job";
import type { ResolvedPipeline } from "../model/resolve.ts";
import { contentHash, pipelineNamespace } from "./names.ts";
import { toYaml } from "./serialize.ts";
import { stepJob } from "./step-job.ts";

export const PLAN_API_VERSION = "dagops.dev/v1alpha1";

export interface PlanStep {
  readonly name: string;
  readonly dependsOn: readonly string[];
  readonly capacity: "spot" | "on-demand";
  readonly job: IJob;
}

export interface Plan {
  readonly apiVersion: typeof PLAN_API_VERSION;
  readonly kind: "Plan";
  readonly pipeline: string;
  readonly namespace: string;
  readonly source: string;
  readonly maxParallel: number;
  readonly steps: readonly PlanStep[];
}

export function buildPlan(pipeline: ResolvedPipeline): Plan {
  return {
    apiVersion: PLAN_API_VERSION,
    kind: "Plan",
    pipeline: pipeline.name,
    namespace: pipelineNamespace(pipeline.name),
    source: pipeline.source,
    maxParallel: pipeline.maxParallel,
    steps: pipeline.steps.map((s) => ({ name: s.name, dependsOn: [...s.dependsOn], capacity: s.capacity, job: stepJob(pipeline, s) })),
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
