/**
 * The run manager against a simulated Kubernetes API (test/support/fake-kube.ts) over real HTTP, through
 * @kubernetes/client-node and a real kubeconfig file. Not a cluster: the test scripts what the
 * Job controller would report.
 */
import assert from "node:assert/strict";
import { spawn } from "node:child_process";
import { createHash } from "node:crypto";
import { mkdtemp, readFile, rm, writeFile } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { describe, test } from "node:test";
import type { Plan } from "../../src/contract/plan-format.ts";
import { planDocument } from "../../src/charts/plan.ts";
import { RUN_MANAGER_NODE_RULES, RUN_MANAGER_RULES } from "../../src/charts/run-manager-rbac.ts";
import { toYaml } from "../../src/contract/yaml.ts";
import type { PipelineDefinition } from "../../src/model/pipeline.ts";
import { resolvePipeline } from "../../src/model/resolve.ts";
import { attemptJobName, MAX_JOB_NAME } from "../../src/runner/attempt.ts";
import { main } from "../../src/runner/main.ts";
import { CREATE_BATCH } from "../../src/runner/run.ts";
import { FakeKube, type Outcome, type Request } from "../support/fake-kube.ts";
import { captureIo, REPO } from "../support/helpers.ts";
import { runManagerScript } from "../support/built.ts";

const NS = "dagops-demo";
const FAST_RETRY = { first: 50, max: 200 };
const allRequests: Request[] = [];

function definition(steps: PipelineDefinition["steps"], extra: Partial<PipelineDefinition> = {}): PipelineDefinition {
  return {
    name: "demo",
    image: "registry.example.com/demo:1.0.0",
    defaults: { resources: { requests: { cpu: "100m", memory: "128Mi" } }, retries: 0 },
    ...extra,
    steps,
  };
}

function planFor(def: PipelineDefinition, edit: (p: Plan) => Plan = (p) => p): Plan {
  const { pipeline, problems } = resolvePipeline(def, "pipelines/demo.yaml", ["staging"]);
  assert.deepEqual(problems, []);
  return edit(planDocument(pipeline!).plan);
}

interface Harness {
  readonly kube: FakeKube;
  readonly url: string;
  readonly run: { name: string; uid: string };
  readonly env: Record<string, string>;
  readonly planFile: string;
  /** Runs main() in-process; resolves with the exit code and the parsed log lines. */
  start(options?: {
    stop?: AbortSignal;
    retryDelay?: { first: number; max: number };
  }): Promise<{ code: number; logs: Record<string, any>[]; output: string }>;
  close(): Promise<void>;
}

async function harness(plan: Plan, script: FakeKube["script"], runName = "demo-29000000"): Promise<Harness> {
  const kube = new FakeKube();
  kube.script = script;
  const url = await kube.start();
  const dir = await mkdtemp(join(tmpdir(), "run-manager-"));
  const text = toYaml(plan);
  const planFile = join(dir, "plan.yaml");
  await writeFile(planFile, text);
  const run = kube.addRunJob(NS, runName);
  const env = {
    KUBECONFIG: await kube.kubeconfig(url),
    DAGOPS_PIPELINE: plan.pipeline,
    DAGOPS_PLAN_CONFIGMAP: `${plan.pipeline}-plan-${planDocumentHash(text)}`,
    DAGOPS_NAMESPACE: NS,
    DAGOPS_POD_NAME: `${runName}-abcde`,
    DAGOPS_JOB_NAME: run.name,
    DAGOPS_JOB_UID: run.uid,
  };
  return {
    kube,
    url,
    run,
    env,
    planFile,
    async start(options = {}) {
      const io = captureIo(REPO, env);
      if (process.env.DEBUG_RUN_MANAGER) {
        const out = io.stdout;
        (io as { stdout: (t: string) => void }).stdout = (t) => (process.stderr.write(t), out(t));
      }
      const code = await main(["run", "--plan", planFile], io, { retryDelay: FAST_RETRY, ...options });
      const output = io.text();
      const logs = io.out
        .join("")
        .trim()
        .split("\n")
        .filter(Boolean)
        .map((l) => JSON.parse(l));
      return { code, logs, output };
    },
    async close() {
      allRequests.push(...kube.requests);
      await kube.stop();
      await rm(dir, { recursive: true, force: true });
    },
  };
}

function planDocumentHash(text: string): string {
  return createHash("sha256").update(text).digest("hex").slice(0, 10);
}

const started = (logs: Record<string, any>[]) => logs.filter((l) => l.event === "step.started");
const index = (logs: Record<string, any>[], event: string, step: string, attempt = 1) =>
  logs.findIndex((l) => l.event === event && l.step === step && l.attempt === attempt);
const succeed = (afterMs = 20): Outcome => ({ outcome: "succeed", afterMs });

describe("run manager", () => {
  test("a diamond DAG runs in dependency order and succeeds", async () => {
    const plan = planFor(
      definition([
        { name: "extract" },
        { name: "left", dependsOn: ["extract"] },
        { name: "right", dependsOn: ["extract"] },
        { name: "join", dependsOn: ["left", "right"] },
      ]),
    );
    const h = await harness(plan, () => succeed());
    try {
      const { code, logs, output } = await h.start();
      assert.equal(code, 0, output);
      assert.deepEqual(
        started(logs)
          .map((l) => l.step)
          .sort(),
        ["extract", "join", "left", "right"],
      );
      assert.ok(index(logs, "step.started", "left") > index(logs, "step.succeeded", "extract"));
      assert.ok(index(logs, "step.started", "right") > index(logs, "step.succeeded", "extract"));
      assert.ok(index(logs, "step.started", "join") > index(logs, "step.succeeded", "left"));
      assert.ok(index(logs, "step.started", "join") > index(logs, "step.succeeded", "right"));
      const summary = logs.find((l) => l.event === "run.summary")!;
      assert.equal(summary.outcome, "succeeded");
      assert.deepEqual(
        summary.steps.map((s: any) => [s.name, s.outcome, s.attempts.length]),
        [
          ["extract", "succeeded", 1],
          ["left", "succeeded", 1],
          ["right", "succeeded", 1],
          ["join", "succeeded", 1],
        ],
      );
      assert.equal(summary.criticalPath.steps[0], "extract");
      assert.equal(summary.criticalPath.steps.at(-1), "join");
      // Progress and summary on the run's own Job, sent as a merge patch (a JSON patch would get 415 here).
      const own = h.kube.job(h.run.name)!;
      assert.equal(own.metadata.annotations["dagops.dev/progress"], "succeeded");
      assert.equal(JSON.parse(own.metadata.annotations["dagops.dev/summary"]).outcome, "succeeded");
      assert.ok(
        h.kube.requests
          .filter((r) => r.verb === "patch")
          .every((r) => r.contentType === "application/merge-patch+json"),
        JSON.stringify(h.kube.requests.filter((r) => r.verb === "patch").map((r) => [r.resource, r.contentType])),
      );
      // Events on the run's Job, for kubectl describe and Argo CD.
      const reasons = h.kube.events.map((e) => e.reason);
      assert.deepEqual([reasons[0], reasons.at(-1)], ["RunStarted", "RunSucceeded"]);
      assert.equal(
        reasons.filter((r) => r.startsWith("Step")).length,
        0,
        "successes go to the log and the record, not to Events",
      );
      assert.ok(h.kube.events.every((e) => e.involvedObject.uid === h.run.uid && e.involvedObject.kind === "Job"));
    } finally {
      await h.close();
    }
  });

  test("step Jobs: owned by the run's Job, run labels, no Argo CD tracking, fresh from the template", async () => {
    const plan = planFor(definition([{ name: "only" }]), (p) => ({
      ...p,
      steps: p.steps.map((s) => ({
        ...s,
        job: {
          ...s.job,
          metadata: {
            ...s.job.metadata,
            annotations: { "argocd.argoproj.io/tracking-id": "demo:batch/Job:x" },
            labels: { ...s.job.metadata!.labels, "app.kubernetes.io/instance": "pipeline-demo" },
          },
        },
      })),
    }));
    const h = await harness(plan, () => succeed());
    try {
      expectExit(await h.start(), 0);
      const [job] = h.kube.stepJobs();
      assert.deepEqual(job!.metadata.ownerReferences, [
        { apiVersion: "batch/v1", kind: "Job", name: h.run.name, uid: h.run.uid },
      ]);
      assert.equal(job!.metadata.name, attemptJobName({ ...h.run, namespace: NS }, "only", 1));
      for (const labels of [job!.metadata.labels, job!.spec.template.metadata.labels]) {
        assert.equal(labels["dagops.dev/run"], h.run.name);
        assert.equal(labels["dagops.dev/run-uid"], h.run.uid);
        assert.equal(labels["dagops.dev/attempt"], "1");
        assert.equal(labels["app.kubernetes.io/instance"], undefined);
      }
      assert.equal(job!.metadata.annotations, undefined);
      assert.equal(job!.spec.selector, undefined, "a fresh Job from the template, not one read back from the server");
      const env = job!.spec.template.spec.containers[0].env;
      assert.deepEqual(
        env.filter((e: any) => e.name.startsWith("DAGOPS_")).map((e: any) => e.name),
        ["DAGOPS_RUN", "DAGOPS_ATTEMPT", "DAGOPS_RUN_ID", "DAGOPS_PIPELINE", "DAGOPS_STEP"],
      );
    } finally {
      await h.close();
    }
  });

  test("maxParallel is respected", async () => {
    const steps = ["a", "b", "c", "d", "e", "f"].map((name) => ({ name }));
    const h = await harness(planFor(definition(steps, { maxParallel: 2 })), () => succeed(60));
    try {
      expectExit(await h.start(), 0);
      assert.equal(h.kube.stepJobs().length, 6);
      assert.equal(h.kube.peakRunning, 2);
    } finally {
      await h.close();
    }
  });

  test("a failed step stops new steps; running steps finish; the run fails", async () => {
    const plan = planFor(
      definition([
        { name: "breaks" },
        { name: "after", dependsOn: ["breaks"] },
        { name: "slow" },
        { name: "later", dependsOn: ["slow"] },
      ]),
    );
    const h = await harness(plan, (step) =>
      step === "breaks" ? { outcome: "fail", afterMs: 20 } : succeed(step === "slow" ? 300 : 20),
    );
    try {
      const result = await h.start();
      expectExit(result, 1);
      const { logs } = result;
      const created = h.kube.stepJobs().map((j) => j.metadata.labels["dagops.dev/step"]);
      assert.deepEqual(created.sort(), ["breaks", "slow"], "neither 'after' nor 'later' started");
      assert.deepEqual(h.kube.deletes, [], "running steps are left to finish");
      const summary = logs.find((l) => l.event === "run.summary")!;
      assert.deepEqual(
        summary.steps.map((s: any) => [s.name, s.outcome]),
        [
          ["breaks", "failed"],
          ["after", "not-run"],
          ["slow", "succeeded"],
          ["later", "not-run"],
        ],
      );
      assert.equal(h.kube.events.at(-1)!.reason, "RunFailed");
    } finally {
      await h.close();
    }
  });

  test("failures use retries, with backoff", async () => {
    const plan = planFor(definition([{ name: "flaky", retries: 2 }]));
    const h = await harness(plan, (_, attempt) =>
      attempt < 3 ? { outcome: attempt === 1 ? "fail" : "timeout", afterMs: 10 } : succeed(),
    );
    try {
      const result = await h.start();
      expectExit(result, 0);
      const { logs } = result;
      const attempts = logs.find((l) => l.event === "run.summary")!.steps[0].attempts;
      assert.deepEqual(
        attempts.map((a: any) => [a.outcome, a.reason ?? ""]),
        [
          ["failed", "BackoffLimitExceeded"],
          ["failed", "DeadlineExceeded"],
          ["succeeded", ""],
        ],
      );
    } finally {
      await h.close();
    }
  });

  test("Spot interruptions are re-run without using retries", async () => {
    const plan = planFor(definition([{ name: "spotty", retries: 0, onDemandAfterInterruptions: "never" }]));
    const h = await harness(plan, (_, attempt) => (attempt <= 3 ? { outcome: "interrupt", afterMs: 10 } : succeed()));
    try {
      const result = await h.start();
      expectExit(result, 0);
      const { logs } = result;
      const jobs = h.kube.stepJobs();
      assert.equal(jobs.length, 4);
      assert.ok(
        jobs.every((j) => j.spec.template.spec.nodeSelector["karpenter.sh/nodepool"] === "dagops-steps"),
        "'never' keeps every attempt on Spot",
      );
      assert.equal(logs.filter((l) => l.event === "step.interrupted").length, 3);
      assert.equal(h.kube.events.filter((e) => e.reason === "StepInterrupted").length, 3);
    } finally {
      await h.close();
    }
  });

  test("after N interruptions the next attempt runs on the on-demand NodePool", async () => {
    const plan = planFor(definition([{ name: "spotty", onDemandAfterInterruptions: 2 }]));
    const h = await harness(plan, (_, attempt) => (attempt <= 2 ? { outcome: "interrupt", afterMs: 10 } : succeed()));
    try {
      expectExit(await h.start(), 0);
      const pools = h.kube.stepJobs().map((j) => j.spec.template.spec.nodeSelector["karpenter.sh/nodepool"]);
      assert.deepEqual(pools, ["dagops-steps", "dagops-steps", "dagops-steps-on-demand"]);
      const summary = JSON.parse(h.kube.job(h.run.name)!.metadata.annotations["dagops.dev/summary"]);
      assert.deepEqual(
        summary.steps[0].attempts.map((a: any) => a.capacity),
        ["spot", "spot", "on-demand"],
      );
    } finally {
      await h.close();
    }
  });

  test("the run timeout deletes running steps with their pods and fails the run", async () => {
    const plan = planFor(definition([{ name: "forever" }, { name: "never-starts", dependsOn: ["forever"] }]), (p) => ({
      ...p,
      runTimeoutSeconds: 1,
    }));
    const h = await harness(plan, () => ({ outcome: "hang" }));
    try {
      const result = await h.start();
      expectExit(result, 1);
      const { logs } = result;
      assert.deepEqual(h.kube.deletes, [
        { name: attemptJobName({ ...h.run, namespace: NS }, "forever", 1), propagationPolicy: "Background" },
      ]);
      assert.equal(logs.find((l) => l.event === "run.summary")!.outcome, "timed-out");
      assert.equal(h.kube.events.at(-1)!.reason, "RunTimedOut");
    } finally {
      await h.close();
    }
  });

  test("SIGTERM leaves the steps running; a restarted run manager adopts them instead of duplicating", async () => {
    const plan = planFor(definition([{ name: "long" }, { name: "next", dependsOn: ["long"] }]));
    const h = await harness(plan, (step) => (step === "long" ? { outcome: "hang" } : succeed()));
    try {
      const stop = new AbortController();
      const first = h.start({ stop: stop.signal });
      await until(() => h.kube.stepJobs().length === 1);
      stop.abort();
      const stopped = await first;
      assert.equal(stopped.code, 143);
      assert.deepEqual(h.kube.deletes, []);
      assert.match(h.kube.job(h.run.name)!.metadata.annotations["dagops.dev/progress"], /^stopped/);

      const second = h.start();
      await until(() => h.kube.requests.filter((r) => r.verb === "watch").length >= 2);
      h.kube.finish(h.kube.stepJobs()[0]!.metadata.name, "succeed");
      const resumed = await second;
      assert.equal(resumed.code, 0, resumed.output);
      assert.deepEqual(
        h.kube.stepJobs().map((j) => j.metadata.labels["dagops.dev/step"]),
        ["long", "next"],
        "no second Job for 'long'",
      );
      assert.equal(resumed.logs.find((l) => l.event === "run.started")!.adopted, 1);
      assert.ok(h.kube.events.some((e) => e.reason === "RunResumed"));
    } finally {
      await h.close();
    }
  });

  test("a create whose response was lost is not duplicated: the Job is adopted (by the watch, or by the retry's 409)", async () => {
    const plan = planFor(definition([{ name: "once" }]));
    const h = await harness(plan, () => succeed());
    try {
      h.kube.loseNextCreateResponse = true;
      const result = await h.start();
      expectExit(result, 0);
      const name = attemptJobName({ ...h.run, namespace: NS }, "once", 1);
      assert.ok(
        result.logs.some((l) => l.event === "step.create-failed" && l.job === name),
        result.output,
      );
      assert.equal(h.kube.stepJobs().length, 1);
      const retried = h.kube.requests.filter((r) => r.verb === "create" && r.resource === "jobs").length === 2;
      assert.equal(
        retried,
        result.logs.some((l) => l.event === "step.adopted" && l.job === name),
        "a retried create ends in adoption",
      );
    } finally {
      await h.close();
    }
  });

  test("the watch resumes after disconnects and re-lists after 410 Gone", async () => {
    const plan = planFor(definition([{ name: "a" }, { name: "b", dependsOn: ["a"] }, { name: "c", dependsOn: ["b"] }]));
    let kube: FakeKube | undefined;
    const h = await harness(plan, (step) => {
      if (step === "a") setTimeout(() => kube!.dropWatches(), 5);
      if (step === "b") setTimeout(() => (kube!.compact(), kube!.dropWatches()), 5);
      return succeed(100);
    });
    kube = h.kube;
    try {
      const result = await h.start();
      expectExit(result, 0);
      const { logs } = result;
      assert.ok(logs.filter((l) => l.event === "watch.resumed").length >= 2);
      assert.ok(logs.some((l) => l.event === "watch.relisted"));
      assert.ok(
        h.kube.requests.filter((r) => r.verb === "watch").every((r) => r.query.get("timeoutSeconds") === "300"),
        "the server ends watches, so a dead connection cannot hang the run",
      );
    } finally {
      await h.close();
    }
  });

  test("a missing plan (pruned revision) is reported and nothing runs", async () => {
    const h = await harness(planFor(definition([{ name: "a" }])), () => succeed());
    try {
      const io = captureIo(REPO, h.env);
      const code = await main(["run", "--plan", join(h.planFile, "..", "missing.yaml")], io);
      assert.equal(code, 1);
      const line = JSON.parse(io.out.join("").trim());
      assert.equal(line.event, "run.unusable");
      assert.equal(line.reason, "plan-superseded");
      assert.match(
        line.message,
        /pruned this revision.*Nothing was started.*npx dagops start demo \(or kubectl -n dagops-demo create job --from=cronjob\/demo/,
      );
      // The only request: looking for a plan copy this run would have made had it started.
      assert.deepEqual(
        h.kube.requests.map((r) => [r.verb, r.resource, r.name]),
        [["get", "configmaps", `${h.run.name}-plan`]],
      );
    } finally {
      await h.close();
    }
  });

  test("a plan that does not match its ConfigMap's hash is refused", async () => {
    const h = await harness(planFor(definition([{ name: "a" }])), () => succeed());
    try {
      await writeFile(h.planFile, (await readFile(h.planFile, "utf8")).replace("maxParallel: 10", "maxParallel: 11"));
      const io = captureIo(REPO, h.env);
      assert.equal(await main(["run", "--plan", h.planFile], io), 1);
      assert.equal(JSON.parse(io.out.join("").trim()).reason, "plan-altered");
      assert.deepEqual(h.kube.requests, []);
    } finally {
      await h.close();
    }
  });

  test("prewarm: placeholders at run start, owned by the run, low priority; released once every step has started", async () => {
    const plan = planFor(
      definition(
        [
          { name: "small" },
          { name: "big", dependsOn: ["small"], resources: { requests: { cpu: "2", memory: "4Gi" } } },
        ],
        { prewarm: true },
      ),
    );
    assert.equal(plan.placeholders!.length, 1, "the heaviest set of steps that can run at once is {big}");
    let placeholdersAtFirstStep = -1;
    let placeholder: any;
    const h = await harness(plan, (step) => {
      if (step === undefined) return { outcome: "hang" }; // a placeholder sleeps until deleted
      if (step === "small")
        [placeholdersAtFirstStep, placeholder] = [
          h.kube.placeholders().length,
          structuredClone(h.kube.placeholders()[0]),
        ];
      return succeed(30);
    });
    try {
      const result = await h.start();
      expectExit(result, 0);
      assert.equal(placeholdersAtFirstStep, 1, "created before the first step");
      assert.deepEqual(placeholder.metadata.ownerReferences, [
        { apiVersion: "batch/v1", kind: "Job", name: h.run.name, uid: h.run.uid },
      ]);
      const pod = placeholder.spec.template.spec;
      assert.equal(pod.priorityClassName, "dagops-placeholder");
      assert.deepEqual(pod.containers[0].resources.requests, { cpu: "2", memory: "4Gi" });
      assert.equal(pod.nodeSelector["karpenter.sh/nodepool"], "dagops-steps");
      assert.deepEqual(
        placeholder.spec.podFailurePolicy.rules[0],
        { action: "FailJob", onPodConditions: [{ type: "DisruptionTarget", status: "True" }] },
        "a preempted placeholder is not replaced",
      );
      const name = `${h.run.name}-warm-`;
      const deleted = h.kube.deletes.filter((d) => d.name.startsWith(name));
      assert.equal(deleted.length, 1);
      assert.equal(deleted[0]!.propagationPolicy, "Background");
      assert.ok(
        result.logs.findIndex((l) => l.event === "prewarm.released") >
          result.logs.findIndex((l) => l.event === "step.started" && l.step === "big"),
      );
      assert.equal(h.kube.placeholders().length, 0);
    } finally {
      await h.close();
    }
  });

  test("names stay within 63 characters, unique per step and attempt, for the longest run and step names", () => {
    const run = { name: "x".repeat(52) + "-29000000", uid: "0b8a7e2c-2f7a-4c3e-9a57-4c0e2c8f1a11", namespace: NS };
    const step = "s".repeat(40);
    const names = new Set<string>();
    for (let attempt = 1; attempt <= 30; attempt++) {
      for (const s of [step, step.slice(0, 39) + "t"]) {
        const name = attemptJobName(run, s, attempt);
        assert.ok(name.length <= MAX_JOB_NAME, name);
        assert.match(name, /^[a-z0-9]([-a-z0-9]*[a-z0-9])?$/);
        assert.equal(attemptJobName(run, s, attempt), name, "deterministic");
        names.add(name);
      }
    }
    assert.equal(names.size, 60);
    assert.notEqual(attemptJobName({ ...run, uid: "another-run" }, step, 1), attemptJobName(run, step, 1));
  });

  test("a real SIGTERM to the program exits 143 and the token is never printed", async () => {
    const plan = planFor(definition([{ name: "long" }]));
    const h = await harness(plan, () => ({ outcome: "hang" }));
    try {
      const child = spawn(process.execPath, [runManagerScript(), "run", "--plan", h.planFile], {
        env: { ...process.env, ...h.env },
        cwd: REPO,
      });
      let output = "";
      child.stdout.on("data", (d) => (output += d));
      child.stderr.on("data", (d) => (output += d));
      await until(() => h.kube.stepJobs().length === 1, 20_000);
      child.kill("SIGTERM");
      const code = await new Promise<number | null>((r) => child.on("exit", r));
      assert.equal(code, 143, output);
      assert.ok(output.includes('"event":"run.stopping"'), output);
      assert.ok(!output.includes(h.kube.token));
      assert.deepEqual(h.kube.deletes, []);
    } finally {
      await h.close();
    }
  });

  test("transient API errors at start (503, 429, a dropped connection) are retried, and the run proceeds", async () => {
    const plan = planFor(definition([{ name: "a" }]));
    const h = await harness(plan, () => succeed());
    let faults = 0;
    const injected = [{ status: 503 }, { status: 429 }, "drop"] as const;
    h.kube.fault = (r) =>
      r.verb === "get" && r.name === h.run.name && faults < injected.length ? injected[faults++] : undefined;
    h.env.DAGOPS_BACKOFF_SCALE = "0.01";
    try {
      const result = await h.start();
      expectExit(result, 0);
      assert.equal(faults, 3);
      assert.equal(result.logs.filter((l) => l.event === "api.retry").length, 3);
    } finally {
      await h.close();
    }
  });

  // A time limit: under a loaded machine this test once hung (its watches keep failing until the
  // adopting GET has run), which would stall the whole suite rather than fail it.
  test("a 409 on create, then a 503 on the GET that adopts the existing Job: retried, not the end of the run", {
    timeout: 60_000,
  }, async () => {
    const plan = planFor(definition([{ name: "a" }]));
    const h = await harness(plan, () => succeed());
    h.kube.loseNextCreateResponse = true;
    let failedGets = 0;
    // Watches fail until the adopting GET has worked, so the retried create (not a watch event) finds the Job.
    h.kube.fault = (r) =>
      r.verb === "watch" && failedGets < 2
        ? "drop"
        : r.verb === "get" && r.resource === "jobs" && r.name !== h.run.name && failedGets++ < 1
          ? { status: 503 }
          : undefined;
    h.env.DAGOPS_BACKOFF_SCALE = "0.01";
    try {
      const result = await h.start();
      expectExit(result, 0);
      assert.ok(
        result.logs.some((l) => l.event === "step.adopted"),
        result.output,
      );
      assert.equal(failedGets, 2, "one 503, then the GET that worked");
    } finally {
      await h.close();
    }
  });

  test("a definite answer about the run's own Job (401, 403, 404) ends it as unusable at once, without retries", async () => {
    for (const status of [401, 403, 404]) {
      const plan = planFor(definition([{ name: "a" }]));
      const h = await harness(plan, () => succeed());
      h.kube.fault = (r) => (r.verb === "get" && r.name === h.run.name ? { status } : undefined);
      try {
        const result = await h.start();
        expectExit(result, 1);
        assert.ok(
          result.logs.some((l) => l.event === "run.unusable" && new RegExp(`HTTP ${status}`).test(l.message)),
          result.output,
        );
        assert.equal(result.logs.filter((l) => l.event === "api.retry").length, 0);
      } finally {
        await h.close();
      }
    }
  });

  test("an API server that keeps failing for the whole retry budget: exit 2, so the Job retries the pod", async () => {
    const plan = planFor(definition([{ name: "a" }]));
    const h = await harness(plan, () => succeed());
    h.kube.fault = () => ({ status: 503 });
    h.env.DAGOPS_BACKOFF_SCALE = "0.001";
    try {
      const result = await h.start();
      expectExit(result, 2);
      assert.ok(
        result.logs.some((l) => l.event === "run.api-unavailable" && /still failing after/.test(l.message)),
        result.output,
      );
    } finally {
      await h.close();
    }
  });

  test("SIGTERM during a startup call that never answers: exit 143 at once", async () => {
    const plan = planFor(definition([{ name: "a" }]));
    const h = await harness(plan, () => succeed());
    h.kube.fault = (r) => (r.verb === "get" ? "hang" : undefined);
    try {
      const stop = new AbortController();
      const pending = h.start({ stop: stop.signal });
      await until(() => h.kube.requests.some((r) => r.verb === "get"));
      stop.abort();
      const result = await pending;
      expectExit(result, 143);
      assert.ok(
        result.logs.some((l) => l.event === "run.stopping"),
        result.output,
      );
    } finally {
      await h.close();
    }
  });

  test("a real SIGTERM while the API server never answers the first call: the process exits 143 within the grace period", async () => {
    const plan = planFor(definition([{ name: "a" }]));
    const h = await harness(plan, () => succeed());
    h.kube.fault = (r) => (r.verb === "get" ? "hang" : undefined);
    try {
      const child = spawn(process.execPath, [runManagerScript(), "run", "--plan", h.planFile], {
        env: { ...process.env, ...h.env },
        cwd: REPO,
      });
      let output = "";
      child.stdout.on("data", (d) => (output += d));
      child.stderr.on("data", (d) => (output += d));
      await until(() => h.kube.requests.some((r) => r.verb === "get"), 20_000);
      const sent = Date.now();
      child.kill("SIGTERM");
      const code = await new Promise<number | null>((r) => child.on("exit", r));
      assert.equal(code, 143, output);
      // The pod's grace period is 60 s; the program leaves within about a second of deciding.
      assert.ok(Date.now() - sent < 30_000, `exited ${Date.now() - sent} ms after SIGTERM`);
    } finally {
      await h.close();
    }
  });

  test("a relist that races a create does not take the new attempt for deleted", async () => {
    // a fails once; while its retry is being created, the watch expires (410) and the relist,
    // answered late, does not hold the new Job. Taken for deleted, it would fail the run.
    const plan = planFor(definition([{ name: "a", retries: 1 }]));
    let kube: FakeKube | undefined;
    const h = await harness(plan, (_step, attempt) => {
      if (attempt === 1) {
        // The watch drops 5 ms after the failure; the run manager reconnects (at most 250 ms
        // later), gets 410 and lists. The list answers 1.5 s later, and the retry (600 ms after
        // the failure) is created while it is in flight.
        setTimeout(() => ((kube!.listDelayMs = 1500), kube!.compact(), kube!.dropWatches()), 25);
        return { outcome: "fail", afterMs: 20 };
      }
      return succeed(500);
    });
    kube = h.kube;
    try {
      const result = await h.start({ retryDelay: { first: 600, max: 600 } });
      expectExit(result, 0);
      const relist = h.kube.requests.findLastIndex((r) => r.verb === "list" && r.resource === "jobs");
      const retry = h.kube.requests.findLastIndex((r) => r.verb === "create" && r.resource === "jobs");
      assert.ok(
        relist > 0 &&
          h.kube.arrivals[retry]! > h.kube.arrivals[relist]! &&
          h.kube.arrivals[retry]! < h.kube.arrivals[relist]! + 1500,
        `the retry was created while the relist was in flight: ${JSON.stringify(h.kube.requests.map((r, i) => [r.verb, r.resource, h.kube.arrivals[i]! - h.kube.arrivals[0]!]))}`,
      );
      assert.equal(h.kube.stepJobs().length, 2, "two attempts, never a third");
      assert.ok(!result.logs.some((l) => l.reason === "JobDeleted"), result.output);
    } finally {
      await h.close();
    }
  });

  test("after SIGTERM, creates not yet sent stay unsent", async () => {
    // Creates go out in batches of CREATE_BATCH: SIGTERM during the first batch keeps the second unsent.
    const plan = planFor(
      definition(
        Array.from({ length: CREATE_BATCH + 2 }, (_, i) => ({ name: `s${i}` })),
        { maxParallel: 100 },
      ),
    );
    const h = await harness(plan, () => ({ outcome: "hang" }));
    const stop = new AbortController();
    h.kube.fault = (r) => (r.verb === "create" && r.resource === "jobs" ? (stop.abort(), { delayMs: 100 }) : undefined);
    try {
      const result = await h.start({ stop: stop.signal });
      expectExit(result, 143);
      assert.equal(
        h.kube.requests.filter((r) => r.verb === "create" && r.resource === "jobs").length,
        CREATE_BATCH,
        "only the creates already on the wire",
      );
    } finally {
      await h.close();
    }
  });

  test("a create that failed with 500 waits out its backoff, whatever wakes the loop", async () => {
    const plan = planFor(definition([{ name: "a" }, { name: "b" }]));
    const h = await harness(plan, () => succeed(5));
    let failed = false;
    h.kube.fault = (r) =>
      r.verb === "create" && r.resource === "jobs" && !failed && h.kube.stepJobs().length === 1
        ? ((failed = true), { status: 500 })
        : undefined;
    h.env.DAGOPS_BACKOFF_SCALE = "0.2"; // first create backoff: 200 ms
    try {
      const result = await h.start();
      expectExit(result, 0);
      const creates = h.kube.requests
        .map((r, i) => [r, h.kube.arrivals[i]!] as const)
        .filter(([r]) => r.verb === "create" && r.resource === "jobs");
      assert.equal(creates.length, 3, "a, b (500), b again");
      assert.ok(
        creates[2]![1] - creates[1]![1] >= 190,
        `retried after ${creates[2]![1] - creates[1]![1]} ms, though a's success woke the loop earlier`,
      );
    } finally {
      await h.close();
    }
  });

  test("a kubeconfig that cannot work (missing, empty, garbage, /dev/null) is one JSON log line and exit 1", async () => {
    const plan = planFor(definition([{ name: "a" }]));
    const h = await harness(plan, () => succeed());
    const dir = await mkdtemp(join(tmpdir(), "kubeconfig-"));
    await writeFile(join(dir, "empty"), "");
    await writeFile(join(dir, "garbage"), "{{{ not: yaml ::");
    try {
      for (const path of [join(dir, "missing"), join(dir, "empty"), join(dir, "garbage"), "/dev/null"]) {
        h.env.KUBECONFIG = path;
        const result = await h.start();
        expectExit(result, 1);
        assert.deepEqual(
          result.logs.map((l) => [l.event, l.reason]),
          [["run.unusable", "kubeconfig"]],
          result.output,
        );
        assert.ok(!/\n\s+at /.test(result.output), "no stack trace");
      }
    } finally {
      await h.close();
      await rm(dir, { recursive: true, force: true });
    }
  });

  test("a damaged plan (null steps, dependsOn not a list) is plan-invalid, not a crash", async () => {
    const base = planFor(definition([{ name: "a" }, { name: "b", dependsOn: ["a"] }]));
    for (const damage of [
      (p: Plan) => ({ ...p, steps: [null, ...p.steps.slice(1)] }),
      (p: Plan) => ({ ...p, steps: p.steps.map((s, i) => (i === 1 ? { ...s, dependsOn: "a" } : s)) }),
    ]) {
      const h = await harness(damage(base) as unknown as Plan, () => succeed());
      try {
        const result = await h.start();
        expectExit(result, 1);
        assert.ok(
          result.logs.some(
            (l) => l.event === "run.unusable" && l.reason === "plan-invalid" && /steps\[[01]\]/.test(l.message),
          ),
          result.output,
        );
      } finally {
        await h.close();
      }
    }
  });

  test("a run record outlives the run: created at the start, one step key per finished attempt, the outcome at the end", async () => {
    const plan = planFor(definition([{ name: "extract" }, { name: "load", dependsOn: ["extract"], retries: 1 }]));
    const h = await harness(plan, (step, attempt) =>
      step === "load" && attempt === 1 ? { outcome: "fail", afterMs: 10 } : succeed(),
    );
    h.env.DAGOPS_CLUSTER = "prod";
    h.env.DAGOPS_LOG_GROUP = "/dagops/data-prod/run-managers";
    h.env.DAGOPS_STEPS_LOG_GROUP = "/aws/containerinsights/data-prod/application";
    try {
      expectExit(await h.start(), 0);
      const record = h.kube.configMaps.get(`${h.run.name}-record`)!;
      assert.deepEqual(record.metadata.labels, {
        "app.kubernetes.io/managed-by": "dagops",
        "dagops.dev/pipeline": "demo",
        "dagops.dev/run": h.run.name,
        "dagops.dev/record": "true",
        "dagops.dev/outcome": "succeeded",
      });
      assert.equal(
        record.metadata.ownerReferences,
        undefined,
        "not owned by the run's Job: its TTL does not take the record",
      );
      const run = JSON.parse(record.data["run.json"]);
      assert.deepEqual(
        [run.kind, run.pipeline, run.run, run.cluster, run.planRevision, run.trigger, run.outcome],
        ["RunRecord", "demo", h.run.name, "prod", h.env.DAGOPS_PLAN_CONFIGMAP, { kind: "manual" }, "succeeded"],
      );
      assert.ok(run.finishedAt >= run.startedAt);
      // Where the full logs went, for whoever reads the record after the pods are gone.
      assert.deepEqual(run.logs, {
        runManager: {
          logGroup: "/dagops/data-prod/run-managers",
          streams: `run-manager-kube.var.log.containers.${h.run.name}-*_dagops-demo_run-manager-*.log`,
        },
        steps: {
          logGroup: "/aws/containerinsights/data-prod/application",
          streams: `<node>-application.var.log.containers.${h.run.name}-<step>-*_dagops-demo_<step>-*.log`,
        },
      });
      const load = JSON.parse(record.data["step.load.json"]);
      assert.deepEqual(
        load.attempts.map((a: any) => [
          a.attempt,
          a.outcome,
          a.reason ?? null,
          a.job.startsWith(`${h.run.name}-load-`),
        ]),
        [
          [1, "failed", "BackoffLimitExceeded", true],
          [2, "succeeded", null, true],
        ],
      );
      // Patches, one small key at a time, never a rewrite: every record write after the create is a merge patch.
      const writes = h.kube.requests.filter((r) => r.resource === "configmaps" && r.name === `${h.run.name}-record`);
      assert.ok(
        writes.length >= 2 &&
          writes.every((r) => r.verb === "patch" && r.contentType === "application/merge-patch+json"),
      );
      // The run's Job goes (its TTL): the plan copy goes with it, the record stays.
      assert.ok(h.kube.configMaps.has(`${h.run.name}-plan`));
      h.kube.deleteJob(h.run.name);
      assert.ok(!h.kube.configMaps.has(`${h.run.name}-plan`), "the plan copy is garbage-collected with the run");
      assert.ok(h.kube.configMaps.has(`${h.run.name}-record`), "the record outlives the run");
      assert.deepEqual(h.kube.stepJobs(), [], "step Jobs went with the run");
    } finally {
      await h.close();
    }
  });

  test("a scheduled run's record says so; the record of a failed run names the failed step", async () => {
    const plan = planFor(definition([{ name: "a" }]));
    const h = await harness(plan, () => ({ outcome: "fail", afterMs: 10 }));
    h.kube.job(h.run.name)!.metadata.annotations["batch.kubernetes.io/cronjob-scheduled-timestamp"] =
      "2026-12-01T02:00:00Z";
    try {
      expectExit(await h.start(), 1);
      const run = JSON.parse(h.kube.configMaps.get(`${h.run.name}-record`)!.data["run.json"]);
      assert.deepEqual(
        [run.trigger, run.outcome, run.failedSteps],
        [{ kind: "schedule", scheduledAt: "2026-12-01T02:00:00Z" }, "failed", ["a"]],
      );
    } finally {
      await h.close();
    }
  });

  test("retention: the oldest records beyond history.keep are deleted when a run ends", async () => {
    const plan = planFor(definition([{ name: "a" }], { history: { keep: 3 } }));
    const h = await harness(plan, () => succeed());
    for (let i = 0; i < 4; i++) {
      await fetch(`${h.url}/api/v1/namespaces/${NS}/configmaps`, {
        method: "POST",
        headers: { authorization: `Bearer ${h.kube.token}`, "content-type": "application/json" },
        body: JSON.stringify({
          metadata: {
            name: `demo-old-${i}-record`,
            labels: { "dagops.dev/pipeline": "demo", "dagops.dev/record": "true" },
          },
          data: {},
        }),
      });
      await new Promise((r) => setTimeout(r, 5));
    }
    h.kube.requests.length = 0;
    try {
      expectExit(await h.start(), 0);
      const left = [...h.kube.configMaps.keys()].filter((n) => n.endsWith("-record")).sort();
      assert.deepEqual(
        left,
        [`${h.run.name}-record`, "demo-old-2-record", "demo-old-3-record"],
        JSON.stringify(h.kube.requests.filter((r) => r.resource === "configmaps").map((r) => [r.verb, r.name])),
      );
    } finally {
      await h.close();
    }
  });

  test("a pod restarted after a deploy pruned its plan reads the run's plan copy, checks its hash and carries on", async () => {
    const plan = planFor(definition([{ name: "a" }, { name: "b", dependsOn: ["a"] }]));
    const h = await harness(plan, (step) => (step === "a" ? { outcome: "hang" } : succeed()));
    try {
      const stop = new AbortController();
      const first = h.start({ stop: stop.signal });
      await until(() => h.kube.stepJobs().length === 1 && h.kube.configMaps.has(`${h.run.name}-plan`));
      stop.abort();
      expectExit(await first, 143);
      // The sync pruned the plan revision: the next pod's mount is empty.
      const io = captureIo(REPO, h.env);
      const second = main(["run", "--plan", join(h.planFile, "..", "pruned", "plan.yaml")], io, {
        retryDelay: FAST_RETRY,
      });
      await until(() => io.out.join("").includes('"event":"run.started"'));
      h.kube.finish(h.kube.stepJobs()[0]!.metadata.name, "succeed");
      assert.equal(await second, 0, io.text());
      assert.match(io.out.join(""), /"event":"plan.from-copy"/);
      assert.deepEqual(
        h.kube.stepJobs().map((j) => j.metadata.labels["dagops.dev/step"]),
        ["a", "b"],
        "adopted, not restarted",
      );
      // An altered copy is refused like an altered mount.
      h.kube.configMaps.get(`${h.run.name}-plan`)!.data["plan.yaml"] += "\n# edited\n";
      const altered = captureIo(REPO, h.env);
      assert.equal(await main(["run", "--plan", join(h.planFile, "..", "pruned", "plan.yaml")], altered), 1);
      assert.match(altered.out.join(""), /plan-altered/);
    } finally {
      await h.close();
    }
  });

  test("an image that cannot be pulled fails its step after 3 minutes (scaled here), without spending retries, and its Job goes", async () => {
    const plan = planFor(definition([{ name: "a", retries: 3 }]));
    const h = await harness(plan, () => ({
      outcome: "hang",
      waiting: {
        reason: "ImagePullBackOff",
        message: 'Back-off pulling image "registry.example.com/demo:1.0.0": not found',
      },
    }));
    h.env.DAGOPS_BACKOFF_SCALE = "0.001"; // 3 min → 180 ms
    try {
      const result = await h.start();
      expectExit(result, 1);
      assert.equal(
        h.kube.requests.filter((r) => r.verb === "create" && r.resource === "jobs").length,
        1,
        "no retry: it cannot help",
      );
      assert.ok(
        h.kube.deletes.some((d) => d.propagationPolicy === "Background"),
        "the attempt's Job is deleted with its pod",
      );
      const stuck = result.logs.find((l) => l.event === "step.cannot-start")!;
      assert.deepEqual([stuck.reason, stuck.spendsRetry], ["ImagePullFailed", false]);
      assert.match(
        stuck.message,
        /^image registry\.example\.com\/demo:1\.0\.0 cannot be pulled: Back-off pulling image .*not found$/,
      );
      const record = JSON.parse(h.kube.configMaps.get(`${h.run.name}-record`)!.data["step.a.json"]);
      assert.deepEqual(
        [
          record.attempts[0].reason,
          record.attempts[0].message.startsWith("image registry.example.com/demo:1.0.0 cannot be pulled"),
        ],
        ["ImagePullFailed", true],
      );
      assert.ok(
        h.kube.events.some((e) => e.reason === "StepFailed" && /ImagePullFailed\): image registry/.test(e.message)),
      );
    } finally {
      await h.close();
    }
  });

  test("a missing Secret fails its step after 2 minutes (scaled), naming what is missing", async () => {
    const plan = planFor(definition([{ name: "a", retries: 2 }]));
    const h = await harness(plan, () => ({
      outcome: "hang",
      waiting: { reason: "CreateContainerConfigError", message: 'secret "db-credentials" not found' },
    }));
    h.env.DAGOPS_BACKOFF_SCALE = "0.001";
    try {
      const result = await h.start();
      expectExit(result, 1);
      const stuck = result.logs.find((l) => l.event === "step.cannot-start")!;
      assert.deepEqual(
        [stuck.reason, stuck.message],
        ["ContainerConfigError", 'the container cannot be created: secret "db-credentials" not found'],
      );
      assert.equal(h.kube.requests.filter((r) => r.verb === "create" && r.resource === "jobs").length, 1);
    } finally {
      await h.close();
    }
  });

  test("a pod unschedulable past schedulingTimeout fails its attempt with the scheduler's message, and spends a retry", async () => {
    const plan = planFor(definition([{ name: "a", retries: 1 }], { schedulingTimeout: "1m" }));
    const h = await harness(plan, (_s, attempt) =>
      attempt === 1 ? { outcome: "hang", unschedulable: "0/3 nodes are available: 3 Insufficient memory." } : succeed(),
    );
    h.env.DAGOPS_BACKOFF_SCALE = "0.002"; // 1 min → 120 ms
    try {
      const result = await h.start();
      expectExit(result, 0);
      const stuck = result.logs.find((l) => l.event === "step.cannot-start")!;
      assert.deepEqual([stuck.reason, stuck.spendsRetry], ["Unschedulable", true]);
      assert.match(
        stuck.message,
        /no node could take the pod within schedulingTimeout \(1m\): 0\/3 nodes are available: 3 Insufficient memory\./,
      );
      assert.equal(h.kube.stepJobs().length, 1, "attempt 1 deleted, attempt 2 ran");
    } finally {
      await h.close();
    }
  });

  test("OOMKilled is named, with the memory limit and what to do; a failed container's last log lines reach the record", async () => {
    const plan = planFor(
      definition([
        { name: "big", resources: { limits: { memory: "256Mi" } } },
        { name: "crash", dependsOn: [] },
      ]),
    );
    const h = await harness(plan, (step) =>
      step === "big"
        ? { outcome: "fail", afterMs: 20, terminated: { reason: "OOMKilled", exitCode: 137 } }
        : {
            outcome: "fail",
            afterMs: 20,
            terminated: {
              reason: "Error",
              exitCode: 3,
              message: "Traceback (most recent call last):\nValueError: bad row 17\n",
            },
          },
    );
    try {
      const result = await h.start();
      expectExit(result, 1);
      await until(
        () =>
          JSON.parse(h.kube.configMaps.get(`${h.run.name}-record`)!.data["step.crash.json"]).attempts[0].message !==
          undefined,
      );
      const big = JSON.parse(h.kube.configMaps.get(`${h.run.name}-record`)!.data["step.big.json"]).attempts[0];
      assert.deepEqual([big.reason, big.exitCode, big.node], ["OOMKilled", 137, "ip-10-0-1-23.ec2.internal"]);
      assert.equal(
        big.message,
        "the container was killed for using more memory than its limit (256Mi); raise resources.limits.memory",
      );
      const crash = JSON.parse(h.kube.configMaps.get(`${h.run.name}-record`)!.data["step.crash.json"]).attempts[0];
      assert.deepEqual(
        [crash.exitCode, crash.message],
        [3, "Traceback (most recent call last):\nValueError: bad row 17\n"],
      );
    } finally {
      await h.close();
    }
  });

  test("the generated Role grants exactly the verbs these runs used", () => {
    const group = { jobs: "batch", leases: "coordination.k8s.io" } as Record<string, string>;
    const used = new Set(allRequests.map((r) => `${group[r.resource] ?? ""}/${r.resource}/${r.verb}`));
    const granted = new Set(
      [...RUN_MANAGER_RULES, ...RUN_MANAGER_NODE_RULES].flatMap((rule) =>
        rule.apiGroups.flatMap((g) => rule.resources.flatMap((res) => rule.verbs.map((v) => `${g}/${res}/${v}`))),
      ),
    );
    assert.deepEqual([...used].sort(), [...granted].sort());
  });
});

function expectExit(result: { code: number; output: string }, code: number): void {
  assert.equal(result.code, code, result.output);
}

async function until(condition: () => boolean, timeoutMs = 5000): Promise<void> {
  const end = Date.now() + timeoutMs;
  while (!condition()) {
    if (Date.now() > end) throw new Error("timed out waiting for a condition");
    await new Promise((r) => setTimeout(r, 10));
  }
}

describe("metrics", () => {
  test("a finished run logs CloudWatch Embedded Metric Format lines: one for the run, one per step", async () => {
    const plan = planFor(definition([{ name: "a" }, { name: "b", dependsOn: ["a"], retries: 1 }]));
    const h = await harness(plan, (step, attempt) =>
      step === "b" && attempt === 1 ? { outcome: "interrupt", afterMs: 10 } : succeed(),
    );
    h.env.DAGOPS_CLUSTER = "prod";
    try {
      const { code, logs } = await h.start();
      assert.equal(code, 0);
      const run = logs.find((l) => l.event === "run.metrics")!;
      assert.deepEqual(run._aws.CloudWatchMetrics[0].Namespace, "dagops");
      assert.deepEqual(run._aws.CloudWatchMetrics[0].Dimensions, [
        ["Pipeline", "Cluster"],
        ["Pipeline", "Cluster", "Outcome"],
      ]);
      assert.deepEqual(
        [run.Pipeline, run.Cluster, run.Outcome, run.RunSucceeded, run.RunFailed, run.StepAttempts, run.Interruptions],
        ["demo", "prod", "succeeded", 1, 0, 3, 1],
      );
      assert.equal(typeof run._aws.Timestamp, "number");
      // Every metric named in the directive has a numeric value at the root, as EMF requires.
      for (const m of run._aws.CloudWatchMetrics[0].Metrics) assert.equal(typeof run[m.Name], "number", m.Name);
      const steps = logs.filter((l) => l.event === "step.metrics");
      assert.deepEqual(
        steps.map((s) => [s.Step, s.StepAttempts, s.StepInterruptions]),
        [
          ["a", 1, 0],
          ["b", 2, 1],
        ],
      );
    } finally {
      await h.close();
    }
  });
});

describe("run records", () => {
  // What the API server counts against a ConfigMap's 1 MiB: the bytes of keys and values.
  const sizeOf = (data: Record<string, string>) =>
    Object.entries(data).reduce((n, [k, v]) => n + Buffer.byteLength(k) + Buffer.byteLength(v), 0);
  async function record500(shape: {
    name: (i: number) => string;
    node: string;
    failed: (i: number) => boolean;
    message: string;
  }) {
    const { runHead, stepRecord, stepKey, RUN_KEY, messageCap } = await import("../../src/contract/record.ts");
    const run = { name: "p".padEnd(52, "x"), uid: "0".repeat(36), namespace: `dagops-${"p".padEnd(40, "x")}` };
    const plan = { pipeline: "p".padEnd(40, "x"), steps: [] } as unknown as Plan;
    const steps = Array.from({ length: 500 }, (_, i) => shape.name(i));
    const data: Record<string, string> = {
      [RUN_KEY]: JSON.stringify(
        runHead({
          plan,
          run,
          cluster: "c".padEnd(63, "x"),
          planRevision: "p".padEnd(63, "x"),
          scheduledAt: "2026-12-01T02:00:00Z",
          startedAt: 0,
          finishedAt: 1,
          outcome: "failed",
          failedSteps: steps.filter((_, i) => shape.failed(i)),
        }),
      ),
    };
    steps.forEach((step, i) => {
      // Two interruptions, then a success, or a failure with the longest message (a log tail).
      const attempts = [1, 2, 3].map((attempt) => ({
        attempt,
        capacity: "on-demand" as const,
        outcome:
          attempt < 3 ? ("interrupted" as const) : shape.failed(i) ? ("failed" as const) : ("succeeded" as const),
        reason: attempt < 3 ? "PodFailurePolicy" : shape.failed(i) ? "R".repeat(10_000) : undefined,
        ...(attempt === 3 && shape.failed(i) ? { message: shape.message, exitCode: 137 } : {}),
        node: shape.node,
        startedAt: Date.now(),
        finishedAt: Date.now(),
      }));
      data[stepKey(step)] = stepRecord(
        step,
        attempts,
        (attempt) => attemptJobName(run, step, attempt),
        messageCap(steps.length),
      );
    });
    return sizeOf(data);
  }

  test("a 500-step run with 3 attempts each: its record stays under 512 KiB", async () => {
    // Realistic names and nodes; a tenth of the steps fail with a 2 KiB log tail.
    const bytes = await record500({
      name: (i) => `classify-store-${i}`,
      node: "ip-10-0-117-23.ec2.internal",
      failed: (i) => i % 10 === 0,
      message: "M".repeat(2048),
    });
    assert.ok(bytes < 512 * 1024, `${bytes} bytes`);
  });

  test("the worst case (the longest names and nodes, every step failed with a long log tail) still fits a ConfigMap", async () => {
    const bytes = await record500({
      name: (i) => `s${i}-`.padEnd(40, "x"),
      node: "n".padEnd(63, "x"),
      failed: () => true,
      message: "M".repeat(10_000),
    });
    assert.ok(bytes < 1024 * 1024 - 64 * 1024, `${bytes} bytes, with room left under the 1 MiB limit`);
  });
});

describe("alerts", () => {
  interface Hook {
    readonly url: string;
    readonly bodies: string[];
    behave: (n: number) => "ok" | "500" | "hang";
    close(): Promise<void>;
  }
  async function webhook(): Promise<Hook> {
    const bodies: string[] = [];
    const hook = {
      bodies,
      behave: (_n: number): "ok" | "500" | "hang" => "ok",
    } as Hook & { behave: (n: number) => "ok" | "500" | "hang" };
    const { createServer } = await import("node:http");
    const server = createServer((req, res) => {
      let body = "";
      req.on("data", (c) => (body += c));
      req.on("end", () => {
        const b = hook.behave(bodies.length);
        bodies.push(body);
        if (b === "hang") return;
        res.writeHead(b === "ok" ? 200 : 500);
        res.end(b === "ok" ? "ok" : "boom");
      });
    });
    await new Promise<void>((r) => server.listen(0, "127.0.0.1", r));
    const port = (server.address() as { port: number }).port;
    return Object.assign(hook, {
      url: `http://127.0.0.1:${port}/services/T000/B000/SECRET-TOKEN-xyz`,
      close: async () => {
        server.closeAllConnections();
        await new Promise<void>((r) => server.close(() => r()));
      },
    });
  }
  const notify = (
    format: "slack" | "json",
    key = "url",
    on: ("failed" | "timed-out" | "succeeded")[] = ["failed", "timed-out"],
  ) => ({ on, webhook: { secretKeyRef: { name: "alerts", key } }, format });
  const withSecret = (h: Harness, data: Record<string, string>) => {
    h.kube.secrets.set("alerts", {
      apiVersion: "v1",
      kind: "Secret",
      metadata: { name: "alerts", namespace: NS },
      data: Object.fromEntries(Object.entries(data).map(([k, v]) => [k, Buffer.from(v).toString("base64")])),
    });
    h.env.DAGOPS_CLUSTER = "prod";
    h.env.DAGOPS_BACKOFF_SCALE = "0.01";
  };

  test("a failed run alerts in Slack and JSON form; the run's outcome is its own; the URL is never printed", async () => {
    const hook = await webhook();
    const plan = planFor(
      definition([{ name: "load" }], { notify: [notify("slack", "slack"), notify("json", "json")] }),
    );
    const h = await harness(plan, () => ({
      outcome: "fail",
      afterMs: 10,
      terminated: { reason: "Error", exitCode: 1, message: "loading 17 rows\nValueError: row 17 has no id\n" },
    }));
    withSecret(h, { slack: hook.url, json: hook.url });
    try {
      const result = await h.start();
      expectExit(result, 1);
      assert.equal(hook.bodies.length, 2);
      const slack = JSON.parse(hook.bodies[0]!);
      assert.match(
        slack.text,
        /^:x: dagops: \*demo\* run `demo-29000000` failed on \*prod\* after \d+s\.\nFailed step: \*load\* \(BackoffLimitExceeded\)\n```loading 17 rows\nValueError: row 17 has no id\n```\nMore: `kubectl -n dagops-demo get configmap demo-29000000-record -o yaml`$/,
      );
      const json = JSON.parse(hook.bodies[1]!);
      assert.deepEqual(
        [json.pipeline, json.cluster, json.run, json.outcome, json.failedStep],
        [
          "demo",
          "prod",
          "demo-29000000",
          "failed",
          { name: "load", reason: "BackoffLimitExceeded", logTail: "loading 17 rows\nValueError: row 17 has no id\n" },
        ],
      );
      assert.equal(result.logs.filter((l) => l.event === "alert.sent").length, 2);
      assert.ok(
        !result.output.includes("SECRET-TOKEN-xyz") && !result.output.includes(hook.url),
        "the webhook URL is a secret",
      );
      assert.deepEqual(
        h.kube.requests.filter((r) => r.resource === "secrets").map((r) => [r.verb, r.name]),
        [
          ["get", "alerts"],
          ["get", "alerts"],
        ],
      );
    } finally {
      await h.close();
      await hook.close();
    }
  });

  test("a webhook that answers 500 is retried with backoff; one that hangs or refuses gives up within the budget; the outcome never changes", async () => {
    const hook = await webhook();
    hook.behave = (n) => (n === 0 ? "500" : "ok");
    const plan = planFor(definition([{ name: "a" }], { notify: [notify("json")] }));
    const h = await harness(plan, () => ({ outcome: "fail", afterMs: 10 }));
    withSecret(h, { url: hook.url });
    try {
      const retried = await h.start();
      expectExit(retried, 1);
      assert.deepEqual(
        retried.logs.filter((l) => l.event.startsWith("alert.")).map((l) => [l.event, l.error ?? null]),
        [
          ["alert.retry", "HTTP 500"],
          ["alert.sent", null],
        ],
      );
      hook.behave = () => "hang";
      const hung = await h.start();
      expectExit(hung, 1);
      assert.ok(
        hung.logs.some((l) => l.event === "alert.failed" && /no answer in time; gave up after 1 s/.test(l.error)),
        hung.output,
      );
      await hook.close();
      const refused = await h.start();
      expectExit(refused, 1);
      assert.ok(
        refused.logs.some((l) => l.event === "alert.failed" && /connection refused/.test(l.error)),
        refused.output,
      );
      for (const r of [retried, hung, refused]) assert.ok(!r.output.includes("SECRET-TOKEN-xyz"));
    } finally {
      await h.close();
    }
  });

  test("only the outcomes a rule names send it; the Role allows get on exactly the named Secrets", async () => {
    const { runManagerRules } = await import("../../src/charts/run-manager-rbac.ts");
    const hook = await webhook();
    const plan = planFor(definition([{ name: "a" }], { notify: [notify("json")] }));
    const h = await harness(plan, () => succeed());
    withSecret(h, { url: hook.url });
    try {
      expectExit(await h.start(), 0);
      assert.equal(hook.bodies.length, 0, "a succeeded run; the rule is for failed and timed-out");
      assert.deepEqual(runManagerRules(["alerts", "alerts"]).at(-1), {
        apiGroups: [""],
        resources: ["secrets"],
        verbs: ["get"],
        resourceNames: ["alerts"],
      });
    } finally {
      await h.close();
      await hook.close();
    }
  });
});
