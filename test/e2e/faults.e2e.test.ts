// Faults on the real control plane: a Spot interruption as Karpenter and AWS perform it, a run
// manager killed mid-run, and the API server restarted after etcd compacted its history. Each
// run must still end correctly, with nothing run twice.
import assert from "node:assert/strict";
import { after, before, test } from "node:test";
import { eventually, type KubeObject } from "./cluster/api.ts";
import { condition, Scene } from "./scene.ts";
import { LABEL } from "../../src/contract/labels.ts";

const defaults = `  timeout: 10m
  resources:
    requests: { cpu: 100m, memory: 128Mi }
    limits: { cpu: 500m, memory: 256Mi }
`;
const image = "image: registry.example.com/team/app:1.0.0\n";

const PIPELINES = {
  "spotty.yaml": `name: spotty
${image}defaults:
  capacity: spot
  retries: 2
  onDemandAfterInterruptions: 1
${defaults}steps:
  - name: spot-work
  - name: spot-after
    dependsOn: [spot-work]
`,
  "resilient.yaml": `name: resilient
${image}defaults:
  retries: 0
${defaults}steps:
  - name: res-a
  - name: res-b
    dependsOn: [res-a]
  - name: res-c
    dependsOn: [res-b]
`,
  "steady.yaml": `name: steady
${image}defaults:
  retries: 0
${defaults}steps:
  - name: steady-1
  - name: steady-2
    dependsOn: [steady-1]
  - name: steady-3
    dependsOn: [steady-2]
  - name: steady-4
    dependsOn: [steady-2]
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

const record = (pipeline: string, run: string) => scene.record(ns(pipeline), run);

/** Every step ran exactly once: one Job each, all attempt 1. */
async function ranOnce(pipeline: string, run: string, steps: readonly string[]): Promise<void> {
  const jobs = await scene.stepJobs(ns(pipeline), run);
  assert.deepEqual(
    jobs.map((j) => `${j.metadata.labels?.[LABEL.step]}#${j.metadata.labels?.[LABEL.attempt]}`).sort(),
    steps.map((s) => `${s}#1`).sort(),
  );
}

test("a Spot interruption as Karpenter and AWS perform it: the step is interrupted, not failed, and its next attempt runs on on-demand", async () => {
  const namespace = ns("spotty");
  await scene.cluster.setOutcomes({ "spot-work": { "1": { exit: "never" } } });
  const run = await scene.start("spotty");
  const pod = await scene.running(namespace, run, "spot-work");
  const nodeName = pod.spec.nodeName as string;
  const nodes = "/api/v1/nodes";
  assert.equal(
    (await scene.cluster.api.get<KubeObject>(`${nodes}/${nodeName}`)).metadata.labels?.[LABEL.capacityType],
    "spot",
  );
  // Karpenter writes the node's name into its NodeClaim's status when it registers, which may
  // come a moment after the scheduler bound a pod to the node.
  const claim = await eventually(
    `the NodeClaim of ${nodeName}`,
    async () =>
      (await scene.cluster.api.list("/apis/karpenter.sh/v1/nodeclaims")).find((c) => c.status?.nodeName === nodeName),
    30_000,
    250,
  );

  // 1. The interruption warning: Karpenter's interruption controller deletes the NodeClaim.
  await scene.cluster.api.delete(`/apis/karpenter.sh/v1/nodeclaims/${claim.metadata.name}`);
  // Karpenter taints the node so nothing new lands on it, and drains it; a running step is
  // do-not-disrupt, so the drain does not evict it: it keeps running on the doomed node.
  await eventually(
    "Karpenter to taint the node karpenter.sh/disrupted",
    async () =>
      ((await scene.cluster.api.get<KubeObject>(`${nodes}/${nodeName}`)).spec.taints ?? []).some(
        (t: { key: string }) => t.key === "karpenter.sh/disrupted",
      ),
    60_000,
    500,
  );
  await new Promise((r) => setTimeout(r, 3000));
  assert.equal(
    (await scene.stepPods(namespace, run, "spot-work"))[0]?.status.phase,
    "Running",
    "do-not-disrupt: not evicted",
  );

  // 2. Two minutes later AWS reclaims the instance and its kubelet stops renewing the node's
  // Lease. Emulated by the one change that makes KWOK stop as a dead kubelet would: the Lease is
  // given to another holder for an hour (KWOK leaves a Lease someone else holds alone). The rest
  // is real: the node-lifecycle controller marks the node NotReady, Karpenter finds the instance
  // gone and lets the Node go, and the pod GC fails the orphaned pod with DisruptionTarget.
  await scene.cluster.api.mergePatch(`/apis/coordination.k8s.io/v1/namespaces/kube-node-lease/leases/${nodeName}`, {
    spec: { holderIdentity: "instance-reclaimed", leaseDurationSeconds: 3600 },
  });
  let disruption: { reason?: string } | undefined;
  const first = await eventually(
    "attempt 1's Job to fail",
    async () => {
      for (const p of await scene.stepPods(namespace, run, "spot-work")) {
        const c = condition(p, "DisruptionTarget");
        if (c?.status === "True") disruption = c;
      }
      const [job] = await scene
        .stepJobs(namespace, run, "spot-work")
        .then((js) => js.filter((j) => j.metadata.labels?.[LABEL.attempt] === "1"));
      return job && condition(job, "Failed")?.status === "True" ? job : undefined;
    },
    240_000,
    250,
  );
  assert.ok(disruption, "the pod carried DisruptionTarget");
  assert.equal(
    condition(first, "Failed")?.reason,
    "PodFailurePolicy",
    "the Job's FailJob rule on DisruptionTarget ended it",
  );

  const job = await scene.finished(namespace, run);
  assert.equal(job.status.succeeded, 1, JSON.stringify(job.status));
  const { head, steps } = await record("spotty", run);
  assert.equal(head.outcome, "succeeded");
  const attempts = steps.get("spot-work")!.attempts;
  assert.deepEqual(
    attempts.map((a) => [a.attempt, a.capacity, a.outcome]),
    [
      [1, "spot", "interrupted"],
      [2, "on-demand", "succeeded"],
    ],
  );
  assert.equal(attempts[1]!.capacityType, "on-demand", "attempt 2 ran on a node Karpenter made on-demand");
  assert.match(await scene.dagops("status", run, "-p", "spotty"), /interrupted/);
  await scene.cluster.setOutcomes({});
});

test("a run manager killed mid-run: the Job's next pod adopts the running step, and nothing runs twice", async () => {
  const namespace = ns("resilient");
  await scene.cluster.setOutcomes({ "res-b": { "*": { exit: 0, afterSeconds: 12 } } });
  const run = await scene.start("resilient");
  await scene.running(namespace, run, "res-b");
  const managers = () => scene.runPods(namespace, run);
  const [victim] = (await managers()).filter((p) => p.status?.phase === "Running");
  assert.ok(victim, "the run manager's pod runs");
  scene.cluster.kubelet.kill(namespace, victim.metadata.name);

  const job = await scene.finished(namespace, run);
  assert.equal(job.status.succeeded, 1, JSON.stringify(job.status));
  assert.equal(job.status.failed, 1, "one run-manager pod failed (137), within the Job's backoffLimit");
  await ranOnce("resilient", run, ["res-a", "res-b", "res-c"]);
  const adopter = (await managers()).find((p) => p.metadata.name !== victim.metadata.name)!;
  // It found res-a's and res-b's Jobs and created neither again.
  assert.match(scene.cluster.kubelet.logOf(namespace, adopter.metadata.name), /"run\.started".*"adopted":2/);
  const { head, steps } = await record("resilient", run);
  assert.equal(head.outcome, "succeeded");
  assert.deepEqual([...steps.keys()].sort(), ["res-a", "res-b", "res-c"]);
  await scene.cluster.setOutcomes({});
});

test("the API server restarted after etcd compacted its history: the watches get 410, list again, and the run ends once", async () => {
  const namespace = ns("steady");
  await scene.cluster.setOutcomes({ "steady-2": { "*": { exit: 0, afterSeconds: 15 } } });
  const run = await scene.start("steady");
  await scene.running(namespace, run, "steady-2");
  // Writes the run manager's watches do not see (another namespace), then a compaction up to
  // now: the resourceVersions it last saw are no longer in etcd, and a restarted API server's
  // watch cache begins after them.
  for (let i = 0; i < 20; i++)
    await scene.cluster.api.post("/api/v1/namespaces/default/configmaps", {
      apiVersion: "v1",
      kind: "ConfigMap",
      metadata: { generateName: "churn-" },
    });
  await scene.cluster.compactEtcd();
  await scene.cluster.restartApiserver(3000);

  const job = await scene.finished(namespace, run);
  assert.equal(job.status.succeeded, 1, JSON.stringify(job.status));
  assert.equal(job.status.failed ?? 0, 0, "the run manager never died");
  await ranOnce("steady", run, ["steady-1", "steady-2", "steady-3", "steady-4"]);
  const [manager] = await scene.runPods(namespace, run);
  const log = scene.cluster.kubelet.logOf(namespace, manager!.metadata.name);
  assert.match(log, /watch\.relisted/, "a watch was answered 410 Gone and listed again");
  assert.equal((await record("steady", run)).head.outcome, "succeeded");
});
