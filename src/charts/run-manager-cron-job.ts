import { Construct } from "constructs";
import type { ICronJob } from "kubernetes-models/batch/v1/CronJob";
import type { ResolvedCluster } from "../model/platform.ts";
import type { ResolvedPipeline } from "../model/resolve.ts";
import { KubeObject } from "./kube-object.ts";
import { ANNOTATION, LABEL, MANAGED_BY, ROLE } from "../contract/labels.ts";
import { PLAN_KEY, PLAN_MOUNT, RUN_MANAGER, pipelineNamespace } from "../contract/names.ts";
import { containerSecurityContext, podSecurityContext, TMP_SIZE_LIMIT, tmpMount } from "./security.ts";

export interface RunManagerCronJobProps {
  readonly pipeline: ResolvedPipeline;
  readonly cluster: ResolvedCluster;
  readonly planConfigMap: string;
}

/** A schedule that is valid but never used: pipelines without a schedule get a suspended CronJob. */
export const UNSCHEDULED = "0 0 1 1 *";

/**
 * Fargate run-manager requests and limits. Fargate runs pods as Guaranteed QoS and adds 256 MB
 * for its own components, so 250m / 256Mi lands exactly on the smallest size (0.25 vCPU, 0.5 GB).
 * https://docs.aws.amazon.com/eks/latest/userguide/fargate-pod-configuration.html
 */
export const RUN_MANAGER_RESOURCES = { cpu: "250m", memory: "256Mi" } as const;

/** Finished Fargate pods keep costing until deleted; an hour leaves time to read the summary. */
export const RUN_MANAGER_TTL_SECONDS = 3600;

/**
 * Beyond the run timeout, time for the run manager to cancel the steps and report. Kubernetes
 * enforces `runTimeout + RUN_MANAGER_GRACE_SECONDS` on the run-manager Job as a backstop, should
 * the program itself hang.
 */
export const RUN_MANAGER_GRACE_SECONDS = 300;

/** Exit code with which the run manager reports "the run failed": the Job must not retry it. */
export const RUN_FAILED_EXIT_CODE = 1;

export function runManagerPodLabels(pipeline: string): Record<string, string> {
  return { [LABEL.managedBy]: MANAGED_BY, [LABEL.pipeline]: pipeline, [LABEL.role]: ROLE.runManager };
}

/**
 * The run manager: one Job per run, on Fargate, started by this CronJob (or by
 * `kubectl create job --from=cronjob/<pipeline>`). It mounts the plan by its exact, hashed name
 * with `optional: true`: if a sync pruned that revision before the pod started, the pod still
 * starts and reports the superseded plan instead of hanging in ContainerCreating.
 */
export class RunManagerCronJob extends Construct {
  constructor(scope: Construct, id: string, props: RunManagerCronJobProps) {
    super(scope, id);
    const { pipeline, cluster } = props;
    const labels = runManagerPodLabels(pipeline.name);
    new KubeObject<ICronJob>(this, "cronjob", {
      apiVersion: "batch/v1",
      kind: "CronJob",
      metadata: {
        name: pipeline.name,
        namespace: pipelineNamespace(pipeline.name),
        labels: { [LABEL.managedBy]: MANAGED_BY, [LABEL.pipeline]: pipeline.name },
        annotations: {
          [ANNOTATION.source]: pipeline.source,
          ...(pipeline.description ? { [ANNOTATION.description]: pipeline.description } : {}),
          ...(pipeline.template ? { [ANNOTATION.template]: pipeline.template } : {}),
        },
      },
      spec: {
        schedule: pipeline.schedule ?? UNSCHEDULED,
        timeZone: pipeline.timeZone,
        suspend: pipeline.suspend,
        // forbid: the CronJob does not even start a run while one is going on (no Fargate pod for
        // nothing). replace and allow: the run manager decides, with the pipeline's Lease, so
        // a replaced run is cancelled with a record instead of deleted with its steps.
        concurrencyPolicy: pipeline.concurrency === "forbid" ? "Forbid" : "Allow",
        // A run that could not start within 10 minutes of its slot is skipped, not started late.
        startingDeadlineSeconds: 600,
        successfulJobsHistoryLimit: 3,
        failedJobsHistoryLimit: 3,
        jobTemplate: {
          metadata: { labels },
          spec: {
            ttlSecondsAfterFinished: RUN_MANAGER_TTL_SECONDS,
            activeDeadlineSeconds: pipeline.runTimeoutSeconds + RUN_MANAGER_GRACE_SECONDS,
            // Retries are for the run manager's infrastructure (a crash, an evicted Fargate pod);
            // a run that failed (exit 1) is final, and an eviction costs no retry.
            backoffLimit: 2,
            podFailurePolicy: {
              rules: [
                {
                  action: "FailJob",
                  onExitCodes: { containerName: RUN_MANAGER, operator: "In", values: [RUN_FAILED_EXIT_CODE] },
                },
                { action: "Ignore", onPodConditions: [{ type: "DisruptionTarget", status: "True" }] },
              ],
            },
            template: {
              metadata: { labels },
              spec: {
                restartPolicy: "Never",
                serviceAccountName: RUN_MANAGER,
                automountServiceAccountToken: true,
                enableServiceLinks: false,
                securityContext: podSecurityContext(),
                terminationGracePeriodSeconds: 60,
                containers: [
                  {
                    name: RUN_MANAGER,
                    image: cluster.runManager.image,
                    imagePullPolicy: "IfNotPresent",
                    args: ["run", "--plan", `${PLAN_MOUNT}/${PLAN_KEY}`],
                    env: [
                      { name: "DAGOPS_PIPELINE", value: pipeline.name },
                      { name: "DAGOPS_CLUSTER", value: cluster.name },
                      // Named in the run record: where this run's logs went.
                      ...(cluster.logging
                        ? [
                            { name: "DAGOPS_LOG_GROUP", value: cluster.logging.logGroup },
                            { name: "DAGOPS_STEPS_LOG_GROUP", value: cluster.logging.stepsLogGroup },
                          ]
                        : []),
                      ...(cluster.artifacts ? [{ name: "DAGOPS_ARTIFACTS", value: cluster.artifacts }] : []),
                      { name: "DAGOPS_PLAN_CONFIGMAP", value: props.planConfigMap },
                      { name: "DAGOPS_NAMESPACE", valueFrom: { fieldRef: { fieldPath: "metadata.namespace" } } },
                      { name: "DAGOPS_POD_NAME", valueFrom: { fieldRef: { fieldPath: "metadata.name" } } },
                      {
                        name: "DAGOPS_JOB_NAME",
                        valueFrom: { fieldRef: { fieldPath: "metadata.labels['batch.kubernetes.io/job-name']" } },
                      },
                      {
                        name: "DAGOPS_JOB_UID",
                        valueFrom: { fieldRef: { fieldPath: "metadata.labels['batch.kubernetes.io/controller-uid']" } },
                      },
                    ],
                    resources: {
                      requests: { ...RUN_MANAGER_RESOURCES },
                      limits: { ...RUN_MANAGER_RESOURCES },
                    },
                    securityContext: containerSecurityContext(),
                    volumeMounts: [{ name: "plan", mountPath: PLAN_MOUNT, readOnly: true }, tmpMount()],
                  },
                ],
                volumes: [
                  { name: "plan", configMap: { name: props.planConfigMap, optional: true } },
                  { name: tmpMount().name, emptyDir: { sizeLimit: TMP_SIZE_LIMIT } },
                ],
              },
            },
          },
        },
      },
    });
  }
}
