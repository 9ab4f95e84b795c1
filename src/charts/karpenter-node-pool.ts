import { Construct } from "constructs";
import { KubeObject } from "./kube-object.ts";
import type { INodePool } from "@kubernetes-models/karpenter/karpenter.sh/v1/NodePool";
import { MAX_TIMEOUT_SECONDS } from "../model/pipeline.ts";
import type { ResolvedCluster } from "../model/platform.ts";
import { LABEL, MANAGED_BY, STEP_TAINT } from "../contract/labels.ts";
import { NODE_CLASS, STEP_POOL } from "../contract/names.ts";

export interface KarpenterNodePoolProps {
  readonly cluster: ResolvedCluster;
  readonly capacity: keyof typeof STEP_POOL;
}

/**
 * A NodePool for step pods. The `spot` pool lists Spot first and on-demand second, so Karpenter
 * buys Spot (price-capacity-optimized across many instance types) and falls back to on-demand
 * only when Spot is short; the `on-demand` pool never buys Spot. Both carry the step taint, so
 * only step pods land on them.
 * https://karpenter.sh/docs/concepts/nodepools/
 */
export class KarpenterNodePool extends Construct {
  constructor(scope: Construct, id: string, props: KarpenterNodePoolProps) {
    super(scope, id);
    const pools = props.cluster.karpenter.pools;
    const name = STEP_POOL[props.capacity];
    const manifest: INodePool = {
      apiVersion: "karpenter.sh/v1",
      kind: "NodePool",
      metadata: { name, labels: { [LABEL.managedBy]: MANAGED_BY } },
      spec: {
        template: {
          metadata: { labels: { [LABEL.managedBy]: MANAGED_BY, [LABEL.pool]: name } },
          spec: {
            nodeClassRef: { group: "karpenter.k8s.aws", kind: "EC2NodeClass", name: NODE_CLASS },
            taints: [{ ...STEP_TAINT }],
            requirements: [
              {
                key: LABEL.capacityType,
                operator: "In",
                values: props.capacity === "spot" ? ["spot", "on-demand"] : ["on-demand"],
              },
              { key: "kubernetes.io/arch", operator: "In", values: [...pools.architectures] },
              { key: "kubernetes.io/os", operator: "In", values: ["linux"] },
              { key: "karpenter.k8s.aws/instance-category", operator: "In", values: [...pools.categories] },
              // Gt is exclusive: "4" admits generation 5 and newer.
              {
                key: "karpenter.k8s.aws/instance-generation",
                operator: "Gt",
                values: [String(pools.minGeneration - 1)],
              },
              // Spot best practice: stay flexible across families, so one exhausted pool never blocks a run.
              { key: "karpenter.k8s.aws/instance-family", operator: "Exists", minValues: pools.minFamilies },
              ...(pools.excludedSizes.length
                ? [
                    {
                      key: "karpenter.k8s.aws/instance-size",
                      operator: "NotIn" as const,
                      values: [...pools.excludedSizes],
                    },
                  ]
                : []),
            ],
            // Nodes are replaced monthly to pick up patched AMIs.
            expireAfter: pools.expireAfter,
            // The longest a do-not-disrupt step may hold a drifted or expired node: the step timeout cap.
            terminationGracePeriod: `${MAX_TIMEOUT_SECONDS / 3600}h`,
          },
        },
        disruption: {
          consolidationPolicy: "WhenEmptyOrUnderutilized",
          consolidateAfter: pools.consolidateAfter,
          budgets: [{ nodes: pools.disruptionBudget }],
        },
        limits: { cpu: pools.limits.cpu, memory: pools.limits.memory },
        // Used only for pods that could land on either pool; steps select their pool explicitly.
        weight: props.capacity === "spot" ? 50 : 10,
      },
    };
    new KubeObject(this, "nodepool", manifest);
  }
}
