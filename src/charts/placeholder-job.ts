/**
 * Whole-run pre-provisioning (`prewarm: true`). At run start the run manager creates these
 * Jobs from the plan: one low-priority pod per step of the heaviest set of steps that can run at
 * once (by memory), with that step's requests and pool. Karpenter provisions nodes for them up
 * front; a step that finds no room preempts a placeholder (PriorityClass below every step), and
 * a preempted placeholder is not replaced (FailJob on DisruptionTarget). The run manager deletes
 * what is left once every step has started.
 */
import type { IJob } from "kubernetes-models/batch/v1/Job";
import { executionPlan } from "../model/execution.ts";
import type { ResolvedPipeline } from "../model/resolve.ts";
import { LABEL, MANAGED_BY, ROLE } from "../contract/labels.ts";
import { DEFAULT_PLACEHOLDER_IMAGE } from "../model/platform.ts";
import { PLACEHOLDER_PRIORITY_CLASS, pipelineNamespace } from "../contract/names.ts";
import { containerSecurityContext } from "./security.ts";
import { failOnDisruption, stepPodPlacement } from "./step-job.ts";

export function placeholderJobs(pipeline: ResolvedPipeline, image: string = DEFAULT_PLACEHOLDER_IMAGE): IJob[] {
  if (!pipeline.prewarm) return [];
  const peak = new Set(executionPlan(pipeline).peak.memoryBytes.steps);
  const labels = { [LABEL.managedBy]: MANAGED_BY, [LABEL.pipeline]: pipeline.name, [LABEL.role]: ROLE.placeholder };
  return pipeline.steps
    .filter((s) => peak.has(s.name))
    .map((s) => ({
      apiVersion: "batch/v1",
      kind: "Job",
      metadata: { namespace: pipelineNamespace(pipeline.name), labels },
      spec: {
        backoffLimit: 0,
        activeDeadlineSeconds: pipeline.runTimeoutSeconds,
        podFailurePolicy: failOnDisruption(),
        template: {
          metadata: { labels },
          spec: {
            restartPolicy: "Never",
            priorityClassName: PLACEHOLDER_PRIORITY_CLASS,
            ...stepPodPlacement(s.capacity),
            terminationGracePeriodSeconds: 0,
            containers: [
              {
                name: "placeholder",
                image,
                imagePullPolicy: "IfNotPresent",
                resources: { requests: { ...s.resources.requests } },
                securityContext: containerSecurityContext(),
              },
            ],
          },
        },
      },
    }));
}
