/**
 * What a run of a pipeline can look like, without a cluster: its waves, its critical path, and
 * the most CPU and memory it can request at once.
 *
 * Two steps can run at the same time only if neither depends on the other, directly or not (the
 * run manager starts a step after all its dependencies succeeded). So the largest concurrent
 * request is the heaviest set of at most `maxParallel` mutually independent steps, whatever the
 * steps' durations. It is found exactly by branch and bound; on a graph too large for the search
 * budget the answer is the sum of the `maxParallel` largest requests, marked as a bound.
 */
import { criticalPath, waves } from "../contract/graph.ts";
import { ASSUMED_STEP_SECONDS } from "./pipeline.ts";
import { cpuMillis, memoryBytes } from "./quantity.ts";
import type { ResolvedPipeline } from "./resolve.ts";

export interface Peak {
  /** Millicores or bytes. */
  readonly amount: number;
  /** The steps that request it together. */
  readonly steps: readonly string[];
  /** False when the search budget ran out and `amount` is an upper bound, not an exact peak. */
  readonly exact: boolean;
}

export interface ExecutionPlan {
  readonly pipeline: string;
  readonly maxParallel: number;
  readonly waves: readonly (readonly string[])[];
  /** Longest chain by step timeouts: the longest a run can take without retries. */
  readonly criticalPath: { readonly steps: readonly string[]; readonly seconds: number };
  /**
   * Longest chain by the steps' `estimate`s (a step without one counts ASSUMED_STEP_SECONDS):
   * a typical run, the length `npm run cost` prices (before node launches and maxParallel).
   */
  readonly typicalPath: {
    readonly steps: readonly string[];
    readonly seconds: number;
    readonly estimated: "all" | "some" | "none";
  };
  readonly peak: { readonly cpuMillis: Peak; readonly memoryBytes: Peak; readonly steps: number };
}

export function executionPlan(p: ResolvedPipeline): ExecutionPlan {
  const byName = new Map(p.steps.map((s) => [s.name, s]));
  const path = criticalPath(p.steps, (n) => byName.get(n)!.timeoutSeconds);
  const typical = criticalPath(p.steps, (n) => byName.get(n)!.estimateSeconds ?? ASSUMED_STEP_SECONDS);
  const withEstimate = p.steps.filter((s) => s.estimateSeconds !== null).length;
  const independent = independence(p.steps);
  const weigh = (f: (s: (typeof p.steps)[number]) => number) =>
    heaviestIndependentSet(
      p.steps.map((s) => ({ name: s.name, weight: f(s) })),
      independent,
      p.maxParallel,
    );
  const count = heaviestIndependentSet(
    p.steps.map((s) => ({ name: s.name, weight: 1 })),
    independent,
    p.maxParallel,
  );
  return {
    pipeline: p.name,
    maxParallel: p.maxParallel,
    waves: waves(p.steps),
    criticalPath: { steps: path.path, seconds: path.total },
    typicalPath: {
      steps: typical.path,
      seconds: typical.total,
      estimated: withEstimate === p.steps.length ? "all" : withEstimate > 0 ? "some" : "none",
    },
    peak: {
      cpuMillis: weigh((s) => cpuMillis(s.resources.requests.cpu)!),
      memoryBytes: weigh((s) => memoryBytes(s.resources.requests.memory)!),
      steps: count.amount,
    },
  };
}

/** independent(a, b): neither step is an ancestor of the other. */
function independence(
  steps: readonly { name: string; dependsOn: readonly string[] }[],
): (a: string, b: string) => boolean {
  const deps = new Map(steps.map((s) => [s.name, s.dependsOn]));
  const ancestors = new Map<string, Set<string>>();
  const of = (n: string): Set<string> => {
    let set = ancestors.get(n);
    if (!set) {
      set = new Set<string>();
      for (const d of deps.get(n) ?? []) {
        set.add(d);
        for (const a of of(d)) set.add(a);
      }
      ancestors.set(n, set);
    }
    return set;
  };
  return (a, b) => a !== b && !of(a).has(b) && !of(b).has(a);
}

const SEARCH_BUDGET = 200_000;

function heaviestIndependentSet(
  items: readonly { name: string; weight: number }[],
  independent: (a: string, b: string) => boolean,
  limit: number,
): Peak {
  // Heaviest first (ties by plan order), so the first answers are good and the bound prunes early.
  const sorted = items.map((it, i) => ({ ...it, i })).sort((a, b) => b.weight - a.weight || a.i - b.i);
  const upperBound = sorted.slice(0, limit).reduce((sum, it) => sum + it.weight, 0);
  let best: { amount: number; steps: string[] } = { amount: 0, steps: [] };
  let visited = 0;
  const chosen: (typeof sorted)[number][] = [];
  const search = (from: number, amount: number): void => {
    if (++visited > SEARCH_BUDGET) return;
    if (amount > best.amount) best = { amount, steps: chosen.map((c) => c.name) };
    if (chosen.length === limit || best.amount === upperBound) return;
    // Bound: even the heaviest remaining items cannot beat the best set found.
    let optimistic = amount;
    for (let j = from, taken = chosen.length; j < sorted.length && taken < limit; j++, taken++)
      optimistic += sorted[j]!.weight;
    if (optimistic <= best.amount) return;
    for (let j = from; j < sorted.length; j++) {
      const candidate = sorted[j]!;
      if (!chosen.every((c) => independent(c.name, candidate.name))) continue;
      chosen.push(candidate);
      search(j + 1, amount + candidate.weight);
      chosen.pop();
    }
  };
  search(0, 0);
  if (visited > SEARCH_BUDGET)
    return { amount: upperBound, steps: sorted.slice(0, limit).map((s) => s.name), exact: false };
  const order = new Map(items.map((it, i) => [it.name, i]));
  return { amount: best.amount, steps: best.steps.sort((a, b) => order.get(a)! - order.get(b)!), exact: true };
}
