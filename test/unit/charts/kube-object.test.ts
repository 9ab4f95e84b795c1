/**
 * src/charts/kube-object.ts writes a manifest as given, without cdk8s's resolvers: proved here to
 * write what cdk8s's own ApiObject.toJson writes, for every object the example pipelines render.
 */
import assert from "node:assert/strict";
import { test } from "node:test";
import { ApiObject, App, Chart } from "cdk8s";
import { AppsChart } from "../../../src/charts/apps-chart.ts";
import { BootstrapChart } from "../../../src/charts/bootstrap-chart.ts";
import { KubeObject, plainData } from "../../../src/charts/kube-object.ts";
import { PipelineChart } from "../../../src/charts/pipeline-chart.ts";
import { planDocument } from "../../../src/charts/plan.ts";
import { PlatformChart } from "../../../src/charts/platform-chart.ts";
import { toYaml } from "../../../src/contract/yaml.ts";
import { forCluster } from "../../../src/model/resolve.ts";
import { loadProject } from "../../../src/load/load.ts";
import { REPO, exampleTree } from "../../support/helpers.ts";

/** The tests' own example repository, synthesized (test/support/helpers.ts). */
const EXAMPLE_ROOT = await exampleTree();

test("every object the example pipelines render is a KubeObject, written as cdk8s's own toJson writes it", async () => {
  const project = await loadProject(EXAMPLE_ROOT);
  assert.ok(project.pipelines.length >= 3);
  // Each chart in its own App, as render.ts makes them.
  const charts: Chart[] = [];
  for (const cluster of project.clusters) {
    const mine = project.pipelines.filter((p) => p.clusters.includes(cluster.name));
    const names = mine.map((p) => p.name);
    charts.push(new BootstrapChart(new App(), "bootstrap", { cluster }));
    charts.push(new AppsChart(new App(), "apps", { cluster, platform: true, pipelines: names }));
    charts.push(new PlatformChart(new App(), "platform", { cluster }));
    for (const p of mine) {
      const pipeline = forCluster(p, cluster.name);
      charts.push(
        new PipelineChart(new App(), p.name, {
          pipeline,
          cluster,
          plan: planDocument(pipeline, cluster.placeholderImage),
        }),
      );
    }
  }
  const objects = charts.flatMap((c) => c.node.findAll().filter((o): o is ApiObject => o instanceof ApiObject));
  const kinds = new Set(objects.map((o) => o.kind));
  for (const kind of [
    "CronJob",
    "ConfigMap",
    "Role",
    "RoleBinding",
    "ServiceAccount",
    "Namespace",
    "Application",
    "AppProject",
    "NodePool",
    "EC2NodeClass",
    "FargateProfile",
    "PriorityClass",
    "ClusterRole",
  ])
    assert.ok(kinds.has(kind), kind);
  for (const o of objects) {
    assert.ok(o instanceof KubeObject, `${o.node.path} (${o.kind}) is not a KubeObject`);
    const ours = o.toJson();
    const cdk8s = ApiObject.prototype.toJson.call(o);
    assert.deepEqual(ours, cdk8s, o.node.path);
    assert.equal(toYaml(ours), toYaml(cdk8s), o.node.path);
  }
});

test("a KubeObject leaves out null and undefined values as cdk8s does, and refuses what is not plain data", () => {
  const shared = Object.freeze({ a: 1, list: Object.freeze(["x"]) });
  const chart = new Chart(new App(), "chart");
  const o = new KubeObject(chart, "o", {
    apiVersion: "v1",
    kind: "ConfigMap",
    metadata: { name: "n", annotations: {} },
    data: { keep: "v", gone: undefined, nil: null },
    shared,
    deep: [{ a: null, b: 2 }],
  });
  const json = o.toJson();
  assert.deepEqual(json, ApiObject.prototype.toJson.call(o));
  assert.deepEqual(json, {
    apiVersion: "v1",
    kind: "ConfigMap",
    metadata: { name: "n" },
    data: { keep: "v" },
    shared: { a: 1, list: ["x"] },
    deep: [{ b: 2 }],
  });
  // A part with nothing to leave out is the same object: shared, frozen parts stay shared.
  assert.equal(json.shared, shared);
  const nothingToDrop = { a: [1, { b: "c" }] };
  assert.equal(plainData(nothingToDrop, "x"), nothingToDrop);
  class Quantity {
    constructor(readonly value: string) {}
  }
  assert.throws(() => plainData({ spec: { cpu: new Quantity("1") } }, "chart/o"), /chart\/o: cannot render a Quantity/);
  assert.throws(() => o.addJsonPatch(), /written as given/);
});

test("instanceof a dagops class follows the prototype chain (cdk8s's own answers true for every ApiObject)", async () => {
  const { PlanObject } = await import("../../../src/charts/plan-config-map.ts");
  const chart = new Chart(new App(), "chart");
  const plain = new ApiObject(chart, "plain", { apiVersion: "v1", kind: "ConfigMap", metadata: { name: "p" } });
  const ours = new KubeObject(chart, "ours", { apiVersion: "v1", kind: "ConfigMap", metadata: { name: "o" } });
  assert.ok(plain instanceof ApiObject && ours instanceof ApiObject);
  assert.equal(plain instanceof KubeObject, false);
  assert.equal(ours instanceof PlanObject, false);
});
