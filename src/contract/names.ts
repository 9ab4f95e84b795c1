/**
 * Names of emitted objects. Names depend only on the model, never on order or time; the ones
 * that carry a hash (plan ConfigMaps, Fargate profiles) are content-addressed because the object
 * is immutable and a change must create a new one.
 */
import { createHash } from "node:crypto";

export const PLATFORM_NAMESPACE = "dagops-system";
export const PIPELINE_NAMESPACE_PREFIX = "dagops-";
export const STEP_POOL = { spot: "dagops-steps", "on-demand": "dagops-steps-on-demand" } as const;
export const NODE_CLASS = "dagops-steps";
export const PROJECT = { bootstrap: "dagops-bootstrap", platform: "dagops-platform", apps: "dagops" } as const;
export const ROOT_APP = "dagops-root";
export const PLATFORM_APP = "dagops-platform";
export const RUN_MANAGER = "run-manager";
export const STEPS_SERVICE_ACCOUNT = "steps";
export const PLAN_KEY = "plan.yaml";
export const PLAN_MOUNT = "/etc/dagops/plan";
/** The PriorityClass of prewarm placeholders: below every step (priority 0), never preempting. */
export const PLACEHOLDER_PRIORITY_CLASS = "dagops-placeholder";
/** The image placeholders run: it sleeps until deleted, as root-less as any image can be. */

export function pipelineNamespace(pipeline: string): string {
  return `${PIPELINE_NAMESPACE_PREFIX}${pipeline}`;
}

export function pipelineApp(pipeline: string): string {
  return `pipeline-${pipeline}`;
}

/** First `length` hex digits of the SHA-256 of `content`. */
export function contentHash(content: string, length = 10): string {
  return createHash("sha256").update(content).digest("hex").slice(0, length);
}
