/**
 * The tree synth writes for the tests' example repository (test/fixtures/example): what a full
 * compile renders, byte for byte, in the documented layout. (The repository's own generated/ is
 * proved fresh by `npm run check` in CI.)
 */
import assert from "node:assert/strict";
import { join } from "node:path";
import { test } from "node:test";
import { compile } from "../../../src/synth/compile.ts";
import { exampleTree, snapshot } from "../../support/helpers.ts";

const EXAMPLE_ROOT = await exampleTree();

test("the example pipelines render exactly the tree synth wrote", async () => {
  const compiled = await compile(EXAMPLE_ROOT);
  assert.deepEqual(compiled.problems, []);
  const rendered = new Map(compiled.files!.map((f) => [f.path, f.content]));
  const committed = await snapshot(join(EXAMPLE_ROOT, "generated"));
  assert.deepEqual([...rendered.keys()].sort(), [...committed.keys()], "file list differs: run `npm run synth`");
  for (const [path, content] of rendered)
    assert.equal(committed.get(path), content, `generated/${path} differs: run \`npm run synth\``);
});

test("the golden tree has the layout of docs/gitops.md for every cluster", async () => {
  const committed = [...(await snapshot(join(EXAMPLE_ROOT, "generated"))).keys()];
  for (const cluster of ["staging", "prod"]) {
    for (const file of [
      "bootstrap/application-dagops-root.yaml",
      "bootstrap/appproject-dagops.yaml",
      "bootstrap/appproject-dagops-bootstrap.yaml",
      "bootstrap/configmap-argocd-cm.yaml",
      "apps/application-dagops-platform.yaml",
      "apps/application-pipeline-customer-classification.yaml",
      "platform/ec2nodeclass-dagops-steps.yaml",
      "platform/nodepool-dagops-steps.yaml",
      "platform/nodepool-dagops-steps-on-demand.yaml",
      "platform/fargateprofile-run-managers.yaml",
      "platform/fargateprofile-karpenter.yaml",
      "platform/namespace-dagops-customer-classification.yaml",
      "pipelines/customer-classification/configmap-plan.yaml",
      "pipelines/customer-classification/cronjob-customer-classification.yaml",
      "pipelines/customer-classification/serviceaccount-run-manager.yaml",
      "pipelines/customer-classification/role-run-manager.yaml",
      "pipelines/customer-classification/rolebinding-run-manager.yaml",
      "pipelines/customer-classification/serviceaccount-steps.yaml",
    ]) {
      assert.ok(committed.includes(`${cluster}/${file}`), `missing ${cluster}/${file}`);
    }
  }
  // daily-usage-report targets prod only.
  assert.ok(committed.includes("prod/pipelines/daily-usage-report/cronjob-daily-usage-report.yaml"));
  assert.ok(!committed.some((p) => p.startsWith("staging/pipelines/daily-usage-report/")));
});
