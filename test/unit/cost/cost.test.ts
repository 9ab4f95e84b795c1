/**
 * The cost model, on small cases computed by hand, and on the example pipelines. The price data
 * for hand cases is a fixture with round numbers; the example uses the committed snapshot.
 */
import assert from "node:assert/strict";
import { describe, test } from "node:test";
import type { Plan } from "../../../src/contract/plan-format.ts";
import { planDocument } from "../../../src/charts/plan.ts";
import { karpenterAllocatable, loadPriceData, type InstanceType, type PriceData } from "../../../src/cost/data.ts";
import { fargateSize, runCost, simulate } from "../../../src/cost/simulate.ts";
import { poolOf, type NodePoolManifest } from "../../../src/cost/pools.ts";
import { formatUsd } from "../../../src/cost/estimate.ts";
import { runsPerMonth } from "../../../src/model/cron.ts";
import type { PipelineDefinition } from "../../../src/model/pipeline.ts";
import { resolvePipeline } from "../../../src/model/resolve.ts";
import { main as cost } from "../../../src/commands/cost.ts";
import { main as synth } from "../../../src/commands/synth.ts";
import { join } from "node:path";
import { captureIo, REPO, tempRepo, yamlPipeline, exampleTree } from "../../support/helpers.ts";

/** The tests' own example repository, synthesized (test/support/helpers.ts). */
const EXAMPLE_ROOT = await exampleTree();

const GiB = 2 ** 30;
const MiB = 2 ** 20;

function type(
  name: string,
  od: number,
  savingsPct: number,
  cpuMillis: number,
  memoryMiB: number,
  maxPods = 29,
): InstanceType {
  const [family] = name.split(".");
  return {
    name,
    family: family!,
    category: family![0]!,
    generation: 6,
    arch: "amd64",
    vcpu: Math.ceil(cpuMillis / 1000),
    memoryMiB: memoryMiB * 2,
    maxPods,
    allocatable: { cpuMillis, memoryMiB },
    onDemandUsdPerHour: od,
    spot: { savingsPct, interruption: "<5%" },
  };
}

const FARGATE: PriceData["fargate"] = {
  usdPerVcpuHour: 0.04,
  usdPerGbHour: 0.004,
  memoryOverheadMb: 256,
  minimumBilledSeconds: 60,
  sizes: [
    { vcpu: 0.25, memoryGb: [0.5, 1, 2] },
    { vcpu: 0.5, memoryGb: [1, 2, 3, 4] },
    { vcpu: 4, memoryGb: [8, 30] },
    { vcpu: 16, memoryGb: [32, 120] },
  ],
};

function data(types: InstanceType[]): PriceData {
  return {
    snapshot: "2026-11-25",
    region: "test-1",
    currency: "USD",
    sources: [],
    notes: [],
    instanceTypes: types,
    unpricedTypes: [],
    fargate: FARGATE,
  };
}

function pool(
  name: string,
  capacity: "spot" | "on-demand",
  minFamilies = 1,
  consolidateAfter = "0s",
): NodePoolManifest {
  return {
    metadata: { name },
    spec: {
      template: {
        spec: {
          requirements: [
            {
              key: "karpenter.sh/capacity-type",
              operator: "In",
              values: capacity === "spot" ? ["spot", "on-demand"] : ["on-demand"],
            },
            { key: "karpenter.k8s.aws/instance-family", operator: "Exists", minValues: minFamilies },
          ],
        },
      },
      disruption: { consolidateAfter },
    },
  };
}

function plan(steps: PipelineDefinition["steps"], extra: Partial<PipelineDefinition> = {}): Plan {
  const def: PipelineDefinition = {
    name: "p",
    image: "registry.example.com/a:1.0.0",
    defaults: { resources: { requests: { cpu: "500m", memory: "1Gi" } }, estimate: "1h" },
    ...extra,
    steps,
  };
  const { pipeline, problems } = resolvePipeline(def, "pipelines/p.yaml", ["c"]);
  assert.deepEqual(problems, []);
  return planDocument(pipeline!).plan;
}

function pools(d: PriceData, manifests: NodePoolManifest[], onDemand = false) {
  return new Map(manifests.map((m) => [m.metadata.name, poolOf(m, d, onDemand)]));
}

const RUN_MANAGER = { cpuMillis: 250, memoryBytes: 256 * MiB };
const STEP_POOLS = [pool("dagops-steps", "spot"), pool("dagops-steps-on-demand", "on-demand")];

describe("cost model: hand-computed cases", () => {
  test("one step on one instance type", () => {
    const d = data([type("m9.large", 0.1, 60, 1900, 7000)]);
    const r = runCost(plan([{ name: "only" }]), pools(d, STEP_POOLS), pools(d, STEP_POOLS, true), RUN_MANAGER, d);
    assert.equal(r.seconds, 3600);
    assert.deepEqual(r.nodeHours, [{ type: "m9.large", capacity: "spot", hours: 1 }]);
    // 1 h at $0.10 × (1 − 60%) = $0.04 on Spot, $0.10 on-demand.
    assert.ok(Math.abs(r.nodes.pools - 0.04) < 1e-12 && Math.abs(r.nodes.onDemand - 0.1) < 1e-12);
    assert.ok(Math.abs(r.savingPct - 60) < 1e-9);
    // The run manager: 0.25 vCPU × $0.04 + 0.5 GB × $0.004, for 1 h.
    assert.ok(Math.abs(r.runManager.usd - 0.012) < 1e-12);
    assert.ok(Math.abs(r.total.pools - 0.052) < 1e-12);
  });

  test("two steps that pack onto one node; the cheapest type that holds both", () => {
    // Each step: 500m / 1Gi. small holds one (700m), big holds both; two smalls cost more than one big.
    const d = data([type("c9.small", 0.05, 50, 700, 1500), type("c9.big", 0.08, 50, 1900, 3000)]);
    const sim = simulate(plan([{ name: "a" }, { name: "b" }]), pools(d, STEP_POOLS));
    assert.equal(sim.peakNodes, 1);
    assert.deepEqual(
      sim.nodes.map((n) => [n.type, n.start, n.end]),
      [["c9.big", 0, 3600]],
    );
    assert.ok(Math.abs(sim.utilisation.cpu - 1000 / 1900) < 1e-9);
  });

  test("a node is removed after consolidateAfter once empty, and reused while it waits", () => {
    const d = data([type("m9.large", 0.1, 60, 1900, 7000)]);
    const p = plan([
      { name: "a", estimate: "30m" },
      { name: "b", dependsOn: ["a"], estimate: "30m" },
    ]);
    const sim = simulate(
      p,
      pools(d, [pool("dagops-steps", "spot", 1, "5m"), pool("dagops-steps-on-demand", "on-demand")]),
    );
    assert.deepEqual(
      sim.nodes.map((n) => [n.start, n.end]),
      [[0, 3600 + 300]],
    );
  });

  test("minValues: a claim stops taking pods when fewer families would fit them", () => {
    // Only c9.big holds two pods, and it is one family: with minValues 2, each pod gets its own node.
    const d = data([
      type("c9.big", 0.08, 50, 1900, 3000),
      type("c8.small", 0.05, 50, 700, 1500),
      type("m8.small", 0.05, 50, 700, 1500),
    ]);
    const sim = simulate(
      plan([{ name: "a" }, { name: "b" }]),
      pools(d, [pool("dagops-steps", "spot", 2), pool("dagops-steps-on-demand", "on-demand")]),
    );
    assert.equal(sim.peakNodes, 2);
    assert.deepEqual(
      sim.nodes.map((n) => n.type),
      ["c8.small", "c8.small"],
    );
  });

  test("an on-demand step is priced on-demand, and Spot saves nothing on it", () => {
    const d = data([type("m9.large", 0.1, 60, 1900, 7000)]);
    const r = runCost(
      plan([{ name: "steady", capacity: "on-demand" }]),
      pools(d, STEP_POOLS),
      pools(d, STEP_POOLS, true),
      RUN_MANAGER,
      d,
    );
    assert.deepEqual(r.nodeHours, [{ type: "m9.large", capacity: "on-demand", hours: 1 }]);
    assert.ok(Math.abs(r.nodes.pools - 0.1) < 1e-12);
    assert.equal(r.savingPct, 0);
  });

  test("prewarm: placeholders hold the peak from the start, steps preempt them, and the cost shows it", () => {
    // One big step per node. a (small) runs first; b and c (big) together are the peak.
    const d = data([type("c9.big", 0.08, 50, 1900, 3000)]);
    const steps = [
      { name: "a" },
      { name: "b", dependsOn: ["a"], resources: { requests: { cpu: "1500m", memory: "2Gi" } } },
      { name: "c", dependsOn: ["a"], resources: { requests: { cpu: "1500m", memory: "2Gi" } } },
    ];
    const p5m = pools(d, [pool("dagops-steps", "spot", 1, "5m"), pool("dagops-steps-on-demand", "on-demand")]);
    const cold = simulate(plan(steps), p5m);
    // a on node 1 (0 → 1h), then b reuses it and c gets node 2 (1h → 2h); each leaves 5m after.
    assert.deepEqual(
      cold.nodes.map((n) => [n.start, n.end]),
      [
        [0, 7500],
        [3600, 7500],
      ],
    );
    const warm = simulate(plan(steps, { prewarm: true }), p5m);
    // Two placeholders buy both nodes at 0; a preempts one, c the other at 1h; b lands on a's node.
    assert.deepEqual(
      warm.nodes.map((n) => [n.start, n.end]),
      [
        [0, 7500],
        [0, 7500],
      ],
    );
    const r = (sim: typeof cold) => sim.nodes.reduce((sum, n) => sum + ((n.end - n.start) / 3600) * 0.04, 0);
    assert.ok(Math.abs(r(warm) - r(cold) - 0.04) < 1e-12, "prewarm costs one node-hour more here");
  });

  test("Fargate rounding at the edges of the size table", () => {
    const size = (cpu: number, memMiB: number) => fargateSize({ cpuMillis: cpu, memoryBytes: memMiB * MiB }, FARGATE);
    assert.deepEqual(size(250, 256), { vcpu: 0.25, memoryGb: 0.5 }, "256Mi + 256 MB lands exactly on 0.5 GB");
    assert.deepEqual(size(250, 257), { vcpu: 0.25, memoryGb: 1 });
    assert.deepEqual(
      size(251, 256),
      { vcpu: 0.5, memoryGb: 1 },
      "more CPU moves up a row, and the row's smallest memory",
    );
    assert.deepEqual(size(4000, 30 * 1024 - 256), { vcpu: 4, memoryGb: 30 });
    assert.deepEqual(size(4000, 30 * 1024 - 255), { vcpu: 16, memoryGb: 32 });
    assert.deepEqual(size(16000, 120 * 1024 - 256), { vcpu: 16, memoryGb: 120 });
    assert.equal(size(16000, 120 * 1024 - 255), undefined, "beyond the largest size");
    assert.equal(size(16001, 256), undefined);
  });

  test("monthly cost follows from the schedule", () => {
    assert.equal(runsPerMonth("@daily"), 365 / 12);
    assert.equal(runsPerMonth("15 */6 * * *"), (365 * 4) / 12);
    assert.equal(runsPerMonth("0 9 * * MON-FRI"), 261 / 12);
    assert.equal(runsPerMonth("0 0 1,15 * MON"), (24 + 52 - 2) / 12, "day of month OR day of week when both are set");
  });

  test("the snapshot holds every priced type Karpenter documents, and its allocatable rules reproduce every row", () => {
    const snapshot = loadPriceData(join(REPO, "data/aws-us-east-1.json"));
    // 1,363 documented Linux types, 18 of them without an on-demand price (left out, named).
    assert.equal(snapshot.instanceTypes.length + snapshot.unpricedTypes.length, 1363);
    assert.equal(snapshot.unpricedTypes.length, 18);
    assert.equal(
      new Set(snapshot.instanceTypes.map((t) => t.family)).size,
      169,
      "177 families, 8 of which (hpc7a, x8aedz, …) have no price at all",
    );
    assert.ok(
      snapshot.instanceTypes.some((t) => t.spot === null),
      "types without Spot Advisor data are kept, with spot: null",
    );
    for (const t of snapshot.instanceTypes) assert.deepEqual(karpenterAllocatable(t), t.allocatable, t.name);
  });
});

describe("cost model: the example pipelines", () => {
  test("deterministic, and the classification pipeline saves at least 57% on its step nodes", async () => {
    const run = async () => {
      const io = captureIo(EXAMPLE_ROOT);
      assert.equal(await cost(["--json"], io), 0, io.text());
      return io.out.join("");
    };
    const first = await run();
    assert.equal(await run(), first, "same inputs, same bytes");
    const results = JSON.parse(first) as {
      pipeline: string;
      cluster: string;
      snapshot: string;
      run: { savingPct: number; totalSavingPct: number; estimated: string };
      monthlyUsd: number;
      runsPerMonth: number;
      run_: never;
    }[];
    const cc = results.filter((r) => r.pipeline === "customer-classification");
    assert.deepEqual(
      cc.map((r) => r.cluster),
      ["staging", "prod"],
    );
    for (const r of cc) {
      assert.ok(r.run.savingPct >= 57, `saving ${r.run.savingPct}`);
      assert.equal(r.run.estimated, "all");
      assert.equal(r.snapshot, "us-east-1 2026-12-01");
    }
    const text = captureIo(EXAMPLE_ROOT);
    await cost(["customer-classification"], text);
    assert.match(
      text.out.join(""),
      /^dagops cost: prices from the us-east-1 2026-12-01 \(data\/aws-us-east-1\.json\) snapshot/,
    );
    assert.match(text.out.join(""), /Spot saves (5[7-9]|[6-9]\d)\.\d%/);
    // The pool allows generation-8 types that the Spot Advisor snapshot lacks: the report names them and how they were priced.
    assert.match(
      text.out.join(""),
      /spot data       dagops-steps: \d+ of its \d+ instance types have no Spot Advisor figure \(c8a, [^)]*\); they are priced at on-demand on Spot/,
    );
  });

  test("the peak line adds up: the nodes up at one moment, per pool, sum to the count", async () => {
    const text = captureIo(EXAMPLE_ROOT);
    assert.equal(await cost([], text), 0, text.text());
    const peaks = [...text.out.join("").matchAll(/^ {2}peak +(\d+) nodes? at once \(([^)]*)\)/gm)];
    assert.ok(peaks.length >= 3, text.out.join(""));
    for (const [line, count, parts] of peaks) {
      const perPool = parts!.split("; ").map((p) => Number(/^(\d+) on /.exec(p)?.[1]));
      assert.equal(
        perPool.reduce((a, b) => a + b, 0),
        Number(count),
        line,
      );
    }
    // A hand-computed case: two spot nodes and one on-demand node up at once (each type holds one step).
    const d = data([type("c9.small", 0.05, 50, 700, 1500)]);
    const sim = simulate(
      plan([{ name: "a" }, { name: "b" }, { name: "c", capacity: "on-demand" }]),
      pools(d, STEP_POOLS),
    );
    assert.equal(sim.peakNodes, 3);
    assert.deepEqual(Object.fromEntries(Object.entries(sim.peakAt).map(([pool, p]) => [pool, p.nodes])), {
      "dagops-steps": 2,
      "dagops-steps-on-demand": 1,
    });
  });

  test("one step over its pool's limits is blamed on the step, not on platform.config.ts", async () => {
    const repo = await tempRepo({ generated: true });
    try {
      // Staging's pools are capped at 200 CPU; instance types with more exist.
      const big = yamlPipeline("big")
        .replace("cpu: 100m, memory: 128Mi", 'cpu: "250", memory: 128Mi')
        .replace("limits: { cpu: 500m, memory: 256Mi }", 'limits: { cpu: "250", memory: 256Mi }');
      await repo.write("pipelines/big.yaml", `${big}clusters: [staging]\n`);
      const io = captureIo(repo.root);
      assert.equal(await synth([], io), 1, io.text());
      assert.match(
        io.err.join(""),
        /✖ pipelines\/big\.yaml: 2 problems\n {2}steps\[0\]\.resources\.requests +POOL_LIMIT +step extract alone requests 250000m CPU, 128Mi memory, over the limits of NodePool dagops-steps \(200 CPU, 800Gi memory\)/,
      );
      assert.doesNotMatch(io.err.join(""), /✖ platform\.config\.ts/, "nothing is blamed on the platform");
    } finally {
      await repo.cleanup();
    }
  });

  test("the whole instance set: a 40 vCPU / 300Gi step is accepted; one beyond the largest allowed type is refused with its name", async () => {
    const repo = await tempRepo({ generated: true });
    try {
      await repo.write(
        "pipelines/huge.yaml",
        yamlPipeline(
          "huge",
          '  - name: wide\n    resources: { requests: { cpu: "40", memory: 300Gi }, limits: { cpu: "40", memory: 300Gi } }\n',
        ),
      );
      const ok = captureIo(repo.root);
      assert.equal(await synth([], ok), 0, ok.text());
      await repo.write(
        "pipelines/huge.yaml",
        yamlPipeline(
          "huge",
          "  - name: giant\n    resources: { requests: { cpu: 100m, memory: 3000Gi }, limits: { memory: 3000Gi } }\n",
        ),
      );
      const io = captureIo(repo.root);
      assert.equal(await synth([], io), 1, io.text());
      assert.match(io.err.join(""), /pipelines\/huge\.yaml[\s\S]*steps\[2\]\.resources\.requests\s+NO_INSTANCE_FITS/);
      // The largest c/m/r type of generation 5+ (bare metal excluded) in the full snapshot: an r8i 96xlarge.
      assert.match(
        io.err.join(""),
        /step giant requests 100m CPU, 3072000Mi memory; no instance type NodePool dagops-steps allows can hold it\. The largest is r8i\S*\.96xlarge \(382970m CPU, 2901105Mi memory allocatable\)/,
      );
      // 2000Gi fits the 96xlarge of exactly 6 families (r8i, r8ib, r8id, r8idb, r8idn, r8in): too few if the pool wants 7.
      const config = await repo.read("platform.config.ts");
      await repo.write(
        "platform.config.ts",
        config.replace('discoveryTag: "data-prod",', 'discoveryTag: "data-prod",\n        pools: { minFamilies: 7 },'),
      );
      await repo.write(
        "pipelines/huge.yaml",
        yamlPipeline(
          "huge",
          "  - name: giant\n    resources: { requests: { cpu: 100m, memory: 2000Gi }, limits: { memory: 2000Gi } }\n",
        ).replace("name: huge", "name: huge\nclusters: [prod]"),
      );
      const few = captureIo(repo.root);
      assert.equal(await synth([], few), 1, few.text());
      assert.match(
        few.err.join(""),
        /TOO_FEW_FAMILIES  step giant requests 100m CPU, 2048000Mi memory; only 6 instance families of NodePool dagops-steps can hold it \(r8i, r8ib, r8id, r8idb, r8idn, r8in\), and the pool requires 7 \(minValues\)/,
      );
    } finally {
      await repo.cleanup();
    }
  });

  test("dollars are formatted by what they measure, never by their size", () => {
    assert.equal(formatUsd(0.0629, "run"), "$0.0629");
    assert.equal(formatUsd(12.5, "run"), "$12.5000");
    assert.equal(formatUsd(7.6499, "month"), "$7.65");
    assert.equal(formatUsd(1234.5, "month"), "$1,234.50");
  });

  test("a type without Spot data is priced at on-demand, never with a saving, and the report says so", () => {
    const known = type("m6i.large", 0.1, 60, 1930, 6000);
    const unknown = { ...type("m8i.large", 0.09, 0, 1930, 6000), spot: null };
    const prices = data([known, unknown]);
    const p = poolOf(pool("steps", "spot"), prices);
    assert.deepEqual(
      p.types.map((t) => t.name),
      ["m6i.large", "m8i.large"],
      "m8i is cheaper on-demand but has no Spot saving: m6i at 0.04 comes first",
    );
  });

  test("a run's peak over the pool limits is an error; pipelines sharing an hour over them, a warning", async () => {
    const repo = await tempRepo({ generated: true });
    try {
      const config = await repo.read("platform.config.ts");
      await repo.write(
        "platform.config.ts",
        config.replace(
          'pools: { limits: { cpu: "200", memory: "800Gi" } }',
          'pools: { limits: { cpu: "2", memory: "800Gi" } }',
        ),
      );
      const pipeline = (name: string, steps: string[]) =>
        `name: ${name}\nimage: registry.example.com/team/app:1.0.0\nclusters: [staging]\nschedule: "0 5 * * *"\ndefaults:\n  resources: { requests: { cpu: 1500m, memory: 1Gi }, limits: { cpu: 1500m, memory: 1Gi } }\nsteps:\n${steps.map((s) => `  - name: ${s}\n`).join("")}`;
      // Each run needs one 2-vCPU node: within the limit alone, over it together at 05:00.
      await repo.write("pipelines/first.yaml", pipeline("first", ["a"]));
      await repo.write("pipelines/second.yaml", pipeline("second", ["a"]));
      const shared = captureIo(repo.root);
      assert.equal(await synth([], shared), 0, shared.text());
      assert.match(
        shared.err.join(""),
        /POOL_LIMIT_SHARED \(warning\)  cluster staging: first, second can all start in hour 5 .* together peak at 4000m CPU/,
      );
      // Two parallel steps of 1.5 CPU in one run: over the limit by itself.
      await repo.remove("pipelines/second.yaml");
      await repo.write("pipelines/first.yaml", pipeline("first", ["a", "b"]));
      const io = captureIo(repo.root);
      assert.equal(await synth([], io), 1);
      assert.match(
        io.err.join(""),
        /platform\.config\.ts[\s\S]*POOL_LIMIT  cluster staging: one run of first peaks at nodes with 4000m CPU/,
      );
    } finally {
      await repo.cleanup();
    }
  });
});
