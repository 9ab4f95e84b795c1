// Everything the e2e tier changes in, or adds beside, the generated objects it applies: one
// place, listed in the tier's README. Everything else is applied byte for byte as generated.
import { poolOf, spotPrice, type NodePoolManifest } from "../../../src/cost/pools.ts";
import { loadPriceData, type InstanceType } from "../../../src/cost/data.ts";
import type { KubeObject } from "./api.ts";

/** The zones every instance-type offering is in (the snapshot has no per-zone data). */
export const ZONES = ["us-east-1a", "us-east-1b", "us-east-1c"];

/**
 * 1. A NodePool's `nodeClassRef` points at a KWOKNodeClass of the same name instead of the
 *    EC2NodeClass (Karpenter's KWOK provider launches only from its own class). Nothing else in
 *    the NodePool changes: requirements, minValues, taints, limits, disruption and weight are
 *    Karpenter's to judge, as in EKS.
 */
export function forKwok(object: KubeObject): KubeObject {
  if (object.kind !== "NodePool") return object;
  const copy = structuredClone(object);
  // 1b. Karpenter counts minValues over an instance type's own requirements, and the KWOK
  //     provider's types carry their family as karpenter.kwok.sh/instance-family (the same value:
  //     "c5" for c5.large), so a requirement on the AWS family key is moved to that key.
  for (const r of copy.spec.template.spec.requirements as { key: string }[]) {
    if (r.key === "karpenter.k8s.aws/instance-family") r.key = "karpenter.kwok.sh/instance-family";
  }
  copy.spec.template.spec.nodeClassRef = {
    group: "karpenter.kwok.sh",
    kind: "KWOKNodeClass",
    name: object.spec.template.spec.nodeClassRef.name,
  };
  return copy;
}

/** 2. Beside each EC2NodeClass, a KWOKNodeClass of the same name (marked Ready, as the AWS provider marks its class once subnets and AMIs resolve). */
export function kwokNodeClass(name: string): KubeObject {
  return { apiVersion: "karpenter.kwok.sh/v1alpha1", kind: "KWOKNodeClass", metadata: { name }, spec: {} };
}

interface Offering {
  Price: number;
  Available: boolean;
  Requirements: { key: string; operator: "In"; values: string[] }[];
}

/**
 * 3. The instance types Karpenter's KWOK provider offers: every type the generated NodePools allow
 *    (chosen by the cost model's own reading of their requirements, src/cost/pools.ts), from the
 *    price snapshot. Each has the snapshot's vCPU, memory, max pods and arch; Spot and on-demand
 *    offerings in every zone at the snapshot's prices; and the karpenter.k8s.aws/* labels our
 *    requirements select on, as offering requirements (the KWOK provider puts single-valued
 *    offering requirements on the node as labels, as the AWS provider does). Capacity is set so
 *    that after the KWOK provider's own overhead (100m CPU, 10Mi) a node's allocatable is the
 *    snapshot's EKS allocatable.
 */
export function instanceTypes(pools: readonly NodePoolManifest[], pricesFile: string): unknown[] {
  const data = loadPriceData(pricesFile);
  const chosen = new Map<string, InstanceType>();
  for (const pool of pools) for (const t of poolOf(pool, data).types) chosen.set(t.name, t);
  return [...chosen.values()]
    .sort((a, b) => (a.name < b.name ? -1 : 1))
    .map((t) => {
      const labels: Record<string, string> = {
        "karpenter.k8s.aws/instance-category": t.category,
        "karpenter.k8s.aws/instance-generation": String(t.generation),
        "karpenter.k8s.aws/instance-family": t.family,
        "karpenter.k8s.aws/instance-size": t.name.split(".")[1] ?? "",
        "karpenter.k8s.aws/instance-cpu": String(t.vcpu),
        "karpenter.k8s.aws/instance-memory": String(t.memoryMiB),
      };
      const offering = (capacity: string, zone: string, price: number): Offering => ({
        Price: Number(price.toFixed(6)),
        Available: true,
        Requirements: [
          { key: "karpenter.sh/capacity-type", operator: "In", values: [capacity] },
          { key: "topology.kubernetes.io/zone", operator: "In", values: [zone] },
          ...Object.entries(labels).map(([key, value]) => ({ key, operator: "In" as const, values: [value] })),
        ],
      });
      return {
        name: t.name,
        architecture: t.arch,
        operatingSystems: ["linux"],
        resources: {
          cpu: `${t.allocatable.cpuMillis + 100}m`,
          memory: `${t.allocatable.memoryMiB + 10}Mi`,
          pods: String(t.maxPods),
        },
        offerings: ZONES.flatMap((zone) => [
          ...(t.spot ? [offering("spot", zone, spotPrice(t))] : []),
          offering("on-demand", zone, t.onDemandUsdPerHour),
        ]),
      };
    });
}
