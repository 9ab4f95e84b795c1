/**
 * The review's cost section: per changed pipeline and cluster, what one run and one month cost
 * before and after the change, from the generated objects on each side and the price snapshot.
 */
import type { PriceData } from "../cost/data.ts";
import { clusterCosts, type PipelineCost } from "../cost/estimate.ts";
import { UnschedulableError } from "../cost/simulate.ts";
import { readManifest } from "./report.ts";
import { byKey, getOrSet } from "../contract/order.ts";

type Tree = ReadonlyMap<string, string>;

export interface CostSide {
  readonly perRun: number;
  readonly perMonth: number | null;
  readonly savingPct: number;
  readonly estimated: string;
}

export interface CostChange {
  readonly pipeline: string;
  readonly clusters: readonly string[];
  readonly before?: CostSide;
  readonly after?: CostSide;
  /** Why a side could not be priced (a step that fits no node). */
  readonly error?: string;
}

export interface CostSection {
  readonly snapshot: string;
  readonly changes: readonly CostChange[];
}

function side(tree: Tree, cluster: string, pipeline: string, data: PriceData): CostSide | undefined {
  const files = [...tree.keys()].filter(
    (p) => p.startsWith(`${cluster}/platform/nodepool-`) || p.startsWith(`${cluster}/pipelines/${pipeline}/`),
  );
  if (!files.some((p) => p.startsWith(`${cluster}/pipelines/${pipeline}/`))) return undefined;
  const manifests = files.map((p) => readManifest(tree.get(p)!).obj).filter((m) => m !== undefined);
  const [c] = clusterCosts({ cluster, manifests }, data) as PipelineCost[];
  return (
    c && { perRun: c.run.total.pools, perMonth: c.monthlyUsd, savingPct: c.run.savingPct, estimated: c.run.estimated }
  );
}

/** `targets`: pipeline → clusters whose cost may have changed. */
export function costSection(
  base: Tree,
  head: Tree,
  targets: ReadonlyMap<string, readonly string[]>,
  prices: (cluster: string) => PriceData | undefined,
): CostSection | undefined {
  const byChange = new Map<string, { change: Omit<CostChange, "clusters">; clusters: string[] }>();
  const snapshots = new Set<string>();
  for (const [pipeline, clusters] of [...targets].sort(byKey)) {
    for (const cluster of [...clusters].sort()) {
      const data = prices(cluster);
      if (!data) continue;
      snapshots.add(`${data.region} ${data.snapshot}`);
      let change: Omit<CostChange, "clusters">;
      try {
        const before = side(base, cluster, pipeline, data);
        const after = side(head, cluster, pipeline, data);
        change = { pipeline, ...(before ? { before } : {}), ...(after ? { after } : {}) };
      } catch (err) {
        // A step that fits nowhere, or a hand-altered plan that cannot be read: say so, do not crash.
        change = {
          pipeline,
          error:
            err instanceof UnschedulableError
              ? err.message
              : `cannot be priced: ${(err as Error).message.split("\n")[0]}`,
        };
      }
      const key = JSON.stringify(change);
      getOrSet(byChange, key, () => ({ change, clusters: [] })).clusters.push(cluster);
    }
  }
  if (byChange.size === 0) return undefined;
  return {
    snapshot: [...snapshots].join(", "),
    changes: [...byChange.values()].map(({ change, clusters }) => ({ ...change, clusters })),
  };
}
