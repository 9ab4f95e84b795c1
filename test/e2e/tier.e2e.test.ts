// The e2e tier: the generated tree and the run manager against a real control plane
// (test/e2e/README.md says what is real and what is emulated). One cluster for the file; the
// tests run in order, each building on what the one before it left.
import assert from "node:assert/strict";
import { after, before, test } from "node:test";
import { parse } from "yaml";
import { eventually, type KubeObject } from "./cluster/api.ts";
import { applyTree, treeObjects } from "./cluster/apply.ts";
import { Scene } from "./scene.ts";
import { LABEL } from "../../src/contract/labels.ts";
import { planCopyName, RECORD_LABEL, recordName } from "../../src/contract/record.ts";

const PIPELINE = "customer-classification";
const NAMESPACE = `dagops-${PIPELINE}`;

let scene: Scene;
let TREE: string;

before(async () => {
  // The repository's own generated/staging, applied by the first test.
  scene = await Scene.start({ apply: false });
  TREE = scene.tree;
});

after(async () => {
  await scene?.stop();
});

const dagops = (...args: string[]) => scene.dagops(...args);
const finished = (run: string) => scene.finished(NAMESPACE, run);
const start = () => scene.start(PIPELINE);

test("the whole generated tree applies: server-side dry run, then for real, in wave order, with 0 rejections", async () => {
  const rejections = await applyTree(scene.cluster, TREE);
  assert.deepEqual(rejections, []);
  // Every object is there, as generated.
  for (const { object } of treeObjects(TREE)) {
    const group = object.apiVersion?.includes("/") ? `.${object.apiVersion.split("/")[0]}` : "";
    const args = [
      "get",
      `${object.kind}${group}`,
      object.metadata.name,
      ...(object.metadata.namespace ? ["-n", object.metadata.namespace] : []),
      "-o",
      "name",
    ];
    assert.ok((await scene.cluster.kubectl(args)).trim(), `${object.kind} ${object.metadata.name} was applied`);
  }
});

test('Pod Security "restricted" is enforced on our namespaces and admits every pod we emit', async () => {
  const namespaces = treeObjects(TREE).filter(
    (o) => o.object.kind === "Namespace" && o.object.metadata.name.startsWith("dagops-"),
  );
  assert.ok(namespaces.length >= 2);
  for (const ns of namespaces)
    assert.equal(ns.object.metadata.labels?.[LABEL.podSecurityEnforce], "restricted", ns.file);
  // Each pod template: the run manager's (CronJob) and every step's (the Jobs embedded in the plan).
  const templates: [string, string, KubeObject["spec"]][] = [];
  for (const { file, object } of treeObjects(TREE)) {
    if (object.kind === "CronJob")
      templates.push([file, object.metadata.namespace!, object.spec.jobTemplate.spec.template]);
    if (object.kind === "ConfigMap" && object.data?.["plan.yaml"]) {
      const plan = parse(object.data["plan.yaml"]) as { steps: { name: string; job: KubeObject }[] };
      for (const step of plan.steps)
        templates.push([`${file} step ${step.name}`, object.metadata.namespace!, step.job.spec.template]);
    }
  }
  assert.ok(templates.length > 5);
  for (const [what, namespace, template] of templates) {
    const pod = {
      apiVersion: "v1",
      kind: "Pod",
      metadata: { ...template.metadata, name: "psa-check" },
      spec: template.spec,
    };
    await scene.cluster.api.post(`/api/v1/namespaces/${namespace}/pods?dryRun=All`, pod).catch((err: Error) => {
      throw new Error(`${what}: ${err.message}`);
    });
  }
  // The control: a pod that breaks "restricted" is refused in the same namespace.
  const bad = {
    apiVersion: "v1",
    kind: "Pod",
    metadata: { name: "privileged" },
    spec: { containers: [{ name: "c", image: "x", securityContext: { privileged: true } }] },
  };
  await assert.rejects(
    scene.cluster.api.post(`/api/v1/namespaces/${NAMESPACE}/pods?dryRun=All`, bad),
    /violates PodSecurity \\?"restricted:/,
  );
});

test("the example pipeline end to end: steps on nodes Karpenter made for their pool, a complete record, runs and status", async () => {
  const run = await start();
  const job = await finished(run);
  assert.equal(job.status.succeeded, 1, `the run-manager Job succeeded: ${JSON.stringify(job.status)}`);

  const plan = parse(
    (
      await scene.cluster.api.list<KubeObject & { data: Record<string, string> }>(
        `/api/v1/namespaces/${NAMESPACE}/configmaps?labelSelector=${encodeURIComponent(`${LABEL.pipeline}=${PIPELINE}`)}`,
      )
    )
      .map((c) => c.data?.["plan.yaml"])
      .find(Boolean) ?? "",
  ) as { steps: { name: string; capacity: string; job: KubeObject }[] };
  const stepJobs = await scene.cluster.api.list(
    `/apis/batch/v1/namespaces/${NAMESPACE}/jobs?labelSelector=${encodeURIComponent(`${LABEL.run}=${run}`)}`,
  );
  assert.equal(
    new Set(stepJobs.map((j) => j.metadata.labels?.[LABEL.step])).size,
    plan.steps.length,
    "one Job per step",
  );
  const nodes = new Map(
    (await scene.cluster.api.list("/api/v1/nodes")).map((n) => [n.metadata.name, n.metadata.labels ?? {}] as const),
  );
  // Pods of succeeded Jobs may be gone (a Fargate-less node's pods stay; check those that remain).
  const pods = await scene.cluster.api.list(
    `/api/v1/namespaces/${NAMESPACE}/pods?labelSelector=${encodeURIComponent(`${LABEL.role}=step`)}`,
  );
  assert.ok(pods.length > 0, "step pods remain to inspect");
  for (const pod of pods) {
    const step = plan.steps.find((s) => s.name === pod.metadata.labels?.[LABEL.step])!;
    const wantPool = step.job.spec.template.spec.nodeSelector[LABEL.karpenterNodePool];
    const labels = nodes.get(pod.spec.nodeName);
    assert.ok(labels, `${pod.metadata.name} ran on a node that exists (${pod.spec.nodeName})`);
    assert.equal(labels[LABEL.karpenterNodePool], wantPool, `${step.name} ran on a node of ${wantPool}`);
    assert.equal(
      labels[LABEL.capacityType],
      step.capacity === "spot" ? "spot" : "on-demand",
      `${step.name}'s capacity type`,
    );
    assert.ok(labels["node.kubernetes.io/instance-type"], "Karpenter chose an instance type");
  }
  // The run manager ran on a Fargate node, admitted through the Fargate profile.
  assert.ok([...scene.cluster.fargate.admitted.values()].some((p) => p.startsWith("dagops-run-managers")));

  const runs = await dagops("runs", PIPELINE);
  assert.match(runs, new RegExp(`${run}.*succeeded`));
  const status = await dagops("status", run, "-p", PIPELINE);
  assert.match(status, /succeeded/);
  for (const step of plan.steps) assert.match(status, new RegExp(step.name));
});

test("a step that fails once succeeds on its retry (the real Job controller, podFailurePolicy and backoffLimit 0)", async () => {
  await scene.cluster.setOutcomes({ "scan-s3": { "1": { exit: 1 } } });
  const run = await start();
  const job = await finished(run);
  assert.equal(job.status.succeeded, 1, JSON.stringify(job.status));
  const attempts = await scene.cluster.api.list(
    `/apis/batch/v1/namespaces/${NAMESPACE}/jobs?labelSelector=${encodeURIComponent(`${LABEL.run}=${run},${LABEL.step}=scan-s3`)}`,
  );
  const byAttempt = new Map(attempts.map((j) => [j.metadata.labels?.[LABEL.attempt], j]));
  assert.equal(byAttempt.size, 2, "two attempts of scan-s3");
  assert.ok(
    (byAttempt.get("1")?.status.conditions ?? []).some(
      (c: { type: string; status: string }) => c.type === "Failed" && c.status === "True",
    ),
    "attempt 1's Job failed (backoffLimit 0: the Job controller ended it at the first failed pod)",
  );
  assert.equal(byAttempt.get("2")?.status.succeeded, 1, "attempt 2 succeeded");
  await scene.cluster.setOutcomes({});
});

test("a run record outlives its run Job: the real garbage collector takes the step Jobs and the plan copy, not the record", async () => {
  const run = await start();
  const runUid = (await finished(run)).metadata.uid;
  const stepJobs = `/apis/batch/v1/namespaces/${NAMESPACE}/jobs?labelSelector=${encodeURIComponent(`${LABEL.run}=${run}`)}`;
  assert.ok((await scene.cluster.api.list(stepJobs)).length > 0);
  const configMaps = `/api/v1/namespaces/${NAMESPACE}/configmaps`;
  assert.ok(
    await scene.cluster.api.exists(`${configMaps}/${planCopyName({ name: run, uid: "", namespace: NAMESPACE })}`),
  );
  // What the TTL controller does an hour after the run (ttlSecondsAfterFinished): delete the Job, in the background.
  await scene.cluster.api.delete(`/apis/batch/v1/namespaces/${NAMESPACE}/jobs/${run}`, {
    apiVersion: "v1",
    kind: "DeleteOptions",
    propagationPolicy: "Background",
  });
  await eventually(
    "the garbage collector to take the step Jobs",
    async () => (await scene.cluster.api.list(stepJobs)).length === 0,
    120_000,
    500,
  );
  await eventually(
    "the garbage collector to take the plan copy",
    async () =>
      !(await scene.cluster.api.exists(`${configMaps}/${planCopyName({ name: run, uid: "", namespace: NAMESPACE })}`)),
    120_000,
    500,
  );
  const record = await scene.cluster.api.get<KubeObject>(
    `${configMaps}/${recordName({ name: run, uid: "", namespace: NAMESPACE })}`,
  );
  assert.equal(record.metadata.labels?.[RECORD_LABEL], "true");
  assert.ok(
    !(record.metadata.ownerReferences ?? []).some((o) => o.uid === runUid),
    "the record is not owned by the run Job",
  );
  // And the operator still sees the run, from its record alone.
  assert.match(await dagops("runs", PIPELINE), new RegExp(`${run}.*succeeded`));
});

test("stopping the cluster leaves no process behind", async () => {
  const pids = scene.cluster.processes.pids();
  assert.ok(
    pids.length >= 6,
    `etcd, kube-apiserver, kube-controller-manager, kube-scheduler, kwok, karpenter: ${pids}`,
  );
  await scene.cluster.stop();
  for (const pid of pids) {
    assert.throws(() => process.kill(pid, 0), { code: "ESRCH" }, `process ${pid} is gone`);
  }
  assert.deepEqual(scene.cluster.kubelet.running(), []);
});
