/**
 * The Job template of one attempt of one step. It is not applied by Argo CD: it is stored in the pipeline's
 * plan ConfigMap, and the run manager creates one Job from it per run (docs/gitops.md, "The
 * generated layout": a Job's pod template is immutable, and a Job tracked in git would be re-run
 * by every sync).
 */
import type { IJob } from "kubernetes-models/batch/v1/Job";
import type { IPodFailurePolicy } from "kubernetes-models/batch/v1/PodFailurePolicy";
import type { IEnvVar } from "kubernetes-models/v1/EnvVar";
import type { IPodSpec } from "kubernetes-models/v1/PodSpec";
import type { ResolvedPipeline, ResolvedStep } from "../model/resolve.ts";
import { ANNOTATION, LABEL, MANAGED_BY, ROLE, STEP_TAINT } from "../contract/labels.ts";
import { STEP_POOL, STEPS_SERVICE_ACCOUNT, pipelineNamespace } from "../contract/names.ts";
import { containerSecurityContext, podSecurityContext, tmpMount, tmpVolume } from "./security.ts";

/**
 * What every step's Job shares, frozen all the way down and shared by every Job: the serializer
 * writes a frozen part once and reuses its text (src/contract/yaml.ts), and nothing can change it
 * for one Job behind the others' back. A plan's steps are written ~15 times each.
 */
function frozen<T>(value: T): T {
  if (value !== null && typeof value === "object") {
    for (const v of Object.values(value)) frozen(v);
    Object.freeze(value);
  }
  return value;
}

const SHARED = frozen({
  podFailurePolicy: failOnDisruption(),
  annotations: { [ANNOTATION.doNotDisrupt]: "true" },
  containerSecurityContext: containerSecurityContext(),
  volumeMounts: [tmpMount()],
  volumes: [tmpVolume()],
});
const PLACEMENT = frozen({ spot: placementOf("spot"), "on-demand": placementOf("on-demand") });

export function stepLabels(pipeline: string, step: string): Record<string, string> {
  return { [LABEL.managedBy]: MANAGED_BY, [LABEL.pipeline]: pipeline, [LABEL.role]: ROLE.step, [LABEL.step]: step };
}

/**
 * Where step-like pods go and how they run: the step pool of a capacity type (only step pods
 * tolerate its taint), the steps ServiceAccount without an API token, Pod Security "restricted".
 */
export function stepPodPlacement(capacity: ResolvedStep["capacity"]): StepPodPlacement {
  return PLACEMENT[capacity];
}

type StepPodPlacement = Pick<
  IPodSpec,
  | "serviceAccountName"
  | "automountServiceAccountToken"
  | "enableServiceLinks"
  | "nodeSelector"
  | "tolerations"
  | "securityContext"
>;

function placementOf(capacity: ResolvedStep["capacity"]): StepPodPlacement {
  return {
    serviceAccountName: STEPS_SERVICE_ACCOUNT,
    // Steps do not call the Kubernetes API. IRSA mounts its own web-identity token.
    automountServiceAccountToken: false,
    enableServiceLinks: false,
    nodeSelector: { [LABEL.karpenterNodePool]: STEP_POOL[capacity], "kubernetes.io/os": "linux" },
    tolerations: [{ key: STEP_TAINT.key, operator: "Equal", value: STEP_TAINT.value, effect: STEP_TAINT.effect }],
    securityContext: podSecurityContext(),
  };
}

/** A pod that loses its node (Spot reclaim, drain, preemption) fails its Job, which is not retried by Kubernetes. */
export function failOnDisruption(): IPodFailurePolicy {
  return { rules: [{ action: "FailJob", onPodConditions: [{ type: "DisruptionTarget", status: "True" }] }] };
}

export function stepJob(pipeline: ResolvedPipeline, step: ResolvedStep): IJob {
  const labels = stepLabels(pipeline.name, step.name);
  const env: IEnvVar[] = [
    { name: "DAGOPS_PIPELINE", value: pipeline.name },
    { name: "DAGOPS_STEP", value: step.name },
    ...step.env.map((e) => ({ ...e })),
  ];
  const placement = stepPodPlacement(step.capacity);
  // Keys in the order the serializer writes them (src/contract/yaml.ts): it sorts any object
  // that is not, and these are written ~15 times per plan.
  return {
    apiVersion: "batch/v1",
    kind: "Job",
    metadata: { namespace: pipelineNamespace(pipeline.name), labels },
    spec: {
      activeDeadlineSeconds: step.timeoutSeconds,
      // One pod per Job: the run manager owns retries (plan `retries`) and creates a fresh Job
      // per attempt, so it can tell interruptions from failures and move an attempt on-demand.
      backoffLimit: 0,
      // A Spot interruption or a node drain marks the pod DisruptionTarget. This rule makes the
      // Job fail with reason PodFailurePolicy, which the run manager reads as "interrupted, not
      // the step's fault": the attempt does not count against the step's retries.
      // https://kubernetes.io/docs/concepts/workloads/controllers/job/#pod-failure-policy
      podFailurePolicy: SHARED.podFailurePolicy,
      template: {
        metadata: { annotations: SHARED.annotations, labels },
        spec: {
          automountServiceAccountToken: placement.automountServiceAccountToken,
          containers: [
            {
              name: step.name,
              ...(step.args ? { args: [...step.args] } : {}),
              ...(step.command ? { command: [...step.command] } : {}),
              env,
              image: step.image,
              imagePullPolicy: "IfNotPresent",
              resources: {
                ...(Object.keys(step.resources.limits).length ? { limits: { ...step.resources.limits } } : {}),
                requests: { ...step.resources.requests },
              },
              securityContext: SHARED.containerSecurityContext,
              // A failed container's last log lines stay in its status (at most 2 KiB): the run
              // record keeps them after the pod is gone, with no log agent involved.
              terminationMessagePolicy: "FallbackToLogsOnError",
              volumeMounts: SHARED.volumeMounts,
            },
          ],
          enableServiceLinks: placement.enableServiceLinks,
          nodeSelector: placement.nodeSelector,
          restartPolicy: "Never",
          securityContext: placement.securityContext,
          serviceAccountName: placement.serviceAccountName,
          terminationGracePeriodSeconds: 30,
          tolerations: placement.tolerations,
          volumes: SHARED.volumes,
        },
      },
    },
  };
}
