// Measurements on the real control plane, for docs/benchmarks.md: a 100-step run with
// maxParallel 20 (twenty chains of five steps, so that every success frees a slot and unblocks
// one step at once). From the API server's audit log: the run manager's requests per step
// attempt, and the delay from a step Job's completion (the Job controller's last status write)
// to the creation of the Job it unblocked. From /proc: the run manager's peak RSS.
import assert from "node:assert/strict";
import { readFileSync } from "node:fs";
import { after, before, test } from "node:test";
import { Scene } from "./scene.ts";

const CHAINS = 20;
const DEPTH = 5;
const step = (c: number, d: number) => `w-${c}-${d}`;
const PIPELINE = `name: wide
image: registry.example.com/team/app:1.0.0
maxParallel: 20
defaults:
  retries: 0
  timeout: 10m
  resources:
    requests: { cpu: 50m, memory: 64Mi }
    limits: { cpu: 500m, memory: 256Mi }
steps:
${Array.from({ length: CHAINS }, (_, c) =>
  Array.from(
    { length: DEPTH },
    (_, d) => `  - name: ${step(c, d)}\n${d ? `    dependsOn: [${step(c, d - 1)}]\n` : ""}`,
  ).join(""),
).join("")}`;

let scene: Scene;

before(async () => {
  scene = await Scene.start({ pipelines: { "wide.yaml": PIPELINE } });
  // Real time: the other files scale the run manager's timers (Lease renewal, progress writes,
  // retry back-off) by 0.05, which would multiply its requests.
  scene.cluster.kubelet.extraEnv = {};
});

after(async () => {
  await scene?.stop();
});

interface AuditEvent {
  auditID: string;
  stage: string;
  verb: string;
  user: { username: string };
  objectRef?: { resource?: string; subresource?: string; name?: string; namespace?: string };
  stageTimestamp: string;
}

const percentile = (xs: number[], p: number) => {
  const s = [...xs].sort((a, b) => a - b);
  return s[Math.min(s.length - 1, Math.ceil((p / 100) * s.length) - 1)]!;
};

test("100 steps, maxParallel 20: API requests per step attempt, success-to-dependent delay (p50, p99), run-manager peak RSS", async (t) => {
  const namespace = "dagops-wide";
  await scene.cluster.setOutcomes({}, 2);
  const run = await scene.start("wide");
  const job = await scene.finished(namespace, run, 600_000);
  assert.equal(job.status.succeeded, 1, JSON.stringify(job.status));
  const jobs = await scene.stepJobs(namespace, run);
  assert.equal(jobs.length, CHAINS * DEPTH, "one attempt per step");

  const events = readFileSync(scene.cluster.auditLog, "utf8")
    .split("\n")
    .filter(Boolean)
    .map((l) => JSON.parse(l) as AuditEvent)
    .filter((e) => e.stage === "ResponseComplete");
  const runManager = `system:serviceaccount:${namespace}:run-manager`;
  const mine = events.filter((e) => e.user.username === runManager);
  const byVerb = new Map<string, number>();
  for (const e of mine) {
    const key = `${e.verb} ${e.objectRef?.resource ?? "?"}${e.objectRef?.subresource ? `/${e.objectRef.subresource}` : ""}`;
    byVerb.set(key, (byVerb.get(key) ?? 0) + 1);
  }

  // Job name → its step; a step's Job → when the Job controller last wrote its status; → when it was created.
  const nameOf = new Map(jobs.map((j) => [j.metadata.labels?.["dagops.dev/step"] as string, j.metadata.name]));
  const lastStatus = new Map<string, number>();
  const created = new Map<string, number>();
  for (const e of events) {
    const r = e.objectRef;
    if (r?.resource !== "jobs" || r.namespace !== namespace || !r.name) continue;
    const at = new Date(e.stageTimestamp).getTime();
    if (r.subresource === "status" && e.user.username.endsWith(":job-controller")) lastStatus.set(r.name, at);
    if (e.verb === "create" && e.user.username === runManager) created.set(r.name, at);
  }
  const delays: number[] = [];
  for (let c = 0; c < CHAINS; c++)
    for (let d = 1; d < DEPTH; d++) {
      const done = lastStatus.get(nameOf.get(step(c, d - 1))!);
      const next = created.get(nameOf.get(step(c, d))!);
      assert.ok(done !== undefined && next !== undefined, `${step(c, d)}: audit events of both Jobs`);
      delays.push(next - done);
    }
  const rss = [...scene.cluster.kubelet.peakRss].filter(([k]) => k.startsWith(`${namespace}/`)).map(([, v]) => v);
  const result = {
    steps: CHAINS * DEPTH,
    maxParallel: 20,
    requests: mine.length,
    requestsPerAttempt: +(mine.length / jobs.length).toFixed(2),
    byVerb: Object.fromEntries([...byVerb].sort((a, b) => b[1] - a[1])),
    delayMs: { n: delays.length, p50: percentile(delays, 50), p99: percentile(delays, 99), max: Math.max(...delays) },
    runManagerPeakRssMiB: +(Math.max(...rss) / 2 ** 20).toFixed(1),
  };
  t.diagnostic(JSON.stringify(result));
  console.log(`e2e measurements: ${JSON.stringify(result)}`);
  assert.equal(delays.length, CHAINS * (DEPTH - 1));
  assert.ok(rss.length > 0, "the run manager's RSS was sampled");
});
