/**
 * Will it schedule, and does it fit: every step against the instance types its NodePool allows
 * (in the cluster's price snapshot), every run manager against Fargate's sizes, and every run's
 * simulated peak against the pool limits. Errors name the step and the largest instance the
 * pool allows.
 */
import type { Plan } from "../contract/plan-format.ts";
import type { PriceData } from "../cost/data.ts";
import { clusterCosts, clusterPools } from "../cost/estimate.ts";
import { fitting, largest, type Pool } from "../cost/pools.ts";
import { demands, UnschedulableError } from "../cost/simulate.ts";
import { firingHours } from "../model/cron.ts";
import { fieldPath, problem, type Problem } from "../contract/problems.ts";
import type { RenderedObject } from "../render/render.ts";
import { PLATFORM_FILE } from "../model/files.ts";
import { byKey } from "../contract/order.ts";

const MiB = 2 ** 20;
const fmt = (r: { cpuMillis: number; memoryBytes: number }) =>
  `${r.cpuMillis}m CPU, ${Math.round(r.memoryBytes / MiB)}Mi memory`;

/**
 * What the shared-limit check needs of one pipeline in one cluster: when it can start and what
 * one run of it peaks at per pool. An incremental synth keeps these for the pipelines it did not
 * render (generated/.dagops-cache.json) and passes them back as `known`.
 */
export interface CapacityFacts {
  readonly cluster: string;
  readonly pipeline: string;
  readonly schedule: string | null;
  readonly peak: Readonly<Record<string, { readonly cpuMillis: number; readonly memoryBytes: number }>>;
}

export function capacityProblems(
  objects: readonly RenderedObject[],
  pricesByCluster: ReadonlyMap<string, PriceData>,
  clusterOrder: readonly string[],
  known: readonly CapacityFacts[] = [],
): Problem[] {
  return capacity(objects, pricesByCluster, clusterOrder, known).problems;
}

/**
 * `shared: false` leaves out the shared-limit check (POOL_LIMIT_SHARED), which needs every
 * pipeline of a cluster: a synth checks its pipelines in batches, then the shared limits once,
 * from the objects of the platform and the facts of every batch (`known`).
 */
export function capacity(
  objects: readonly RenderedObject[],
  pricesByCluster: ReadonlyMap<string, PriceData>,
  clusterOrder: readonly string[],
  known: readonly CapacityFacts[] = [],
  options: { shared?: boolean } = {},
): { problems: Problem[]; facts: CapacityFacts[] } {
  const problems: Problem[] = [];
  const facts: CapacityFacts[] = [];
  const clusters = [...new Set(objects.map((o) => o.cluster))];
  for (const cluster of clusters) {
    const data = pricesByCluster.get(cluster);
    if (!data) continue;
    const mine = objects.filter((o) => o.cluster === cluster);
    const { pools } = clusterPools(
      mine.map((o) => o.manifest as never),
      data,
    );
    let fits = true;
    for (const o of mine) {
      if (!o.plan) continue;
      const before = problems.length;
      problems.push(...stepProblems(o.plan, pools, o.source));
      if (problems.length > before) fits = false;
    }
    if (!fits) continue; // the simulation needs every step to fit somewhere
    let costs;
    try {
      costs = clusterCosts(
        {
          cluster,
          manifests: mine.map((o) => o.manifest as never),
          plans: new Map(
            mine
              .filter((o) => o.plan)
              .map((o) => [(o.manifest as { metadata: { name: string } }).metadata.name, o.plan!]),
          ),
        },
        data,
      );
    } catch (err) {
      if (!(err instanceof UnschedulableError)) throw err;
      problems.push(
        problem(
          "FARGATE_TOO_LARGE",
          PLATFORM_FILE,
          `clusters[${clusterOrder.indexOf(cluster)}].runManager`,
          err.message,
        ),
      );
      continue;
    }
    // One run's peak must fit the pool limits, or the run stalls at the limit.
    const limitsPath = `clusters[${clusterOrder.indexOf(cluster)}].karpenter.pools.limits`;
    for (const c of costs) {
      for (const [pool, peak] of Object.entries(c.run.peakCapacity)) {
        const limits = pools.get(pool)?.limits ?? {};
        const over =
          (limits.cpuMillis !== undefined && peak.cpuMillis > limits.cpuMillis) ||
          (limits.memoryBytes !== undefined && peak.memoryBytes > limits.memoryBytes);
        if (over) {
          problems.push(
            problem(
              "POOL_LIMIT",
              PLATFORM_FILE,
              limitsPath,
              `cluster ${cluster}: one run of ${c.pipeline} peaks at nodes with ${fmt(peak)} on ${pool}, over its limits (${fmtLimits(limits)}); the run would wait at the limit. Raise karpenter.pools.limits for ${cluster} in platform.config.ts, or lower the pipeline's maxParallel`,
            ),
          );
        }
      }
    }
    const mineFacts = costs.map(
      (c): CapacityFacts => ({ cluster, pipeline: c.pipeline, schedule: c.schedule ?? null, peak: c.run.peakCapacity }),
    );
    facts.push(...mineFacts);
    if (options.shared === false) continue;
    problems.push(
      ...sharedLimitProblems(
        cluster,
        clusterOrder.indexOf(cluster),
        [...mineFacts, ...known.filter((k) => k.cluster === cluster)],
        poolLimits(pools),
      ),
    );
  }
  // Clusters with the same pools report the same problem once.
  const seen = new Set<string>();
  return {
    problems: problems.filter((p) => {
      const key = JSON.stringify(p);
      return !seen.has(key) && seen.add(key);
    }),
    facts,
  };
}

/** What the shared-limit check needs of a NodePool: its limits. */
export type PoolLimits = Pool["limits"];

/** Each pool's limits, by pool name. */
export function poolLimits(pools: ReadonlyMap<string, Pool>): Record<string, PoolLimits> {
  return Object.fromEntries([...pools].sort(byKey).map(([name, p]) => [name, { ...p.limits }]));
}

/**
 * Pipelines that can start in the same hour share the pool limits: a warning for every hour in
 * which the peaks of several together are over them (in pipeline name order). Pure, so that a
 * synth that rendered nothing checks it from the facts its stamps keep.
 */
export function sharedLimitProblems(
  cluster: string,
  index: number,
  facts: readonly CapacityFacts[],
  pools: Readonly<Record<string, PoolLimits>>,
): Problem[] {
  const problems: Problem[] = [];
  const limitsPath = `clusters[${index}].karpenter.pools.limits`;
  const all = [...facts].sort((a, b) => (a.pipeline < b.pipeline ? -1 : a.pipeline > b.pipeline ? 1 : 0));
  const byHour = new Map<string, { pipelines: string[]; cpuMillis: number; memoryBytes: number }>();
  for (const c of all) {
    if (!c.schedule) continue;
    for (const hour of firingHours(c.schedule)) {
      for (const [pool, peak] of Object.entries(c.peak)) {
        const key = `${pool}|${hour}`;
        let sum = byHour.get(key);
        if (!sum) byHour.set(key, (sum = { pipelines: [], cpuMillis: 0, memoryBytes: 0 }));
        // Added to in place: thousands of pipelines may start in the same hour.
        sum.pipelines.push(c.pipeline);
        sum.cpuMillis += peak.cpuMillis;
        sum.memoryBytes += peak.memoryBytes;
      }
    }
  }
  const warned = new Set<string>();
  for (const [key, sum] of [...byHour].sort()) {
    const [pool, hour] = key.split("|") as [string, string];
    const limits = pools[pool] ?? {};
    const over =
      (limits.cpuMillis !== undefined && sum.cpuMillis > limits.cpuMillis) ||
      (limits.memoryBytes !== undefined && sum.memoryBytes > limits.memoryBytes);
    const id = `${pool}|${sum.pipelines.join(",")}`;
    if (over && sum.pipelines.length > 1 && !warned.has(id)) {
      warned.add(id);
      problems.push(
        problem(
          "POOL_LIMIT_SHARED",
          PLATFORM_FILE,
          limitsPath,
          `cluster ${cluster}: ${sum.pipelines.join(", ")} can all start in hour ${hour} (schedule hours, each in its own time zone) and together peak at ${fmt(sum)} on ${pool}, over its limits (${fmtLimits(limits)}); runs would queue behind each other`,
          "warning",
        ),
      );
    }
  }
  return problems;
}

function fmtLimits(l: Pool["limits"]): string {
  return [
    l.cpuMillis !== undefined ? `${l.cpuMillis / 1000} CPU` : undefined,
    l.memoryBytes !== undefined ? `${Math.round(l.memoryBytes / 2 ** 30)}Gi memory` : undefined,
  ]
    .filter(Boolean)
    .join(", ");
}

function stepProblems(plan: Plan, pools: ReadonlyMap<string, Pool>, file: string): Problem[] {
  const problems: Problem[] = [];
  demands(plan).forEach((d, i) => {
    const step = plan.steps[i]!;
    const at = fieldPath(["steps", i, "resources", "requests"]);
    const check = (poolName: string, what: string) => {
      const pool = pools.get(poolName);
      if (!pool) return; // NO_NODEPOOL reports a missing pool
      const big = largest(pool.types);
      if (!big) {
        problems.push(
          problem(
            "NO_INSTANCE_FITS",
            file,
            at,
            `step ${d.name}: NodePool ${pool.name} allows no instance type of the price snapshot at all; check its requirements (categories, generation, architectures) in platform.config.ts`,
          ),
        );
        return;
      }
      // One step over the pool's limits: the step is where the fix goes, not the platform.
      const over =
        (pool.limits.cpuMillis !== undefined && d.request.cpuMillis > pool.limits.cpuMillis) ||
        (pool.limits.memoryBytes !== undefined && d.request.memoryBytes > pool.limits.memoryBytes);
      if (over) {
        problems.push(
          problem(
            "POOL_LIMIT",
            file,
            at,
            `step ${d.name} alone requests ${fmt(d.request)}${what}, over the limits of NodePool ${pool.name} (${fmtLimits(pool.limits)}); it could never start. Lower its requests, or raise karpenter.pools.limits in platform.config.ts`,
          ),
        );
        return;
      }
      const { types: fit, families: fitFamilies } = fitting(pool, d.request, 1);
      if (fit.length === 0) {
        problems.push(
          problem(
            "NO_INSTANCE_FITS",
            file,
            at,
            `step ${d.name} requests ${fmt(d.request)}${what}; no instance type NodePool ${pool.name} allows can hold it. The largest is ${big.name} (${big.allocatable.cpuMillis}m CPU, ${big.allocatable.memoryMiB}Mi memory allocatable). Lower the requests, or widen the pool (categories, generation) in platform.config.ts`,
          ),
        );
      } else if (fitFamilies < pool.minFamilies) {
        problems.push(
          problem(
            "TOO_FEW_FAMILIES",
            file,
            at,
            `step ${d.name} requests ${fmt(d.request)}${what}; only ${fitFamilies} instance families of NodePool ${pool.name} can hold it (${[...new Set(fit.map((t) => t.family))].sort().join(", ")}), and the pool requires ${pool.minFamilies} (minValues), so Karpenter would launch nothing. Lower the requests, or lower karpenter.pools.minFamilies`,
          ),
        );
      }
    };
    const before = problems.length;
    check(d.pool, "");
    if (problems.length === before && step.onDemandAfterInterruptions !== null && plan.onDemandNodePool !== d.pool)
      check(plan.onDemandNodePool, ` (on its on-demand fallback pool)`);
  });
  return problems;
}
