/**
 * A Karpenter NodePool as the cost model sees it: which instance types of the price data its
 * requirements allow, at which capacity type, and what a step pod can fit on. Read from the
 * generated NodePool object, so the checks, `npm run cost` and the review all judge exactly what
 * is deployed.
 */
import { parseDuration } from "../contract/duration.ts";
import { parseQuantity } from "../model/quantity.ts";
import type { InstanceType, PriceData } from "./data.ts";

interface Requirement {
  readonly key: string;
  readonly operator: string;
  readonly values?: readonly string[];
  readonly minValues?: number;
}

export interface NodePoolManifest {
  readonly metadata: { readonly name: string };
  readonly spec: {
    readonly template: { readonly spec: { readonly requirements: readonly Requirement[] } };
    readonly disruption?: { readonly consolidateAfter?: string };
    readonly limits?: { readonly cpu?: string | number; readonly memory?: string | number };
  };
}

export interface Pool {
  readonly name: string;
  /** Spot when the pool allows it (Karpenter prefers Spot), else on-demand. */
  readonly capacity: "spot" | "on-demand";
  /** Allowed types, cheapest first for the pool's capacity type. */
  readonly types: readonly InstanceType[];
  /** `karpenter.k8s.aws/instance-family` minValues: a node claim must keep this many families open. */
  readonly minFamilies: number;
  readonly consolidateAfterSeconds: number;
  readonly limits: { readonly cpuMillis?: number; readonly memoryBytes?: number };
}

/** The label values Karpenter puts on a node of this type, made once per type and capacity type (a pool's requirements are tested against every one of some 1,300 types). */
function labels(t: InstanceType, capacity: "spot" | "on-demand"): Readonly<Record<string, string>> {
  const made = labelsMade[capacity];
  let l = made.get(t);
  if (!l) made.set(t, (l = labelsOf(t, capacity)));
  return l;
}

const labelsMade = {
  spot: new WeakMap<InstanceType, Readonly<Record<string, string>>>(),
  "on-demand": new WeakMap<InstanceType, Readonly<Record<string, string>>>(),
};

function labelsOf(t: InstanceType, capacity: string): Record<string, string> {
  return {
    "karpenter.sh/capacity-type": capacity,
    "kubernetes.io/arch": t.arch,
    "kubernetes.io/os": "linux",
    "node.kubernetes.io/instance-type": t.name,
    "karpenter.k8s.aws/instance-category": t.category,
    "karpenter.k8s.aws/instance-generation": String(t.generation),
    "karpenter.k8s.aws/instance-family": t.family,
    "karpenter.k8s.aws/instance-size": t.name.split(".")[1]!,
    "karpenter.k8s.aws/instance-cpu": String(t.vcpu),
  };
}

function satisfies(value: string | undefined, r: Requirement): boolean {
  const values = r.values ?? [];
  switch (r.operator) {
    case "In":
      return value !== undefined && values.includes(value);
    case "NotIn":
      return value === undefined || !values.includes(value);
    case "Exists":
      return value !== undefined;
    case "DoesNotExist":
      return value === undefined;
    case "Gt":
      return value !== undefined && Number(value) > Number(values[0]);
    case "Lt":
      return value !== undefined && Number(value) < Number(values[0]);
    default:
      return false;
  }
}

/**
 * On-demand × (1 − the Spot Advisor saving). A type without Spot Advisor data is priced at
 * on-demand, as Karpenter itself prices Spot before its first Spot price update: never cheaper
 * than we know it to be.
 */
export function spotPrice(t: InstanceType): number {
  return t.spot === null ? t.onDemandUsdPerHour : t.onDemandUsdPerHour * (1 - t.spot.savingsPct / 100);
}

export function price(t: InstanceType, capacity: "spot" | "on-demand"): number {
  return capacity === "spot" ? spotPrice(t) : t.onDemandUsdPerHour;
}

/** The pool of a NodePool object; `onDemand` prices it as if it bought on-demand only (the baseline). */
export function poolOf(manifest: NodePoolManifest, data: PriceData, onDemand = false): Pool {
  const reqs = manifest.spec.template.spec.requirements;
  const capacityReq = reqs.find((r) => r.key === "karpenter.sh/capacity-type");
  const capacity = !onDemand && (!capacityReq || satisfies("spot", capacityReq)) ? "spot" : "on-demand";
  const types = data.instanceTypes
    .filter((t) => {
      const l = labels(t, capacity);
      return reqs.every((r) => r.key === "karpenter.sh/capacity-type" || satisfies(l[r.key], r));
    })
    .map((t) => ({ t, price: price(t, capacity) }))
    .sort((a, b) => a.price - b.price || (a.t.name < b.t.name ? -1 : 1))
    .map(({ t }) => t);
  const minFamilies = reqs.find((r) => r.key === "karpenter.k8s.aws/instance-family")?.minValues ?? 1;
  const limits = manifest.spec.limits ?? {};
  return {
    name: manifest.metadata.name,
    capacity,
    types,
    minFamilies,
    consolidateAfterSeconds: parseDuration(manifest.spec.disruption?.consolidateAfter ?? "0s") ?? 0,
    limits: {
      ...(limits.cpu !== undefined ? { cpuMillis: parseQuantity(String(limits.cpu))! * 1000 } : {}),
      ...(limits.memory !== undefined ? { memoryBytes: parseQuantity(String(limits.memory))! } : {}),
    },
  };
}

export interface Request {
  readonly cpuMillis: number;
  readonly memoryBytes: number;
}

const MiB = 2 ** 20;

/** Whether a set of pods (their summed requests, their count) fits one node of this type. */
export function fitsOn(t: InstanceType, total: Request, pods: number): boolean {
  return (
    total.cpuMillis <= t.allocatable.cpuMillis &&
    total.memoryBytes <= t.allocatable.memoryMiB * MiB &&
    pods <= t.maxPods
  );
}

/** Distinct families among types. */
export function families(types: readonly InstanceType[]): number {
  return new Set(types.map((t) => t.family)).size;
}

/** The largest allowed type by allocatable memory, then CPU: named in "fits nowhere" errors. */
const largestOf = new WeakMap<readonly InstanceType[], InstanceType | undefined>();

export function largest(types: readonly InstanceType[]): InstanceType | undefined {
  if (largestOf.has(types)) return largestOf.get(types);
  let best: InstanceType | undefined;
  for (const t of types) {
    if (
      !best ||
      t.allocatable.memoryMiB > best.allocatable.memoryMiB ||
      (t.allocatable.memoryMiB === best.allocatable.memoryMiB && t.allocatable.cpuMillis > best.allocatable.cpuMillis)
    )
      best = t;
  }
  largestOf.set(types, best);
  return best;
}

const fitCache = new WeakMap<Pool, Map<string, { types: readonly InstanceType[]; families: number }>>();

/** The pool's types that hold these pods together, cheapest first, and how many families they span (memoized: many steps ask the same). */
export function fitting(
  pool: Pool,
  total: Request,
  pods: number,
): { types: readonly InstanceType[]; families: number } {
  let cache = fitCache.get(pool);
  if (!cache) fitCache.set(pool, (cache = new Map()));
  const key = `${total.cpuMillis}/${total.memoryBytes}/${pods}`;
  let hit = cache.get(key);
  if (!hit) {
    const types = pool.types.filter((t) => fitsOn(t, total, pods));
    hit = { types, families: families(types) };
    cache.set(key, hit);
  }
  return hit;
}
