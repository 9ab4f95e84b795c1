/**
 * The `dagops` operator command against the simulated API server (test/support/fake-kube.ts), with the
 * example repository's real generated CronJob and plan (generated/staging/…/customer-classification).
 * Where a run must happen, the test plays the Job controller: each run Job created starts a real
 * run manager as a child process (src/runner/main.ts), and its exit code finishes the Job. Not a
 * cluster: no kubelet, no scheduler; step Jobs end as the test's script says.
 */
import assert from "node:assert/strict";
import { spawn, type ChildProcess } from "node:child_process";
import { createHash } from "node:crypto";
import { mkdtemp, readFile, rm, writeFile } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { after, describe, test } from "node:test";
import { parse, stringify } from "yaml";
import { main as dagops } from "../../src/ops/main.ts";
import { FakeKube, type Outcome } from "../support/fake-kube.ts";
import { captureIo, REPO, exampleTree } from "../support/helpers.ts";
import { runManagerScript } from "../support/built.ts";

/** The tests' own example repository, synthesized (test/support/helpers.ts). */
const EXAMPLE_ROOT = await exampleTree();

const PIPELINE = "customer-classification";
const NS = `dagops-${PIPELINE}`;
const GENERATED = join(EXAMPLE_ROOT, "generated/staging/pipelines", PIPELINE);
type Obj = Record<string, any>;

interface Cluster {
  readonly kube: FakeKube;
  readonly url: string;
  readonly kubeconfig: string;
  /** Exit codes of the run managers, by run. */
  readonly exits: Map<string, number>;
  readonly output: Map<string, string>;
  dagops(...args: string[]): Promise<{ code: number; out: string; err: string }>;
  /** Moves the clock `dagops` runs with forward: run names carry the second they were made in. */
  later(ms: number): void;
  /** Runs `dagops` as a child process (`npx dagops` would run the same file). */
  dagopsProcess(
    args: string[],
    onSpawn?: (child: ChildProcess) => void,
  ): Promise<{ code: number | null; out: string; err: string }>;
  record(run: string): { head: Obj; steps: Record<string, Obj> } | undefined;
  waitFor(condition: () => boolean, ms?: number): Promise<void>;
  close(): Promise<void>;
}

const clusters: Cluster[] = [];
after(async () => {
  for (const c of clusters) await c.close();
});

/** The deployed pipeline: the generated CronJob and plan, with the plan edited and renamed for its new hash when asked. */
async function deploy(kube: FakeKube, edit?: (plan: Obj) => void): Promise<{ planName: string }> {
  const cronJob = parse(await readFile(join(GENERATED, `cronjob-${PIPELINE}.yaml`), "utf8")) as Obj;
  const planCm = parse(await readFile(join(GENERATED, "configmap-plan.yaml"), "utf8")) as Obj;
  let text: string = planCm.data["plan.yaml"];
  if (edit) {
    const plan = parse(text);
    edit(plan);
    text = stringify(plan);
  }
  const planName = `${PIPELINE}-plan-${createHash("sha256").update(text).digest("hex").slice(0, 10)}`;
  const pod = cronJob.spec.jobTemplate.spec.template.spec;
  for (const e of pod.containers[0].env) if (e.name === "DAGOPS_PLAN_CONFIGMAP") e.value = planName;
  for (const v of pod.volumes) if (v.name === "plan") v.configMap.name = planName;
  kube.configMaps.set(planName, {
    apiVersion: "v1",
    kind: "ConfigMap",
    metadata: {
      name: planName,
      namespace: NS,
      uid: `plan-${planName}`,
      creationTimestamp: new Date().toISOString(),
      resourceVersion: "1",
    },
    data: { "plan.yaml": text },
  });
  cronJob.metadata.uid = "cronjob-uid-1";
  kube.cronJobs.set(PIPELINE, cronJob);
  return { planName };
}

/**
 * `backoffScale` scales the run managers' backoffs and Lease (default 0.01: a 1 s Lease); a test
 * that moves the clock of `dagops` (`later`) while a run holds its Lease keeps the Lease longer.
 */
async function cluster(
  options: {
    script?: FakeKube["script"];
    edit?: (plan: Obj) => void;
    runManagers?: boolean;
    backoffScale?: string;
  } = {},
): Promise<Cluster> {
  const kube = new FakeKube();
  if (options.script) kube.script = options.script;
  const url = await kube.start();
  const kubeconfig = await kube.kubeconfig(url);
  await deploy(kube, options.edit);
  const exits = new Map<string, number>();
  const output = new Map<string, string>();
  const children = new Set<ChildProcess>();
  // The Job controller, for run Jobs: one run-manager pod, and the Job ends with its exit code.
  if (options.runManagers !== false) kube.onRunJob = (job) => void startRunManager(job);
  async function startRunManager(job: Obj): Promise<void> {
    const container = job.spec.template.spec.containers[0];
    const dir = await mkdtemp(join(tmpdir(), "run-manager-pod-"));
    const planName = job.spec.template.spec.volumes.find((v: Obj) => v.name === "plan").configMap.name;
    const text = kube.configMaps.get(planName)?.data?.["plan.yaml"];
    if (text !== undefined) await writeFile(join(dir, "plan.yaml"), text);
    const fields: Record<string, string> = {
      "metadata.namespace": job.metadata.namespace,
      "metadata.name": `${job.metadata.name}-pod`,
      "metadata.labels['batch.kubernetes.io/job-name']": job.metadata.name,
      "metadata.labels['batch.kubernetes.io/controller-uid']": job.metadata.uid,
    };
    const env: Record<string, string> = {
      KUBECONFIG: kubeconfig,
      DAGOPS_BACKOFF_SCALE: options.backoffScale ?? "0.01",
      PATH: process.env.PATH ?? "",
    };
    for (const e of container.env) env[e.name] = e.value ?? fields[e.valueFrom.fieldRef.fieldPath];
    const args = container.args.map((a: string) => (a === "/etc/dagops/plan/plan.yaml" ? join(dir, "plan.yaml") : a));
    const child = spawn(process.execPath, [runManagerScript(), ...args], { env, cwd: REPO });
    children.add(child);
    let text2 = "";
    child.stdout.on("data", (d) => (text2 += d));
    child.stderr.on("data", (d) => (text2 += d));
    child.on("exit", (code) => {
      children.delete(child);
      void rm(dir, { recursive: true, force: true });
      exits.set(job.metadata.name, code ?? -1);
      output.set(job.metadata.name, text2);
      kube.finish(job.metadata.name, code === 0 ? "succeed" : "fail");
    });
  }
  let skew = 0;
  const c: Cluster = {
    kube,
    url,
    kubeconfig,
    exits,
    output,
    async dagops(...args) {
      const io = captureIo(EXAMPLE_ROOT, { KUBECONFIG: kubeconfig });
      const code = await dagops(args, io, { pollMs: 50, now: () => Date.now() + skew });
      return { code, out: io.out.join(""), err: io.err.join("") };
    },
    later(ms) {
      skew += ms;
    },
    dagopsProcess(args, onSpawn) {
      return new Promise((resolve) => {
        const child = spawn(process.execPath, [join(REPO, "src/cli/dagops.mjs"), ...args], {
          env: { PATH: process.env.PATH ?? "", KUBECONFIG: kubeconfig },
          cwd: REPO,
        });
        let out = "";
        let err = "";
        child.stdout.on("data", (d) => (out += d));
        child.stderr.on("data", (d) => (err += d));
        onSpawn?.(child);
        child.on("exit", (code) => resolve({ code, out, err }));
      });
    },
    record(run) {
      const cm = kube.configMaps.get(`${run}-record`);
      if (!cm) return undefined;
      const steps = Object.fromEntries(
        Object.entries(cm.data as Record<string, string>)
          .filter(([k]) => k.startsWith("step."))
          .map(([k, v]) => [k.slice(5, -5), JSON.parse(v)]),
      );
      return { head: JSON.parse(cm.data["run.json"]), steps };
    },
    async waitFor(condition, ms = 30_000) {
      const end = Date.now() + ms;
      while (!condition()) {
        if (Date.now() > end) throw new Error(`timed out; run managers said:\n${[...output.values()].join("\n")}`);
        await new Promise((r) => setTimeout(r, 25));
      }
    },
    async close() {
      for (const child of children) child.kill("SIGKILL");
      await kube.stop();
    },
  };
  clusters.push(c);
  return c;
}

const runJobs = (kube: FakeKube): Obj[] =>
  kube.runJobs().filter((j) => j.metadata.namespace === NS && j.metadata.labels?.["dagops.dev/role"] === "run-manager");
const stepJobsOf = (kube: FakeKube, run: string) =>
  kube.stepJobs().filter((j) => j.metadata.labels["dagops.dev/run"] === run);
const envOf = (job: Obj) =>
  Object.fromEntries(
    job.spec.template.spec.containers[0].env
      .filter((e: Obj) => e.value !== undefined)
      .map((e: Obj) => [e.name, e.value]),
  );

/** Kubernetes' `$(VAR)` expansion in command and args: variables defined in the container's env; `$$` escapes. */
function expand(text: string, env: Record<string, string>): string {
  return text.replace(/\$\$|\$\(([A-Za-z_][A-Za-z0-9_]*)\)/g, (m, name: string | undefined) =>
    m === "$$" ? "$" : name !== undefined && name in env ? env[name]! : m,
  );
}

const finished = (c: Cluster, run: string) => () => c.exits.has(run) && c.record(run)?.head.outcome !== "running";

describe("dagops start", () => {
  test("a manual run from the CronJob's template: labelled with who and why, parameters checked, recorded and in every step's env", async () => {
    const c = await cluster();
    const r = await c.dagops(
      "start",
      PIPELINE,
      "--param",
      "date=2026-11-30",
      "--param",
      "tenant=acme",
      "--reason",
      "re-run after the outage",
    );
    assert.equal(r.code, 0, r.err);
    const run = /started run (\S+)/.exec(r.out)![1]!;
    assert.match(run, /^customer-classification-m\d{12}$/);
    const job = c.kube.job(run)!;
    assert.equal(job.metadata.annotations["cronjob.kubernetes.io/instantiate"], "manual");
    assert.equal(
      job.metadata.annotations["dagops.dev/started-by"],
      "jane@example.com",
      "who: the API server's SelfSubjectReview",
    );
    assert.equal(job.metadata.annotations["dagops.dev/reason"], "re-run after the outage");
    assert.deepEqual(job.metadata.ownerReferences, [
      { apiVersion: "batch/v1", kind: "CronJob", name: PIPELINE, uid: "cronjob-uid-1", controller: true },
    ]);
    assert.deepEqual(
      job.spec,
      c.kube.cronJobs.get(PIPELINE)!.spec.jobTemplate.spec,
      "the CronJob's job template, unchanged",
    );
    await c.waitFor(finished(c, run));
    assert.equal(c.exits.get(run), 0, c.output.get(run));
    const { head, steps } = c.record(run)!;
    assert.equal(head.outcome, "succeeded");
    assert.deepEqual(head.trigger, { kind: "manual", by: "jane@example.com", reason: "re-run after the outage" });
    assert.deepEqual(head.params, { date: "2026-11-30", tenant: "acme" });
    assert.equal(head.uri, `s3://example-data-staging-artifacts/dagops/${PIPELINE}/${run}/`);
    // The node each attempt ran on, with its instance type and capacity type.
    const attempt = steps["discover-accounts"]!.attempts[0];
    assert.equal(attempt.instanceType, "m6i.large");
    assert.equal(attempt.capacityType, "spot");
    // Every step: the parameters, the run's id and URI; each dependency's folder.
    const discover = stepJobsOf(c.kube, run).find((j) => j.metadata.labels["dagops.dev/step"] === "discover-accounts")!;
    const env = envOf(discover);
    assert.equal(env.DAGOPS_PARAM_DATE, "2026-11-30");
    assert.equal(env.DAGOPS_PARAM_TENANT, "acme");
    assert.equal(env.DAGOPS_RUN_ID, run);
    const args = discover.spec.template.spec.containers[0].args.map((a: string) => expand(a, env));
    assert.deepEqual(
      args,
      ["--date", "2026-11-30", "--tenant", "acme"],
      "Kubernetes expands $(DAGOPS_PARAM_…) in args",
    );
    const scan = envOf(stepJobsOf(c.kube, run).find((j) => j.metadata.labels["dagops.dev/step"] === "scan-s3")!);
    assert.equal(
      scan.DAGOPS_INPUT_DISCOVER_ACCOUNTS,
      `s3://example-data-staging-artifacts/dagops/${PIPELINE}/${run}/discover-accounts/`,
    );
  });

  test("defaults: scheduled-date is the run's day (the start, for a manual run); a literal default as written", async () => {
    const c = await cluster();
    const now = Date.parse("2026-11-30T23:30:00Z");
    const io = captureIo(EXAMPLE_ROOT, { KUBECONFIG: c.kubeconfig });
    assert.equal(await dagops(["start", PIPELINE], io, { pollMs: 50, now: () => now }), 0, io.text());
    const run = /started run (\S+)/.exec(io.out.join(""))![1]!;
    await c.waitFor(finished(c, run));
    const day = new Date(Date.parse(c.kube.job(run)!.metadata.creationTimestamp)).toISOString().slice(0, 10);
    assert.deepEqual(c.record(run)!.head.params, { date: day, tenant: "all" });
  });

  test("bad parameter values are refused before anything is created, naming the parameter", async () => {
    const c = await cluster({ runManagers: false });
    const cases: [string[], RegExp][] = [
      [["--param", "date=2026-02-30"], /parameter date is a date: expected a day as YYYY-MM-DD.*found "2026-02-30"/],
      [["--param", "tenant=ACME Corp"], /parameter tenant must match \^\[a-z0-9-\]\+\$, found "ACME Corp"/],
      [["--param", "region=eu"], /unknown parameter region; the pipeline declares: date, tenant/],
      [["--param", "date"], /--param expects name=value, found "date"/],
      [
        ["--param", "date=2026-11-01..2026-11-03"],
        /start runs one value per parameter; date has several: use dagops backfill/,
      ],
    ];
    for (const [args, message] of cases) {
      const r = await c.dagops("start", PIPELINE, ...args);
      assert.equal(r.code, 2, r.err);
      assert.match(r.err, message);
    }
    assert.equal(c.kube.requests.filter((q) => q.verb === "create" && q.resource === "jobs").length, 0);
  });

  test("a hand-made run Job with a bad value is refused by the run manager too: nothing runs", async () => {
    const c = await cluster();
    const r = await c.dagops("start", PIPELINE);
    const run = /started run (\S+)/.exec(r.out)![1]!;
    await c.waitFor(() => c.exits.has(run));
    assert.equal(c.exits.get(run), 0);
    // Same template, a value no declaration allows: the run manager refuses before the Lease.
    const job = structuredClone(c.kube.job(run)!);
    job.metadata = {
      name: `${PIPELINE}-bad`,
      annotations: { "dagops.dev/params": JSON.stringify({ date: "yesterday" }) },
      labels: job.metadata.labels,
    };
    delete job.status;
    const res = await fetch(`${c.url}/apis/batch/v1/namespaces/${NS}/jobs`, {
      method: "POST",
      headers: { authorization: `Bearer ${c.kube.token}`, "content-type": "application/json" },
      body: JSON.stringify(job),
    });
    assert.equal(res.status, 201);
    await c.waitFor(() => c.exits.has(`${PIPELINE}-bad`));
    assert.equal(c.exits.get(`${PIPELINE}-bad`), 1);
    assert.match(c.output.get(`${PIPELINE}-bad`)!, /"event":"run.unusable".*parameter date is a date/);
    assert.equal(stepJobsOf(c.kube, `${PIPELINE}-bad`).length, 0);
  });
});

describe("one run at a time (the pipeline's Lease)", () => {
  const hangFor =
    (run: () => string | undefined) =>
    (_step: string | undefined, _attempt: number, job: Obj): Outcome =>
      job.metadata.labels["dagops.dev/run"] === run() ? { outcome: "hang" } : { outcome: "succeed", afterMs: 10 };

  test("forbid: a second run ends at once as skipped, naming the run going on; dagops start refuses; the first holds on", async () => {
    let first: string | undefined;
    const c = await cluster({ script: hangFor(() => first) });
    const r = await c.dagops("start", PIPELINE);
    first = /started run (\S+)/.exec(r.out)![1]!;
    await c.waitFor(() => stepJobsOf(c.kube, first!).length > 0);
    // dagops start checks first.
    const refused = await c.dagops("start", PIPELINE);
    assert.equal(refused.code, 1);
    assert.match(
      refused.err,
      new RegExp(`refused: run ${first} of ${PIPELINE} is going on, and the pipeline's concurrency is forbid`),
    );
    // A run Job made another way (kubectl create job --from) meets the Lease in its run manager.
    const second = `${PIPELINE}-kubectl`;
    const template = c.kube.cronJobs.get(PIPELINE)!.spec.jobTemplate;
    const res = await fetch(`${c.url}/apis/batch/v1/namespaces/${NS}/jobs`, {
      method: "POST",
      headers: { authorization: `Bearer ${c.kube.token}`, "content-type": "application/json" },
      body: JSON.stringify({
        apiVersion: "batch/v1",
        kind: "Job",
        metadata: {
          name: second,
          labels: template.metadata.labels,
          annotations: { "cronjob.kubernetes.io/instantiate": "manual" },
        },
        spec: template.spec,
      }),
    });
    assert.equal(res.status, 201);
    await c.waitFor(finished(c, second));
    assert.equal(c.exits.get(second), 0, "skipped is not a failure: the Job is not retried");
    const { head } = c.record(second)!;
    assert.equal(head.outcome, "skipped");
    assert.match(head.message, new RegExp(`run ${first} of ${PIPELINE} is going on`));
    assert.equal(stepJobsOf(c.kube, second).length, 0);
    assert.equal(c.kube.leases.get(`${PIPELINE}-run`)!.spec.holderIdentity, first);
    assert.ok(!c.exits.has(first), "the first run goes on");
  });

  test("a crashed holder's Lease expires, and a new run then proceeds", async () => {
    const c = await cluster();
    // A run whose run manager died without releasing: its Job still active, the Lease renewed 1 s ago, 2 s long.
    const dead = c.kube.addRunJob(NS, `${PIPELINE}-crashed`);
    const at = (ms: number) => new Date(ms).toISOString().replace(/\.(\d{3})Z$/, ".$1000Z");
    c.kube.leases.set(`${PIPELINE}-run`, {
      apiVersion: "coordination.k8s.io/v1",
      kind: "Lease",
      metadata: { name: `${PIPELINE}-run`, namespace: NS, resourceVersion: "7" },
      spec: {
        holderIdentity: dead.name,
        leaseDurationSeconds: 2,
        acquireTime: at(Date.now() - 1000),
        renewTime: at(Date.now() - 1000),
      },
    });
    const refused = await c.dagops("start", PIPELINE);
    assert.equal(refused.code, 1, refused.err);
    await new Promise((r) => setTimeout(r, 1500));
    const r = await c.dagops("start", PIPELINE);
    assert.equal(r.code, 0, r.err);
    const run = /started run (\S+)/.exec(r.out)![1]!;
    await c.waitFor(finished(c, run));
    assert.equal(c.record(run)!.head.outcome, "succeeded");
    const lease = c.kube.leases.get(`${PIPELINE}-run`)!;
    assert.equal(lease.spec.leaseTransitions, 1, "taken over from the crashed holder");
    assert.equal(lease.spec.holderIdentity, "", "released at the end of the run");
  });

  test("a restarted pod of a run already under way goes on even if another run took the Lease meanwhile", async () => {
    const c = await cluster();
    const other = c.kube.addRunJob(NS, `${PIPELINE}-other`);
    const at = new Date().toISOString().replace(/\.(\d{3})Z$/, ".$1000Z");
    c.kube.leases.set(`${PIPELINE}-run`, {
      apiVersion: "coordination.k8s.io/v1",
      kind: "Lease",
      metadata: { name: `${PIPELINE}-run`, namespace: NS, resourceVersion: "7" },
      spec: { holderIdentity: other.name, leaseDurationSeconds: 60, acquireTime: at, renewTime: at },
    });
    const run = `${PIPELINE}-restarted`;
    // Its first pod wrote the record (outcome running) before it was evicted.
    c.kube.configMaps.set(`${run}-record`, {
      metadata: { name: `${run}-record`, namespace: NS, labels: {} },
      data: { "run.json": JSON.stringify({ outcome: "running" }) },
    });
    const template = c.kube.cronJobs.get(PIPELINE)!.spec.jobTemplate;
    const res = await fetch(`${c.url}/apis/batch/v1/namespaces/${NS}/jobs`, {
      method: "POST",
      headers: { authorization: `Bearer ${c.kube.token}`, "content-type": "application/json" },
      body: JSON.stringify({
        apiVersion: "batch/v1",
        kind: "Job",
        metadata: { name: run, labels: template.metadata.labels },
        spec: template.spec,
      }),
    });
    assert.equal(res.status, 201);
    await c.waitFor(finished(c, run));
    assert.equal(c.record(run)!.head.outcome, "succeeded");
    assert.match(c.output.get(run)!, /"event":"lease.lost".*was already under way and goes on/);
  });

  test("replace: the newer run cancels the older one (its record says so), then runs", async () => {
    let first: string | undefined;
    const c = await cluster({
      script: hangFor(() => first),
      edit: (p) => (p.concurrency = "replace"),
      backoffScale: "0.05",
    });
    first = /started run (\S+)/.exec((await c.dagops("start", PIPELINE)).out)![1]!;
    await c.waitFor(() => stepJobsOf(c.kube, first!).length > 0);
    c.later(1000); // a new name: names carry the second
    const r = await c.dagops("start", PIPELINE);
    assert.equal(r.code, 0, r.err);
    assert.match(r.out, new RegExp(`run ${first} is going on and will be cancelled first \\(concurrency: replace\\)`));
    const second = /started run (\S+)/.exec(r.out)![1]!;
    await c.waitFor(finished(c, second));
    assert.equal(c.record(first)!.head.outcome, "cancelled");
    assert.match(c.record(first)!.head.message, new RegExp(`cancelled by run ${second}: replaced by a newer run`));
    assert.equal(c.exits.get(first), 1, "cancelled: final, not retried");
    assert.equal(
      stepJobsOf(c.kube, first).filter((j) => !j.status.conditions).length,
      0,
      "its running steps were deleted",
    );
    assert.equal(c.record(second)!.head.outcome, "succeeded");
  });

  test("allow: two runs of the pipeline run side by side", async () => {
    let first: string | undefined;
    let release = false;
    const c = await cluster({
      edit: (p) => (p.concurrency = "allow"),
      script: (_s, _a, job) =>
        job.metadata.labels["dagops.dev/run"] === first && !release
          ? { outcome: "hang" }
          : { outcome: "succeed", afterMs: 10 },
    });
    first = /started run (\S+)/.exec((await c.dagops("start", PIPELINE)).out)![1]!;
    await c.waitFor(() => stepJobsOf(c.kube, first!).length > 0);
    c.later(1000);
    const second = /started run (\S+)/.exec((await c.dagops("start", PIPELINE)).out)![1]!;
    await c.waitFor(finished(c, second));
    assert.equal(c.record(second)!.head.outcome, "succeeded");
    assert.ok(!c.exits.has(first), "the first run is still going");
    assert.equal(c.kube.leases.size, 0, "allow takes no Lease");
    release = true;
    for (const j of stepJobsOf(c.kube, first)) c.kube.finish(j.metadata.name, "succeed");
  });
});

describe("dagops runs, status, logs", () => {
  test("runs and status of real runs; status exits 1 for a failed run and names the failure", async () => {
    const c = await cluster({
      script: (step) =>
        step === "classify-rds"
          ? {
              outcome: "fail",
              afterMs: 10,
              terminated: {
                reason: "Error",
                exitCode: 3,
                message: "Traceback (most recent call last):\nValueError: bad row 17\n",
              },
            }
          : { outcome: "succeed", afterMs: 10 },
    });
    const run = /started run (\S+)/.exec((await c.dagops("start", PIPELINE)).out)![1]!;
    await c.waitFor(finished(c, run));
    const runs = await c.dagops("runs", PIPELINE);
    assert.equal(runs.code, 0, runs.err);
    assert.match(runs.out, /^RUN\s+TRIGGER\s+STARTED\s+DURATION\s+OUTCOME\s+FAILED STEP\n/);
    assert.match(
      runs.out,
      new RegExp(
        `${run}\\s+manual \\(jane@example.com\\)\\s+\\d{4}-\\d\\d-\\d\\d \\d\\d:\\d\\d:\\d\\dZ\\s+\\d+s\\s+failed\\s+classify-rds`,
      ),
    );
    const status = await c.dagops("status", run);
    assert.equal(status.code, 1, status.err);
    assert.match(status.out, /classify-rds\s+3\s+spot\s+m6i\.large\s+\S+\s+failed\s+BackoffLimitExceeded/);
    assert.match(status.out, /merge-findings\s+\|\s{48}\|/, "never started: an empty bar");
    const json = JSON.parse((await c.dagops("status", run, "--json")).out);
    assert.equal(json.outcome, "failed");
    assert.deepEqual(json.failedSteps, ["classify-rds"]);
    // logs: the pod is gone (as after the Job's TTL): the record's tail, and where the full log went.
    for (const pod of [...c.kube.pods.values()]) c.kube.pods.delete(pod.metadata.name);
    const logs = await c.dagops("logs", run);
    assert.equal(logs.code, 0, logs.err);
    assert.match(
      logs.err,
      /step classify-rds, attempt 3 of run .*: its pod is gone .* the run record keeps its last lines/,
    );
    assert.match(logs.out, /ValueError: bad row 17/);
  });

  test("status: the golden timeline of a recorded run (retries, a Spot interruption, an on-demand fallback, a step taken as done)", async () => {
    const c = await cluster({ runManagers: false });
    const run = `${PIPELINE}-r261130043000`;
    const t = (min: number, s = 0) =>
      new Date(Date.parse("2026-11-30T04:30:00Z") + min * 60_000 + s * 1000).toISOString();
    const attempt = (n: number, outcome: string, from: number, to: number, extra: Obj = {}) => ({
      attempt: n,
      job: `${run}-x-abc123-${n}`,
      capacity: "spot",
      outcome,
      node: "ip-10-0-1-23.ec2.internal",
      instanceType: "m6i.large",
      capacityType: "spot",
      startedAt: t(from),
      finishedAt: t(to),
      ...extra,
    });
    const steps: Obj[] = [
      {
        step: "discover-accounts",
        attempts: [
          {
            attempt: 0,
            job: "",
            capacity: "spot",
            outcome: "succeeded",
            from: `${PIPELINE}-29411234`,
            startedAt: t(0),
            finishedAt: t(0),
          },
        ],
      },
      {
        step: "scan-s3",
        attempts: [attempt(1, "interrupted", 0, 6, { reason: "PodFailurePolicy" }), attempt(2, "succeeded", 6, 21)],
      },
      {
        step: "scan-rds",
        attempts: [
          attempt(1, "failed", 0, 4, { reason: "BackoffLimitExceeded", exitCode: 1 }),
          attempt(2, "succeeded", 5, 17, { instanceType: "c6a.xlarge" }),
        ],
      },
      {
        step: "classify-s3",
        attempts: [
          attempt(1, "succeeded", 21, 58, {
            capacity: "on-demand",
            capacityType: "on-demand",
            instanceType: "r6i.large",
          }),
        ],
      },
      {
        step: "classify-rds",
        attempts: [
          attempt(1, "failed", 17, 30, { reason: "OOMKilled", exitCode: 137 }),
          attempt(2, "failed", 31, 44, { reason: "OOMKilled", exitCode: 137 }),
        ],
      },
    ];
    const head = {
      apiVersion: "dagops.dev/v1alpha1",
      kind: "RunRecord",
      pipeline: PIPELINE,
      run,
      runUid: "uid-1",
      cluster: "staging",
      planRevision: `${PIPELINE}-plan-0123456789`,
      trigger: { kind: "manual", by: "jane@example.com", reason: "rds classifier fix" },
      params: { date: "2026-11-29", tenant: "all" },
      rerunOf: `${PIPELINE}-29411234`,
      doneSteps: { "discover-accounts": `${PIPELINE}-29411234` },
      uri: `s3://example-data-staging-artifacts/dagops/${PIPELINE}/${run}/`,
      message: null,
      startedAt: t(0),
      finishedAt: t(58, 30),
      outcome: "failed",
      failedSteps: ["classify-rds"],
      logs: { runManager: null, steps: null },
    };
    c.kube.configMaps.set(`${run}-record`, {
      metadata: {
        name: `${run}-record`,
        namespace: NS,
        labels: { "dagops.dev/pipeline": PIPELINE, "dagops.dev/run": run, "dagops.dev/record": "true" },
        creationTimestamp: t(0),
      },
      data: {
        "run.json": JSON.stringify(head),
        ...Object.fromEntries(steps.map((s) => [`step.${s.step}.json`, JSON.stringify(s)])),
      },
    });
    const status = await c.dagops("status", run);
    assert.equal(status.code, 1);
    await golden("dagops-status.txt", status.out);
    const runs = await c.dagops("runs", PIPELINE);
    await golden("dagops-runs.txt", runs.out);
    const everywhere = await c.dagops("runs");
    assert.equal(everywhere.code, 0, everywhere.err);
    assert.match(everywhere.out, /^RUN\s+PIPELINE\s+TRIGGER/);
    assert.match(everywhere.out, new RegExp(`${run}\\s+${PIPELINE}\\s+manual`));
  });

  test("logs from the pod while it exists; -f follows it to the end", async () => {
    let release = false;
    const c = await cluster({
      script: (step) =>
        step === "discover-accounts" && !release ? { outcome: "hang" } : { outcome: "succeed", afterMs: 10 },
    });
    const run = /started run (\S+)/.exec((await c.dagops("start", PIPELINE)).out)![1]!;
    await c.waitFor(() => stepJobsOf(c.kube, run).length === 1 && c.kube.pods.size === 1);
    const pod = [...c.kube.pods.values()][0]!;
    c.kube.podLogs.set(pod.metadata.name, ["discovering accounts", "found 12 accounts"]);
    const now = await c.dagops("logs", run, "--step", "discover-accounts");
    assert.equal(now.code, 0, now.err);
    assert.equal(now.out, "discovering accounts\nfound 12 accounts\n");
    const following = c.dagops("logs", run, "--step", "discover-accounts", "-f");
    await new Promise((r) => setTimeout(r, 300));
    c.kube.podLogs.get(pod.metadata.name)!.push("done");
    release = true;
    c.kube.finish(stepJobsOf(c.kube, run)[0]!.metadata.name, "succeed");
    const followed = await following;
    assert.equal(followed.out, "discovering accounts\nfound 12 accounts\ndone\n");
    const unknown = await c.dagops("logs", run, "--step", "discover-acounts");
    assert.equal(unknown.code, 2);
    assert.match(unknown.err, /has no step "discover-acounts" in its record; did you mean discover-accounts\?/);
  });
});

describe("dagops rerun and cancel", () => {
  test("rerun --from-failure: only the failed and never-started steps run, with the original run's data for the rest; both records link", async () => {
    let fixed = false;
    const c = await cluster({
      script: (step) =>
        step === "classify-rds" && !fixed ? { outcome: "fail", afterMs: 10 } : { outcome: "succeed", afterMs: 10 },
    });
    const first = /started run (\S+)/.exec((await c.dagops("start", PIPELINE, "--param", "date=2026-11-29")).out)![1]!;
    await c.waitFor(finished(c, first));
    assert.equal(c.record(first)!.head.outcome, "failed");
    fixed = true;
    c.later(1000);
    const r = await c.dagops("rerun", first, "--from-failure", "--wait");
    assert.equal(r.code, 0, r.err + r.out);
    const second = /started run (\S+)/.exec(r.out)![1]!;
    assert.match(second, /-r\d{12}$/);
    const ran = [...new Set(stepJobsOf(c.kube, second).map((j) => j.metadata.labels["dagops.dev/step"]))].sort();
    assert.deepEqual(
      ran,
      ["classify-rds", "merge-findings", "publish-report", "score-risk", "send-alerts"],
      "the failed step and those that never started; nothing that succeeded",
    );
    const { head, steps } = c.record(second)!;
    assert.equal(head.outcome, "succeeded");
    assert.equal(head.rerunOf, first);
    assert.equal(head.planRevision, c.record(first)!.head.planRevision, "the same plan revision");
    assert.deepEqual(head.params, { date: "2026-11-29", tenant: "all" }, "the same parameters");
    assert.equal(steps["scan-rds"]!.attempts[0].from, first);
    assert.equal(c.kube.configMaps.get(`${first}-record`)!.metadata.annotations["dagops.dev/reruns"], second);
    // classify-rds reads scan-rds's data where the first run wrote it.
    const classify = envOf(
      stepJobsOf(c.kube, second).find((j) => j.metadata.labels["dagops.dev/step"] === "classify-rds")!,
    );
    assert.equal(
      classify.DAGOPS_INPUT_SCAN_RDS,
      `s3://example-data-staging-artifacts/dagops/${PIPELINE}/${first}/scan-rds/`,
    );
    assert.equal(classify.DAGOPS_RUN_URI, `s3://example-data-staging-artifacts/dagops/${PIPELINE}/${second}/`);
  });

  test("rerun of a run whose plan revision is gone says so, and --current-plan runs the current plan in full", async () => {
    const c = await cluster();
    const first = /started run (\S+)/.exec((await c.dagops("start", PIPELINE)).out)![1]!;
    await c.waitFor(finished(c, first));
    // A new revision deployed; Argo CD pruned the old plan.
    const old = c.record(first)!.head.planRevision;
    c.kube.configMaps.delete(old);
    const { planName } = await deploy(c.kube, (p) => (p.maxParallel = 3));
    const refused = await c.dagops("rerun", first);
    assert.equal(refused.code, 1);
    assert.match(
      refused.err,
      new RegExp(
        `ran plan revision ${old}, which is gone: the pipeline changed since \\(now ${planName}\\).*dagops rerun ${first} --current-plan`,
      ),
    );
    c.later(1000);
    const r = await c.dagops("rerun", first, "--current-plan", "--wait");
    assert.equal(r.code, 0, r.err);
    const second = /started run (\S+)/.exec(r.out)![1]!;
    assert.equal(c.record(second)!.head.planRevision, planName);
  });

  test("cancel: running steps are deleted, the record says cancelled and by whom", async () => {
    const c = await cluster({ script: () => ({ outcome: "hang" }) });
    const run = /started run (\S+)/.exec((await c.dagops("start", PIPELINE)).out)![1]!;
    await c.waitFor(() => stepJobsOf(c.kube, run).length === 1);
    const r = await c.dagops("cancel", run, "--reason", "wrong date");
    assert.equal(r.code, 0, r.err);
    assert.match(r.out, new RegExp(`run ${run} cancelled: cancelled by jane@example.com: wrong date`));
    assert.equal(c.record(run)!.head.outcome, "cancelled");
    assert.equal(c.record(run)!.steps["discover-accounts"]!.attempts[0].reason, "Cancelled");
    assert.ok(
      c.kube.deletes.some((d) => d.name === stepJobsOf(c.kube, run)[0]?.metadata.name || d.name.startsWith(run)),
    );
    await c.waitFor(() => c.exits.has(run));
    assert.equal(c.exits.get(run), 1);
    const again = await c.dagops("cancel", run);
    assert.equal(again.code, 1);
    assert.match(again.err, /is not running: it ended cancelled/);
  });
});

describe("dagops backfill", () => {
  test("--dry-run: the runs and their modelled cost from npm run cost; nothing is started", async () => {
    const c = await cluster({ runManagers: false });
    const r = await c.dagops("backfill", PIPELINE, "--param", "date=2026-11-01..2026-11-03", "--dry-run");
    assert.equal(r.code, 0, r.err);
    await golden("dagops-backfill-dry-run.txt", r.out);
    assert.equal(c.kube.requests.filter((q) => q.verb === "create").length, 0);
  });

  test("one run per value, at most N at once, a summary; interrupted, the same command resumes without repeating a run", async () => {
    const c = await cluster({
      edit: (p) => (p.concurrency = "allow"),
      script: () => ({ outcome: "succeed", afterMs: 200 }),
    });
    let peak = 0;
    const active = () => runJobs(c.kube).filter((j) => !j.status?.conditions).length;
    const sampler = setInterval(() => (peak = Math.max(peak, active())), 10);
    // Interrupted (SIGINT) once two runs are created.
    const stop = new AbortController();
    const io = captureIo(EXAMPLE_ROOT, { KUBECONFIG: c.kubeconfig });
    const watcher = setInterval(() => runJobs(c.kube).length >= 2 && stop.abort(), 5);
    const first = await dagops(
      ["backfill", PIPELINE, "--param", "date=2026-11-01..2026-11-05", "--max-concurrent", "2"],
      io,
      { pollMs: 50, stop: stop.signal },
    );
    clearInterval(watcher);
    assert.equal(first, 1, io.text());
    assert.match(io.out.join(""), /interrupted: run the same command again to carry on/);
    const before = runJobs(c.kube).map((j) => j.metadata.name);
    assert.equal(before.length, 2);
    const again = await c.dagops(
      "backfill",
      PIPELINE,
      "--param",
      "date=2026-11-01..2026-11-05",
      "--max-concurrent",
      "2",
    );
    clearInterval(sampler);
    assert.equal(again.code, 0, again.err + again.out);
    const all = runJobs(c.kube);
    assert.equal(all.length, 5, "five runs in all: the two from before were not created again");
    for (const name of before) assert.equal(all.filter((j) => j.metadata.name === name).length, 1);
    assert.ok(peak <= 2, `at most 2 at once, saw ${peak}`);
    assert.ok(peak === 2, "and 2 did run at once");
    assert.match(again.out, /^RUN\s+PARAMS\s+OUTCOME\s+DURATION$/m);
    assert.match(again.out, /date=2026-11-05 tenant=all\s+succeeded/);
    assert.match(again.out, /5 of 5 runs succeeded/);
    for (const j of all) assert.equal(c.record(j.metadata.name)!.head.trigger.backfill !== undefined, true);
  });

  test("forbid: one at a time whatever --max-concurrent says", async () => {
    const c = await cluster({ script: () => ({ outcome: "succeed", afterMs: 50 }) });
    const r = await c.dagops("backfill", PIPELINE, "--param", "date=2026-11-01..2026-11-02", "--max-concurrent", "4");
    assert.equal(r.code, 0, r.err + r.out);
    assert.match(r.err, /concurrency forbid: runs go one at a time/);
    const runs = runJobs(c.kube).map((j) => c.record(j.metadata.name)!.head);
    assert.equal(runs.length, 2);
    const [a, b] = runs.sort((x, y) => (x.startedAt < y.startedAt ? -1 : 1));
    assert.ok(a!.finishedAt <= b!.startedAt, "the second started after the first ended");
    assert.ok(runs.every((h) => h.outcome === "succeeded"));
  });
});

describe("dagops: access and errors", () => {
  test("401, 403, 404 and an unreachable API server: one clear line each, and the exit code", async (t) => {
    const c = await cluster({ runManagers: false });
    const bad = await readFile(c.kubeconfig, "utf8");
    const scratch = async () => {
      const dir = await mkdtemp(join(tmpdir(), "kc-"));
      t.after(() => rm(dir, { recursive: true, force: true }));
      return dir;
    };
    const wrongToken = join(await scratch(), "config");
    await writeFile(wrongToken, bad.replace(c.kube.token, "expired-token"));
    const run = async (env: Record<string, string>, ...args: string[]) => {
      const io = captureIo(EXAMPLE_ROOT, env);
      const code = await dagops(args, io, { pollMs: 50 });
      return { code, err: io.err.join(""), out: io.out.join("") };
    };
    const unauthorized = await run({ KUBECONFIG: wrongToken }, "runs", PIPELINE);
    assert.equal(unauthorized.code, 2);
    assert.match(
      unauthorized.err,
      /refused the credentials of context fake \(401 Unauthorized\).*aws eks update-kubeconfig/,
    );
    assert.ok(!unauthorized.err.includes("expired-token") && !unauthorized.err.includes(c.kube.token));
    c.kube.fault = (r) => (r.resource === "configmaps" ? { status: 403 } : undefined);
    const forbidden = await c.dagops("runs", PIPELINE);
    assert.equal(forbidden.code, 2);
    assert.match(forbidden.err, /list configmaps in dagops-customer-classification: forbidden \(403\)/);
    c.kube.fault = () => undefined;
    const noPipeline = await c.dagops("start", "no-such-pipeline");
    assert.equal(noPipeline.code, 1);
    assert.match(
      noPipeline.err,
      /no pipeline no-such-pipeline in this cluster \(no CronJob dagops-no-such-pipeline\/no-such-pipeline, context fake\)/,
    );
    const noRun = await c.dagops("status", `${PIPELINE}-nope`);
    assert.equal(noRun.code, 1);
    assert.match(noRun.err, /no run customer-classification-nope/);
    const unreachable = join(await scratch(), "config");
    await writeFile(unreachable, bad.replace(/http:\/\/127\.0\.0\.1:\d+/, "http://127.0.0.1:9"));
    const down = await run({ KUBECONFIG: unreachable }, "status", `${PIPELINE}-x`, "-p", PIPELINE);
    assert.equal(down.code, 2);
    assert.match(down.err, /cannot reach the API server http:\/\/127\.0\.0\.1:9 \(context fake\)/);
    const noContext = await c.dagops("runs", "--context", "prod");
    assert.equal(noContext.code, 2);
    assert.match(noContext.err, /has no context "prod"; it has: fake/);
    const unknown = await c.dagops("stauts", "x");
    assert.equal(unknown.code, 2);
    assert.match(unknown.err, /no command "stauts"; did you mean status\?/);
  });

  test("every subcommand has --help and --json; the bin entry runs (npx dagops)", async () => {
    const c = await cluster({ runManagers: false });
    for (const sub of ["runs", "status", "logs", "start", "rerun", "cancel", "backfill"]) {
      const r = await c.dagops(sub, "--help");
      assert.equal(r.code, 0);
      assert.match(r.out, new RegExp(`^Usage: dagops ${sub}`));
      assert.match(r.out, /--json/);
    }
    const bin = await c.dagopsProcess(["runs", PIPELINE, "--json"]);
    assert.equal(bin.code, 0, bin.err);
    assert.deepEqual(JSON.parse(bin.out), []);
    const pkg = JSON.parse(await readFile(join(REPO, "package.json"), "utf8"));
    assert.equal(pkg.bin.dagops, "src/cli/dagops.mjs");
  });
});

async function golden(name: string, text: string): Promise<void> {
  const file = join(REPO, "test/golden", name);
  if (process.env.UPDATE_GOLDEN) await writeFile(file, text);
  assert.equal(
    text,
    await readFile(file, "utf8"),
    `${name} differs; if intended: UPDATE_GOLDEN=1 npx tsx --test test/integration/ops.test.ts`,
  );
}
