/**
 * One run of a plan, simulated the way the run manager and Karpenter behave, and priced.
 *
 * - Steps start by the run manager's own rules (src/contract/scheduler.ts: dependsOn, maxParallel)
 *   and run for their `estimate` (1 h each when a step has none).
 * - Pending step pods go first onto nodes that are already up, first fit. The rest are packed
 *   into new node claims, largest pod first. A claim keeps taking pods while some allowed
 *   instance type still fits them all (allocatable CPU and memory, max pods) and the types that
 *   fit still span the pool's `minValues` families. It launches as the cheapest of those types,
 *   priced at the pool's capacity type.
 * - A node that has been empty for the pool's `consolidateAfter` is removed.
 * - The run manager runs on Fargate for the whole run, sized by Fargate's rules.
 *
 * The same run is priced twice: on the generated pools (Spot where the pool allows it), and
 * with every pool on-demand. What it ignores: node launch and image pull time, Spot price
 * movement and interruptions, consolidation of under-used nodes (steps are do-not-disrupt),
 * the EKS cluster fee, storage and data transfer.
 */
import type { Plan } from "../contract/plan-format.ts";
import { cpuMillis, memoryBytes } from "../model/quantity.ts";
import { decide, type Attempt } from "../contract/scheduler.ts";
import type { InstanceType, PriceData } from "./data.ts";
import { fitsOn, fitting, price, type Pool, type Request } from "./pools.ts";

/** What a step is assumed to take when it has no `estimate`. */
import { ASSUMED_STEP_SECONDS } from "../model/pipeline.ts";
import { DagopsError } from "../contract/errors.ts";
import { getOrSet } from "../contract/order.ts";

const MiB = 2 ** 20;
const GiB = 2 ** 30;

export interface FargateSize {
  readonly vcpu: number;
  readonly memoryGb: number;
}

/** Fargate's size for a pod: memory + its 256 MB overhead, rounded up to the size table. Undefined: too large for Fargate. */
export function fargateSize(request: Request, fargate: PriceData["fargate"]): FargateSize | undefined {
  const vcpu = request.cpuMillis / 1000;
  const memoryGb = (request.memoryBytes + fargate.memoryOverheadMb * MiB) / GiB;
  for (const size of fargate.sizes) {
    if (size.vcpu < vcpu) continue;
    const gb = size.memoryGb.find((m) => m >= memoryGb);
    if (gb !== undefined) return { vcpu: size.vcpu, memoryGb: gb };
  }
  return undefined;
}

export function fargateCost(size: FargateSize, seconds: number, fargate: PriceData["fargate"]): number {
  const billed = Math.max(seconds, fargate.minimumBilledSeconds);
  return ((size.vcpu * fargate.usdPerVcpuHour + size.memoryGb * fargate.usdPerGbHour) * billed) / 3600;
}

export interface StepDemand {
  readonly name: string;
  readonly pool: string;
  readonly request: Request;
  readonly seconds: number;
  readonly estimated: boolean;
}

/** What each step of a plan asks for, read from its Job template. */
export function demands(plan: Plan): StepDemand[] {
  return plan.steps.map((s) => {
    const pod = s.job.spec!.template.spec!;
    const total = pod.containers.reduce(
      (sum, c) => {
        const r = (c.resources?.requests ?? {}) as Record<string, string>;
        return {
          cpuMillis: sum.cpuMillis + (cpuMillis(r.cpu ?? "0") ?? 0),
          memoryBytes: sum.memoryBytes + (memoryBytes(r.memory ?? "0") ?? 0),
        };
      },
      { cpuMillis: 0, memoryBytes: 0 },
    );
    const estimate = s.estimateSeconds;
    return {
      name: s.name,
      pool: pod.nodeSelector?.["karpenter.sh/nodepool"] ?? "",
      request: total,
      seconds: estimate ?? ASSUMED_STEP_SECONDS,
      estimated: estimate != null,
    };
  });
}

/** Prewarm placeholders, as pods: they hold capacity from the start until steps preempt them. */
function placeholderDemands(plan: Plan): StepDemand[] {
  return (plan.placeholders ?? []).map((job, i) => {
    const pod = job.spec!.template.spec!;
    const r = (pod.containers[0]!.resources?.requests ?? {}) as Record<string, string>;
    return {
      name: `~placeholder-${i}`,
      pool: pod.nodeSelector?.["karpenter.sh/nodepool"] ?? "",
      request: { cpuMillis: cpuMillis(r.cpu ?? "0") ?? 0, memoryBytes: memoryBytes(r.memory ?? "0") ?? 0 },
      seconds: 0,
      estimated: true,
    };
  });
}

const isPlaceholder = (name: string) => name.startsWith("~placeholder-");

interface Node {
  readonly type: InstanceType;
  readonly pool: Pool;
  readonly start: number;
  end?: number;
  emptySince?: number;
  pods: Set<string>;
  used: Request;
}

export interface Simulation {
  readonly seconds: number;
  readonly nodes: readonly { type: string; capacity: "spot" | "on-demand"; pool: string; start: number; end: number }[];
  /** The most nodes up at once, and what they were per NodePool at the first moment there were that many. */
  readonly peakNodes: number;
  readonly peakAt: Readonly<
    Record<string, { readonly nodes: number; readonly cpuMillis: number; readonly memoryBytes: number }>
  >;
  /** Per NodePool, the most vCPU and memory of nodes up at once (each pool at its own moment): what counts against its limits. */
  readonly peakCapacity: Readonly<Record<string, { readonly cpuMillis: number; readonly memoryBytes: number }>>;
  readonly utilisation: { readonly cpu: number; readonly memory: number };
}

/** A step no instance type of its pool can hold: the run cannot be simulated (the capacity checks report it as a problem). */
export class UnschedulableError extends DagopsError {
  readonly code = "UNSCHEDULABLE";
}

/** Simulates one run. `pools` maps NodePool names to pools priced at their own capacity type. */
export function simulate(plan: Plan, pools: ReadonlyMap<string, Pool>): Simulation {
  const steps = new Map(demands(plan).map((d) => [d.name, d]));
  const history = new Map<string, { attempts: Attempt[] }>(plan.steps.map((s) => [s.name, { attempts: [] }]));
  const nodes: Node[] = [];
  const placed = new Map<string, Node>();
  const ends = new Map<string, number>();
  let t = 0;
  let peakNodes = 0;
  /** The nodes up at the first moment the most were up, per pool: what the peak line adds up. */
  let peakAt: Record<string, { nodes: number; cpuMillis: number; memoryBytes: number }> = {};
  const peakCapacity: Record<string, { cpuMillis: number; memoryBytes: number }> = {};
  let requested = { cpu: 0, memory: 0 };
  const podRequests = new Map<string, Request>(demands(plan).map((d) => [d.name, d.request]));
  const warm = placeholderDemands(plan);
  for (const w of warm) podRequests.set(w.name, w.request);
  if (warm.length) place(warm, 0);

  // Every pass starts at least one step or finishes one, so a plan of n steps takes at most 2n passes.
  for (let pass = 0; ; pass++) {
    if (pass > 2 * plan.steps.length + 1)
      throw new Error(`simulation of ${plan.pipeline}: no progress after ${pass} passes`);
    const state = decide(plan, history, t * 1000);
    if (state.phase === "succeeded") break;
    if (state.phase !== "running") throw new Error(`simulation of ${plan.pipeline}: unexpected phase ${state.phase}`);
    const pending = state.start.map((s) => steps.get(s.step)!);
    for (const s of pending) {
      history.get(s.name)!.attempts.push({ attempt: 1, capacity: "spot", outcome: "running", startedAt: t * 1000 });
      ends.set(s.name, t + s.seconds);
      requested = {
        cpu: requested.cpu + s.request.cpuMillis * s.seconds,
        memory: requested.memory + s.request.memoryBytes * s.seconds,
      };
    }
    place(pending, t);
    // Every step has started: the run manager deletes the placeholders.
    if (warm.length && plan.steps.every((p) => history.get(p.name)!.attempts.length > 0)) {
      for (const n of nodes) for (const pod of [...n.pods].filter(isPlaceholder)) evict(n, pod, t);
    }
    const up = nodes.filter((n) => n.end === undefined);
    if (up.length > peakNodes) {
      peakAt = {};
      for (const n of up) {
        const at = (peakAt[n.pool.name] ??= { nodes: 0, cpuMillis: 0, memoryBytes: 0 });
        at.nodes++;
        at.cpuMillis += n.type.vcpu * 1000;
        at.memoryBytes += n.type.memoryMiB * MiB;
      }
    }
    peakNodes = Math.max(peakNodes, up.length);
    const now: Record<string, { cpuMillis: number; memoryBytes: number }> = {};
    for (const n of up) {
      const c = (now[n.pool.name] ??= { cpuMillis: 0, memoryBytes: 0 });
      c.cpuMillis += n.type.vcpu * 1000;
      c.memoryBytes += n.type.memoryMiB * MiB;
    }
    for (const [pool, c] of Object.entries(now)) {
      const peak = (peakCapacity[pool] ??= { cpuMillis: 0, memoryBytes: 0 });
      peak.cpuMillis = Math.max(peak.cpuMillis, c.cpuMillis);
      peak.memoryBytes = Math.max(peak.memoryBytes, c.memoryBytes);
    }
    // Next event: a step ends, or an empty node reaches consolidateAfter.
    const running = [...ends.entries()].filter(([n]) => history.get(n)!.attempts[0]!.outcome === "running");
    if (running.length === 0) throw new Error(`simulation of ${plan.pipeline}: nothing runs and the run is not over`);
    t = Math.min(...running.map(([, e]) => e));
    for (const [name, end] of running) {
      if (end !== t) continue;
      const a = history.get(name)!.attempts[0]!;
      history.get(name)!.attempts[0] = { ...a, outcome: "succeeded", finishedAt: t * 1000 };
      evict(placed.get(name)!, name, t);
    }
    retire(t);
  }
  const finish = t;
  for (const n of nodes) if (n.end === undefined) n.end = (n.emptySince ?? finish) + n.pool.consolidateAfterSeconds;
  const allocatable = nodes.reduce(
    (a, n) => ({
      cpu: a.cpu + n.type.allocatable.cpuMillis * (n.end! - n.start),
      memory: a.memory + n.type.allocatable.memoryMiB * MiB * (n.end! - n.start),
    }),
    { cpu: 0, memory: 0 },
  );
  return {
    seconds: finish,
    nodes: nodes.map((n) => ({
      type: n.type.name,
      capacity: n.pool.capacity,
      pool: n.pool.name,
      start: n.start,
      end: n.end!,
    })),
    peakNodes,
    peakAt,
    peakCapacity,
    utilisation: {
      cpu: allocatable.cpu ? requested.cpu / allocatable.cpu : 0,
      memory: allocatable.memory ? requested.memory / allocatable.memory : 0,
    },
  };

  function retire(now: number): void {
    for (const n of nodes)
      if (
        n.end === undefined &&
        n.emptySince !== undefined &&
        n.pods.size === 0 &&
        n.emptySince + n.pool.consolidateAfterSeconds <= now
      )
        n.end = n.emptySince + n.pool.consolidateAfterSeconds;
  }

  function evict(node: Node, pod: string, now: number): void {
    node.pods.delete(pod);
    const r = podRequests.get(pod)!;
    node.used = { cpuMillis: node.used.cpuMillis - r.cpuMillis, memoryBytes: node.used.memoryBytes - r.memoryBytes };
    if (node.pods.size === 0) node.emptySince = now;
  }

  /** A node of the step's pool where evicting placeholders (largest first) makes room, with them evicted. */
  function preempt(s: StepDemand, now: number): Node | undefined {
    for (const n of nodes) {
      if (n.end !== undefined || n.pool.name !== s.pool) continue;
      const warmPods = [...n.pods]
        .filter(isPlaceholder)
        .sort((a, b) => podRequests.get(b)!.memoryBytes - podRequests.get(a)!.memoryBytes);
      let used = n.used;
      let count = n.pods.size;
      const victims: string[] = [];
      for (const w of warmPods) {
        if (fitsOn(n.type, add(used, s.request), count + 1)) break;
        const r = podRequests.get(w)!;
        used = { cpuMillis: used.cpuMillis - r.cpuMillis, memoryBytes: used.memoryBytes - r.memoryBytes };
        count--;
        victims.push(w);
      }
      if (victims.length && fitsOn(n.type, add(used, s.request), count + 1)) {
        for (const v of victims) evict(n, v, now);
        return n;
      }
    }
    return undefined;
  }

  function put(node: Node, s: StepDemand): void {
    node.pods.add(s.name);
    node.used = {
      cpuMillis: node.used.cpuMillis + s.request.cpuMillis,
      memoryBytes: node.used.memoryBytes + s.request.memoryBytes,
    };
    delete node.emptySince;
    placed.set(s.name, node);
  }

  function place(pending: StepDemand[], now: number): void {
    retire(now);
    const left: StepDemand[] = [];
    for (const s of pending) {
      const node =
        nodes.find(
          (n) =>
            n.end === undefined && n.pool.name === s.pool && fitsOn(n.type, add(n.used, s.request), n.pods.size + 1),
        ) ?? (isPlaceholder(s.name) ? undefined : preempt(s, now));
      if (node) put(node, s);
      else left.push(s);
    }
    // Largest first; ties in plan order, so the result is deterministic.
    left.sort((a, b) => b.request.memoryBytes - a.request.memoryBytes || b.request.cpuMillis - a.request.cpuMillis);
    while (left.length) {
      const first = left.shift()!;
      const pool = pools.get(first.pool);
      if (!pool)
        throw new UnschedulableError(`step ${first.name}: its NodePool ${JSON.stringify(first.pool)} does not exist`);
      const start = fitting(pool, first.request, 1);
      let candidates = start.types;
      if (candidates.length === 0 || start.families < pool.minFamilies)
        throw new UnschedulableError(`step ${first.name} fits no node of NodePool ${pool.name}`);
      const claim = [first];
      let total = first.request;
      for (let i = 0; i < left.length; ) {
        const s = left[i]!;
        const next = add(total, s.request);
        // Types that hold the grown claim: the pool's fitting types (memoized) are a subset of the current candidates.
        const grown = s.pool === pool.name ? fitting(pool, next, claim.length + 1) : { types: [], families: 0 };
        const fit = grown.types;
        if (fit.length && grown.families >= pool.minFamilies) {
          candidates = fit;
          total = next;
          claim.push(s);
          left.splice(i, 1);
        } else i++;
      }
      const node: Node = {
        type: candidates[0]!,
        pool,
        start: now,
        pods: new Set(),
        used: { cpuMillis: 0, memoryBytes: 0 },
      };
      nodes.push(node);
      for (const s of claim) put(node, s);
    }
  }
}

function add(a: Request, b: Request): Request {
  return { cpuMillis: a.cpuMillis + b.cpuMillis, memoryBytes: a.memoryBytes + b.memoryBytes };
}

export interface RunCost {
  readonly seconds: number;
  readonly estimated: "all" | "some" | "none";
  /** Node-hours per instance type and capacity type, on the generated pools. */
  readonly nodeHours: readonly {
    readonly type: string;
    readonly capacity: string;
    readonly hours: number;
    readonly noSpotData?: true;
  }[];
  readonly runManager: FargateSize & { readonly usd: number };
  /** The step nodes: on the generated pools (Spot where allowed), and with every pool on-demand. */
  readonly nodes: { readonly pools: number; readonly onDemand: number };
  /** Nodes and the run manager together. */
  readonly total: { readonly pools: number; readonly onDemand: number };
  /** What Spot saves on the step nodes: 1 − nodes.pools / nodes.onDemand, in percent. */
  readonly savingPct: number;
  /** The same, with the run manager (the same either way) included. */
  readonly totalSavingPct: number;
  readonly peakNodes: number;
  readonly peakAt: Simulation["peakAt"];
  readonly peakCapacity: Simulation["peakCapacity"];
  readonly utilisation: Simulation["utilisation"];
}

/** The run-manager pod's requests: what the generated CronJob asks Fargate for. */
export interface RunManagerRequest extends Request {}

export function runCost(
  plan: Plan,
  pools: ReadonlyMap<string, Pool>,
  onDemandPools: ReadonlyMap<string, Pool>,
  runManager: RunManagerRequest,
  data: PriceData,
): RunCost {
  const onPools = simulate(plan, pools);
  const allOnDemand = simulate(plan, onDemandPools);
  const size = fargateSize(runManager, data.fargate);
  if (!size)
    throw new UnschedulableError(
      `the run manager (${runManager.cpuMillis}m, ${Math.round(runManager.memoryBytes / MiB)}Mi) is larger than Fargate's largest size`,
    );
  const types = typesByName(data);
  const nodeUsd = (sim: Simulation) =>
    sim.nodes.reduce((sum, n) => sum + ((n.end - n.start) / 3600) * price(types.get(n.type)!, n.capacity), 0);
  const fargateUsd = fargateCost(size, onPools.seconds, data.fargate);
  const fargateOnDemandUsd = fargateCost(size, allOnDemand.seconds, data.fargate);
  const hours = new Map<string, { type: string; capacity: string; hours: number; noSpotData?: true }>();
  for (const n of onPools.nodes) {
    const key = `${n.type}/${n.capacity}`;
    const h = hours.get(key) ?? {
      type: n.type,
      capacity: n.capacity,
      hours: 0,
      ...(n.capacity === "spot" && types.get(n.type)!.spot === null ? { noSpotData: true as const } : {}),
    };
    h.hours += (n.end - n.start) / 3600;
    hours.set(key, h);
  }
  const all = demands(plan);
  const estimated = all.every((d) => d.estimated) ? "all" : all.some((d) => d.estimated) ? "some" : "none";
  const nodes = { pools: nodeUsd(onPools), onDemand: nodeUsd(allOnDemand) };
  const total = { pools: nodes.pools + fargateUsd, onDemand: nodes.onDemand + fargateOnDemandUsd };
  const saving = (x: { pools: number; onDemand: number }) => (x.onDemand > 0 ? (1 - x.pools / x.onDemand) * 100 : 0);
  return {
    seconds: onPools.seconds,
    estimated,
    nodeHours: [...hours.values()].sort((a, b) => b.hours - a.hours || (a.type < b.type ? -1 : 1)),
    runManager: { ...size, usd: fargateUsd },
    nodes,
    total,
    savingPct: saving(nodes),
    totalSavingPct: saving(total),
    peakNodes: onPools.peakNodes,
    peakAt: onPools.peakAt,
    peakCapacity: onPools.peakCapacity,
    utilisation: onPools.utilisation,
  };
}

const byName = new WeakMap<PriceData, Map<string, InstanceType>>();
function typesByName(data: PriceData): Map<string, InstanceType> {
  return getOrSet(byName, data, () => new Map(data.instanceTypes.map((t) => [t.name, t])));
}
