/** `npm run plan`: waves, critical path and peak requests, computed by hand for small graphs. */
import assert from "node:assert/strict";
import { describe, test } from "node:test";
import { executionPlan } from "../../../src/model/execution.ts";
import type { PipelineDefinition } from "../../../src/model/pipeline.ts";
import { resolvePipeline } from "../../../src/model/resolve.ts";
import { main } from "../../../src/commands/plan.ts";
import { captureIo, REPO, exampleTree } from "../../support/helpers.ts";

/** The tests' own example repository, synthesized (test/support/helpers.ts). */
const EXAMPLE_ROOT = await exampleTree();

function resolved(steps: PipelineDefinition["steps"], maxParallel = 10) {
  const def: PipelineDefinition = {
    name: "p",
    image: "registry.example.com/a:1.0.0",
    maxParallel,
    defaults: { resources: { requests: { cpu: "100m", memory: "100Mi" } } },
    steps,
  };
  const { pipeline, problems } = resolvePipeline(def, "pipelines/p.yaml", ["staging"]);
  assert.deepEqual(problems, []);
  return pipeline!;
}

const req = (cpu: string, memory: string) => ({ requests: { cpu, memory } });

describe("execution plan", () => {
  // a → (b, c) → d: b and c can overlap; a and d overlap nothing.
  const diamond = [
    { name: "a", timeout: "10m", resources: req("1", "1Gi") },
    { name: "b", dependsOn: ["a"], timeout: "30m", resources: req("300m", "2Gi") },
    { name: "c", dependsOn: ["a"], timeout: "20m", resources: req("400m", "512Mi") },
    { name: "d", dependsOn: ["b", "c"], timeout: "5m", resources: req("500m", "256Mi") },
  ];

  test("waves and the critical path by timeouts", () => {
    const plan = executionPlan(resolved(diamond));
    assert.deepEqual(plan.waves, [["a"], ["b", "c"], ["d"]]);
    assert.deepEqual(plan.criticalPath, { steps: ["a", "b", "d"], seconds: (10 + 30 + 5) * 60 });
  });

  test("the typical run by estimates, which is what npm run cost prices; a step without one counts 1h", () => {
    const estimated = diamond.map((s, i) => ({ ...s, estimate: ["2m", "5m", "9m", "1m"][i]! }));
    assert.deepEqual(executionPlan(resolved(estimated)).typicalPath, {
      steps: ["a", "c", "d"],
      seconds: (2 + 9 + 1) * 60,
      estimated: "all",
    });
    const partly = estimated.map((s) => (s.name === "b" ? { ...s, estimate: undefined } : s));
    assert.deepEqual(executionPlan(resolved(partly)).typicalPath, {
      steps: ["a", "b", "d"],
      seconds: (2 + 60 + 1) * 60,
      estimated: "some",
    });
  });

  test("peak: the heaviest set of steps that can run together", () => {
    const plan = executionPlan(resolved(diamond));
    // a alone (1000m) beats b + c (700m) for CPU; b + c (2.5Gi) beats a (1Gi) for memory.
    assert.deepEqual(plan.peak.cpuMillis, { amount: 1000, steps: ["a"], exact: true });
    assert.deepEqual(plan.peak.memoryBytes, { amount: 2.5 * 2 ** 30, steps: ["b", "c"], exact: true });
    assert.equal(plan.peak.steps, 2);
  });

  test("peak under maxParallel: independent steps, at most maxParallel of them", () => {
    const wide = ["w1", "w2", "w3", "w4"].map((name, i) => ({ name, resources: req(`${(i + 1) * 100}m`, "100Mi") }));
    assert.deepEqual(executionPlan(resolved(wide, 2)).peak.cpuMillis, {
      amount: 700,
      steps: ["w3", "w4"],
      exact: true,
    });
    assert.deepEqual(executionPlan(resolved(wide, 10)).peak.cpuMillis.amount, 1000);
    assert.equal(executionPlan(resolved(wide, 1)).peak.steps, 1);
  });

  test("npm run plan prints the example pipeline's plan", async () => {
    const io = captureIo(EXAMPLE_ROOT);
    assert.equal(await main(["customer-classification"], io), 0, io.text());
    const text = io.out.join("");
    assert.match(text, /^customer-classification: 13 steps, at most 6 at once/);
    assert.match(text, / 3 {2}classify-s3, classify-rds, classify-dynamodb, classify-redshift\n/);
    assert.match(text, /discover-accounts → scan-s3 → classify-s3 → merge-findings → score-risk → publish-report/);
    // Four independent branches: at most four steps at once, whatever maxParallel (6) allows.
    assert.match(text, /at most 4 steps can run at once/);
    // Both run lengths, and why they differ: the cost report's 1h55m is the typical run.
    assert.match(text, /Critical path, every step running to its timeout, no retries: 5h15m/);
    assert.match(text, /Typical run, by the steps' estimates: 1h55m\n/);
    assert.match(
      text,
      /The critical path is a bound: every step at its timeout\. `npm run cost` prices the typical run/,
    );
    // What a run leaves and says: records, early failure names, alerts, logs.
    assert.match(
      text,
      /Run records: each run leaves ConfigMap <run>-record .* the newest 50 are kept \(history\.keep\)\./,
    );
    assert.match(text, /a pod unschedulable for 15m \(schedulingTimeout\) fails its attempt and spends a retry/);
    assert.match(text, /Alerts: on failed, timed-out → slack webhook from Secret alerts\/slack-url\./);
    assert.match(text, /memory {2}2\.73Gi {4}classify-s3, classify-rds, classify-dynamodb, classify-redshift/);
  });

  test("--json, and a clear error for an unknown pipeline", async () => {
    const io = captureIo(EXAMPLE_ROOT);
    assert.equal(await main(["daily-usage-report", "--json"], io), 0);
    assert.deepEqual(JSON.parse(io.out.join("")).waves, [["export-usage"], ["build-summary"], ["mail-finance"]]);
    const bad = captureIo(EXAMPLE_ROOT);
    assert.equal(await main(["customer-clasification"], bad), 2);
    assert.match(
      bad.err.join(""),
      /no pipeline named "customer-clasification"; did you mean "customer-classification"\?/,
    );
  });
});

test("npm run plan shows the schedule as the CronJob gets it (H resolved), per cluster, and the parameters", async () => {
  const io = captureIo(EXAMPLE_ROOT);
  assert.equal(await main(["tenant-export-acme"], io), 0, io.text());
  assert.match(
    io.out.join(""),
    /^Schedule: \d+ [0-3]-23\/4 \* \* \* \(Etc\/UTC\); a tenant of template tenant-export\.$/m,
  );
  assert.match(
    io.out.join(""),
    /^Concurrency: forbid\. Parameters: date \(date, default scheduled-date\), tenant \(string, default acme\)\.$/m,
  );
  const cc = captureIo(EXAMPLE_ROOT);
  assert.equal(await main(["customer-classification"], cc), 0);
  assert.match(cc.out.join(""), /^Schedule: 15 \*\/6 \* \* \* \(Etc\/UTC\); staging: 15 3 \* \* \*\.$/m);
});

test("plan and cost of one pipeline while another is broken: shown, with a warning naming the broken file; a template lists its tenants", async () => {
  const { tempRepo, yamlPipeline } = await import("../../support/helpers.ts");
  const { main: cost } = await import("../../../src/commands/cost.ts");
  const repo = await tempRepo();
  try {
    await repo.write("pipelines/broken.yaml", yamlPipeline("broken").replace("cpu: 100m", "cpu: lots"));
    const p = captureIo(repo.root);
    assert.equal(await main(["daily-usage-report"], p), 0, p.text());
    assert.match(
      p.err.join(""),
      /^dagops plan: warning: pipelines\/broken\.yaml has errors \(npm run check shows them\); this is the plan of daily-usage-report alone\n$/,
    );
    assert.match(p.out.join(""), /daily-usage-report/);
    const c = captureIo(repo.root);
    assert.equal(await cost(["daily-usage-report"], c), 0, c.text());
    assert.match(
      c.err.join(""),
      /^dagops cost: warning: pipelines\/broken\.yaml has errors[^\n]*without that definition\n$/,
    );
    assert.match(c.out.join(""), /daily-usage-report/);
    // The broken pipeline itself, or all of them: the errors, exit 1.
    assert.equal(await main(["broken"], captureIo(repo.root)), 1);
    assert.equal(await cost([], captureIo(repo.root)), 1);
    await repo.remove("pipelines/broken.yaml");
    const t = captureIo(repo.root);
    assert.equal(await main(["tenant-export"], t), 0, t.text());
    assert.match(
      t.out.join(""),
      /^tenant-export is a template; its tenants \(npm run plan -- <tenant>\):\n {2}tenant-export-acme +\S/,
    );
    assert.match(t.out.join(""), /tenant-export-globex[\s\S]*tenant-export-initech/);
  } finally {
    await repo.cleanup();
  }
});
