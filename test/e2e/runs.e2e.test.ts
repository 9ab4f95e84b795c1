// Operating runs on the real control plane: the run manager's limits (maxParallel, runTimeout)
// and the operator's verbs (start, rerun --from-failure, cancel, backfill), with a real CronJob
// firing while a manual run holds the pipeline's Lease. The pipelines are written here and
// synthesized by dagops, as a team's would be; nothing in their output is edited.
import assert from "node:assert/strict";
import { after, before, test } from "node:test";
import { eventually } from "./cluster/api.ts";
import { condition, ended, Scene } from "./scene.ts";
import { LABEL } from "../../src/contract/labels.ts";

const defaults = `defaults:
  retries: 0
  timeout: 10m
  resources:
    requests: { cpu: 100m, memory: 128Mi }
    limits: { cpu: 500m, memory: 256Mi }
`;
const image = "image: registry.example.com/team/app:1.0.0\n";

// Step names are unique across pipelines: a test chooses each step's exit code by its name.
const PIPELINES = {
  "fan-out.yaml": `name: fan-out
${image}maxParallel: 2
${defaults}steps:
  - name: fan-start
${[1, 2, 3, 4, 5, 6].map((i) => `  - name: fan-${i}\n    dependsOn: [fan-start]\n`).join("")}  - name: fan-end
    dependsOn: [${[1, 2, 3, 4, 5, 6].map((i) => `fan-${i}`).join(", ")}]
`,
  "slow.yaml": `name: slow
${image}runTimeout: 20s
${defaults}steps:
  - name: slow-hold
  - name: slow-after
    dependsOn: [slow-hold]
`,
  "flaky.yaml": `name: flaky
${image}${defaults}steps:
  - name: flaky-a
  - name: flaky-b
    dependsOn: [flaky-a]
    retries: 1
  - name: flaky-c
    dependsOn: [flaky-b]
  - name: flaky-d
    dependsOn: [flaky-a]
`,
  "every-minute.yaml": `name: every-minute
${image}schedule: "* * * * *"
suspend: true
concurrency: forbid
${defaults}steps:
  - name: minute-hold
  - name: minute-after
    dependsOn: [minute-hold]
`,
  "dated.yaml": `name: dated
${image}params:
  date: { type: date, default: scheduled-date }
${defaults}steps:
  - name: dated-export
    args: ["--date", "$(DAGOPS_PARAM_DATE)"]
`,
};

const ns = (pipeline: string) => `dagops-${pipeline}`;
let scene: Scene;

before(async () => {
  scene = await Scene.start({ pipelines: PIPELINES });
});

after(async () => {
  await scene?.stop();
});

const head = async (pipeline: string, run: string) => (await scene.record(ns(pipeline), run)).head;

const seconds = (t: string | undefined) => (t ? new Date(t).getTime() / 1000 : Infinity);

test("maxParallel 2: six independent steps never run more than two at once, and do run two at once", async () => {
  await scene.cluster.setOutcomes({}, 3);
  const run = await scene.start("fan-out");
  const job = await scene.finished(ns("fan-out"), run);
  assert.equal(job.status.succeeded, 1, JSON.stringify(job.status));
  const jobs = await scene.stepJobs(ns("fan-out"), run);
  assert.equal(jobs.length, 8);
  // From the API server's own times (whole seconds): a Job is running from its creation until
  // its completion; [created, completed) intervals cannot overlap falsely, since a Job started
  // for a freed slot is created after the completion that freed it.
  const spans = jobs.map((j) => [seconds(j.metadata.creationTimestamp), seconds(j.status.completionTime)] as const);
  const most = Math.max(...spans.map(([start]) => spans.filter(([s, e]) => s <= start && start < e).length));
  assert.equal(most, 2, `most step Jobs running at once: ${JSON.stringify(spans)}`);
  await scene.cluster.setOutcomes({});
});

test("runTimeout 20s: the run manager ends the run as timed-out and deletes its running step", async () => {
  await scene.cluster.setOutcomes({ "slow-hold": { "*": { exit: "never" } } });
  const run = await scene.start("slow");
  await scene.running(ns("slow"), run, "slow-hold");
  const job = await scene.finished(ns("slow"), run, 120_000);
  assert.ok(condition(job, "Complete")?.status === "True" || condition(job, "Failed")?.status === "True");
  const h = await head("slow", run);
  assert.equal(h.outcome, "timed-out");
  const took = (new Date(h.finishedAt!).getTime() - new Date(h.startedAt).getTime()) / 1000;
  assert.ok(took >= 20 && took < 60, `the run ended ${took} s after it started`);
  await eventually(
    "the running step's Job to be gone",
    async () => (await scene.stepJobs(ns("slow"), run)).length === 0,
  );
  assert.equal((await scene.stepJobs(ns("slow"), run, "slow-after")).length, 0, "its dependent never started");
  assert.match(await scene.dagops("runs", "slow"), new RegExp(`${run}.*timed-out`));
  await scene.cluster.setOutcomes({});
});

test("rerun --from-failure runs only what did not succeed, and takes the rest as done", async () => {
  await scene.cluster.setOutcomes({ "flaky-b": { "*": { exit: 1 } } });
  const first = await scene.start("flaky");
  await scene.finished(ns("flaky"), first);
  const failed = await head("flaky", first);
  assert.equal(failed.outcome, "failed");
  assert.deepEqual(failed.failedSteps, ["flaky-b"]);
  assert.equal((await scene.stepJobs(ns("flaky"), first, "flaky-b")).length, 2, "flaky-b ran twice (retries 1)");

  await scene.cluster.setOutcomes({});
  const output = await scene.dagops("rerun", first, "--from-failure");
  const m = /started run (\S+) .*a re-run of (\S+) taking 2 steps as done: flaky-a, flaky-d/.exec(output);
  assert.ok(m, output);
  const second = m[1]!;
  await scene.finished(ns("flaky"), second);
  const h = await head("flaky", second);
  assert.equal(h.outcome, "succeeded");
  assert.equal(h.rerunOf, first);
  assert.deepEqual(h.doneSteps, { "flaky-a": first, "flaky-d": first });
  const ran = (await scene.stepJobs(ns("flaky"), second)).map((j) => j.metadata.labels?.[LABEL.step]).sort();
  assert.deepEqual(ran, ["flaky-b", "flaky-c"], "only the failed step and the one it held back ran");
});

test("a real CronJob on * * * * * fires while a manual run holds the Lease: the scheduled run is skipped, then cancel stops the manual one", async () => {
  const namespace = ns("every-minute");
  await scene.cluster.setOutcomes({ "minute-hold": { "*": { exit: "never" } } });
  const manual = await scene.start("every-minute");
  await scene.running(namespace, manual, "minute-hold");
  // An operator resumes the schedule (in git, `suspend: false`); the CronJob controller fires on the next minute.
  const cronJobs = `/apis/batch/v1/namespaces/${namespace}/cronjobs`;
  const [cron] = await scene.cluster.api.list(cronJobs);
  await scene.cluster.api.mergePatch(`${cronJobs}/${cron!.metadata.name}`, { spec: { suspend: false } });
  const scheduled = await eventually(
    "the CronJob controller to create a run",
    async () =>
      (await scene.cluster.api.list(`/apis/batch/v1/namespaces/${namespace}/jobs`)).find(
        (j) =>
          j.metadata.labels?.[LABEL.role] === "run-manager" &&
          j.metadata.name !== manual &&
          (j.metadata.ownerReferences ?? []).some((o) => o.kind === "CronJob"),
      ),
    150_000,
    1000,
  );
  await scene.cluster.api.mergePatch(`${cronJobs}/${cron!.metadata.name}`, { spec: { suspend: true } });
  await scene.finished(namespace, scheduled.metadata.name);
  const skipped = await head("every-minute", scheduled.metadata.name);
  assert.equal(skipped.trigger.kind, "schedule");
  assert.equal(skipped.outcome, "skipped");
  assert.match(skipped.message ?? "", new RegExp(manual));
  assert.equal((await scene.stepJobs(namespace, scheduled.metadata.name)).length, 0, "the skipped run started no step");
  assert.ok(!ended(await scene.job(namespace, manual)), "the manual run goes on");

  await scene.dagops("cancel", manual, "--reason", "e2e");
  const h = await head("every-minute", manual);
  assert.equal(h.outcome, "cancelled");
  await scene.finished(namespace, manual, 60_000);
  await eventually(
    "the cancelled run's steps to be gone",
    async () => (await scene.stepPods(namespace, manual)).length === 0,
  );
  assert.equal((await scene.stepJobs(namespace, manual, "minute-after")).length, 0);
  await scene.cluster.setOutcomes({});
});

test("backfill: one run per date, one at a time, each succeeded, and a second backfill starts nothing", async () => {
  const args = ["backfill", "dated", "--param", "date=2026-11-01..2026-11-03", "--json"];
  const summary = JSON.parse(await scene.dagops(...args)) as {
    runs: { run: string; outcome: string; params: Record<string, string> }[];
  };
  assert.deepEqual(
    summary.runs.map((r) => [r.params.date, r.outcome]),
    [
      ["2026-11-01", "succeeded"],
      ["2026-11-02", "succeeded"],
      ["2026-11-03", "succeeded"],
    ],
  );
  const runs = (await scene.cluster.api.list(`/apis/batch/v1/namespaces/${ns("dated")}/jobs`)).filter(
    (j) => j.metadata.labels?.[LABEL.role] === "run-manager",
  );
  assert.equal(runs.length, 3, "one run Job per date");
  // One at a time (concurrency forbid): no two runs' step Jobs overlap.
  const spans: (readonly [number, number])[] = [];
  for (const r of summary.runs)
    for (const j of await scene.stepJobs(ns("dated"), r.run))
      spans.push([seconds(j.metadata.creationTimestamp), seconds(j.status.completionTime)]);
  assert.equal(spans.length, 3);
  for (const [s, e] of spans) assert.equal(spans.filter(([s2]) => s < s2 && s2 < e).length, 0, JSON.stringify(spans));

  const again = JSON.parse(await scene.dagops(...args)) as { runs: { outcome: string }[] };
  assert.deepEqual(
    again.runs.map((r) => r.outcome),
    ["succeeded", "succeeded", "succeeded"],
  );
  const after = (await scene.cluster.api.list(`/apis/batch/v1/namespaces/${ns("dated")}/jobs`)).filter(
    (j) => j.metadata.labels?.[LABEL.role] === "run-manager",
  );
  assert.equal(after.length, 3, "nothing ran twice");
});
