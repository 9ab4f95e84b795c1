/**
 * Cost per pipeline and cluster, computed from a cluster's generated objects (NodePools, plan
 * ConfigMaps, CronJobs), so `npm run cost`, the checks and the pull-request review all price
 * exactly what would be deployed.
 */
import { PLAN_KEY } from "../contract/names.ts";
import type { Plan } from "../contract/plan-format.ts";
import { runsPerMonth } from "../model/cron.ts";
import { memoByText } from "../model/memo.ts";
import { cpuMillis, memoryBytes } from "../model/quantity.ts";
import { parse } from "yaml";
import type { PriceData } from "./data.ts";
import { poolOf, type NodePoolManifest, type Pool } from "./pools.ts";
import { runCost, type RunCost } from "./simulate.ts";
import { getOrSet } from "../contract/order.ts";

/**
 * Dollars as every report prints them, by what the amount measures, never by its size: a run (or
 * an hour) costs cents, so four decimals; a month, two decimals with thousands separators.
 */
export function formatUsd(n: number, per: "run" | "month"): string {
  return per === "run"
    ? `$${n.toFixed(4)}`
    : `$${n.toLocaleString("en-US", { minimumFractionDigits: 2, maximumFractionDigits: 2 })}`;
}

export interface PipelineCost {
  readonly pipeline: string;
  readonly cluster: string;
  readonly schedule?: string;
  readonly run: RunCost;
  /** Null when the pipeline has no schedule (it runs by hand). */
  readonly runsPerMonth: number | null;
  readonly monthlyUsd: number | null;
  /**
   * Spot pools the run uses whose allowed types include some without Spot Advisor data: how many,
   * and their families. Those types are priced at on-demand on Spot (see `spotPrice`).
   */
  readonly spotDataMissing: readonly {
    readonly pool: string;
    readonly types: number;
    readonly of: number;
    readonly families: readonly string[];
  }[];
}

type Manifest = {
  kind?: string;
  metadata?: { name?: string; labels?: Record<string, string> };
  data?: Record<string, string>;
  spec?: any;
};

export interface ClusterObjects {
  readonly cluster: string;
  readonly manifests: readonly Manifest[];
  /** Plans already parsed (render keeps them), by plan ConfigMap name; others are parsed from the ConfigMap. */
  readonly plans?: ReadonlyMap<string, Plan>;
}

/** Pools by price snapshot and NodePools: a synth checks its pipelines in batches against the same few. */
const poolsSeen = new WeakMap<
  PriceData,
  Map<string, { pools: ReadonlyMap<string, Pool>; onDemand: ReadonlyMap<string, Pool> }>
>();

/** The pools of a cluster's NodePools, with the instance types of the price snapshot each allows. Shared: do not change them. */
export function clusterPools(
  manifests: readonly Manifest[],
  data: PriceData,
): { pools: ReadonlyMap<string, Pool>; onDemand: ReadonlyMap<string, Pool> } {
  const nodePools = manifests.filter((m) => m.kind === "NodePool") as unknown as NodePoolManifest[];
  // The same NodePool objects (a synth checks each definition against its platform's): no need to read them again.
  const same = nodePools.length ? byObjects.get(nodePools[0]!) : undefined;
  if (
    same &&
    same.list.length === nodePools.length &&
    same.list.every((m, i) => m === nodePools[i]) &&
    same.data === data
  )
    return same.found;
  const key = JSON.stringify(nodePools);
  const seen = getOrSet(poolsSeen, data, () => new Map());
  let found = seen.get(key);
  if (!found) {
    found = {
      pools: new Map(nodePools.map((m) => [m.metadata.name, poolOf(m, data)])),
      onDemand: new Map(nodePools.map((m) => [m.metadata.name, poolOf(m, data, true)])),
    };
    seen.set(key, found);
  }
  if (nodePools.length) byObjects.set(nodePools[0]!, { list: nodePools, data, found });
  return found;
}

const byObjects = new WeakMap<
  object,
  { list: readonly NodePoolManifest[]; data: PriceData; found: ReturnType<typeof clusterPools> }
>();

export function planOfManifest(m: Manifest, plans?: ReadonlyMap<string, Plan>): Plan | undefined {
  if (m.kind !== "ConfigMap" || m.data?.[PLAN_KEY] === undefined) return undefined;
  return plans?.get(m.metadata?.name ?? "") ?? (parsePlan(m.data[PLAN_KEY]) as Plan);
}

/**
 * A plan's text, parsed (YAML 1.1, as written), by text: a review reads the same plan for its
 * steps and for its cost, on both sides when it did not change. Throws what the parser throws.
 */
export const parsePlan = memoByText(1024, (text): unknown => parse(text, { version: "1.1" }));

/** Runs priced before, by plan and by what the simulation reads of the pools: clusters that share both share the result. */
const priced = new WeakMap<Plan, Map<string, RunCost>>();

function poolSignature(pools: ReadonlyMap<string, Pool>, data: PriceData): string {
  let known = signatures.get(pools);
  if (known === undefined) signatures.set(pools, (known = signatureOf(pools, data)));
  return known;
}

/** Pools are shared and never changed (clusterPools), and each is of one price snapshot. */
const signatures = new WeakMap<ReadonlyMap<string, Pool>, string>();

function signatureOf(pools: ReadonlyMap<string, Pool>, data: PriceData): string {
  return JSON.stringify([
    data.region,
    data.snapshot,
    [...pools.values()].map((p) => [
      p.name,
      p.capacity,
      p.minFamilies,
      p.consolidateAfterSeconds,
      p.types.map((t) => t.name),
    ]),
  ]);
}

export function clusterCosts(objects: ClusterObjects, data: PriceData): PipelineCost[] {
  const { pools, onDemand } = clusterPools(objects.manifests, data);
  const signature = poolSignature(pools, data);
  const out: PipelineCost[] = [];
  const cronJobs = new Map(
    objects.manifests.filter((c) => c.kind === "CronJob").map((c) => [c.metadata?.labels?.["dagops.dev/pipeline"], c]),
  );
  for (const m of objects.manifests) {
    const plan = planOfManifest(m, objects.plans);
    if (!plan) continue;
    const cron = cronJobs.get(plan.pipeline);
    const container = cron?.spec?.jobTemplate?.spec?.template?.spec?.containers?.[0];
    const requests = (container?.resources?.requests ?? {}) as Record<string, string>;
    const runManager = {
      cpuMillis: cpuMillis(String(requests.cpu ?? "250m")) ?? 250,
      memoryBytes: memoryBytes(String(requests.memory ?? "256Mi")) ?? 256 * 2 ** 20,
    };
    const cache = getOrSet(priced, plan, () => new Map());
    const key = `${signature}|${runManager.cpuMillis}|${runManager.memoryBytes}`;
    const run = cache.get(key) ?? runCost(plan, pools, onDemand, runManager, data);
    cache.set(key, run);
    const scheduled = cron && !cron.spec?.suspend ? (cron.spec.schedule as string) : undefined;
    const perMonth = scheduled ? runsPerMonth(scheduled) : null;
    const spotDataMissing = Object.keys(run.peakCapacity)
      .map((name) => pools.get(name)!)
      .filter((p) => p.capacity === "spot")
      .map((p) => {
        const missing = p.types.filter((t) => t.spot === null);
        return {
          pool: p.name,
          types: missing.length,
          of: p.types.length,
          families: [...new Set(missing.map((t) => t.family))].sort(),
        };
      })
      .filter((m) => m.types > 0);
    out.push({
      pipeline: plan.pipeline,
      cluster: objects.cluster,
      ...(scheduled ? { schedule: scheduled } : {}),
      run,
      runsPerMonth: perMonth,
      monthlyUsd: perMonth === null ? null : perMonth * run.total.pools,
      spotDataMissing,
    });
  }
  return out.sort((a, b) => (a.pipeline < b.pipeline ? -1 : a.pipeline > b.pipeline ? 1 : 0));
}
