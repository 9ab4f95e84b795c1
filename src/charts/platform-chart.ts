import { Chart } from "cdk8s";
import type { Construct } from "constructs";
import type { ResolvedCluster } from "../model/platform.ts";
import { Ec2NodeClass } from "./ec2-node-class.ts";
import { FargateLogging } from "./fargate-logging.ts";
import { FargateProfile } from "./fargate-profile.ts";
import { KarpenterNodePool } from "./karpenter-node-pool.ts";
import type { IPriorityClass } from "kubernetes-models/scheduling.k8s.io/v1/PriorityClass";
import { KubeObject } from "./kube-object.ts";
import { LABEL, MANAGED_BY, ROLE } from "../contract/labels.ts";
import {
  PIPELINE_NAMESPACE_PREFIX,
  PLACEHOLDER_PRIORITY_CLASS,
  PLATFORM_NAMESPACE,
  pipelineNamespace,
} from "../contract/names.ts";
import { RestrictedNamespace } from "./restricted-namespace.ts";
import { RunManagerNodeReader, RunManagerNodeReaderBinding } from "./run-manager-rbac.ts";

/**
 * What every pipeline in a cluster shares: `generated/<cluster>/platform/`. It syncs before any
 * pipeline, so namespaces, node pools and Fargate profiles exist before a run can start. It
 * depends on the platform configuration alone: each pipeline's own part of the platform app
 * (PipelinePlatformChart) is rendered with the pipeline.
 */
export class PlatformChart extends Chart {
  constructor(scope: Construct, id: string, props: { readonly cluster: ResolvedCluster }) {
    super(scope, id, { disableResourceNameHashes: true });
    const { cluster } = props;
    new RestrictedNamespace(this, PLATFORM_NAMESPACE, { name: PLATFORM_NAMESPACE });
    new Ec2NodeClass(this, "node-class", { cluster });
    new KarpenterNodePool(this, "pool-spot", { cluster, capacity: "spot" });
    new KarpenterNodePool(this, "pool-on-demand", { cluster, capacity: "on-demand" });
    // Prewarm placeholders yield to every step (priority 0) and never preempt anything.
    new KubeObject<IPriorityClass>(this, "placeholder-priority", {
      apiVersion: "scheduling.k8s.io/v1",
      kind: "PriorityClass",
      metadata: { name: PLACEHOLDER_PRIORITY_CLASS, labels: { [LABEL.managedBy]: MANAGED_BY } },
      value: -10,
      preemptionPolicy: "Never",
      globalDefault: false,
      description: "dagops prewarm placeholders: hold capacity for a run until its steps preempt them.",
    });
    new RunManagerNodeReader(this, "node-reader");
    new FargateProfile(this, "run-managers", {
      cluster,
      role: "run-managers",
      selectors: [{ namespace: `${PIPELINE_NAMESPACE_PREFIX}*`, labels: { [LABEL.role]: ROLE.runManager } }],
    });
    if (cluster.logging) new FargateLogging(this, "fargate-logging", { cluster, logGroup: cluster.logging.logGroup });
    // The Karpenter controller must not run on nodes it manages.
    new FargateProfile(this, "karpenter", {
      cluster,
      role: "karpenter",
      selectors: [{ namespace: cluster.karpenter.namespace, labels: { "app.kubernetes.io/name": "karpenter" } }],
    });
  }
}

/**
 * One pipeline's part of the platform app (`generated/<cluster>/platform/`): its Namespace, which
 * must exist before the pipeline's app syncs into it, and its run manager's node-reader binding.
 */
export class PipelinePlatformChart extends Chart {
  constructor(scope: Construct, id: string, props: { readonly pipeline: string }) {
    super(scope, id, { disableResourceNameHashes: true });
    const p = props.pipeline;
    new RestrictedNamespace(this, pipelineNamespace(p), { name: pipelineNamespace(p), pipeline: p });
    new RunManagerNodeReaderBinding(this, "node-reader", { pipeline: p });
  }
}
