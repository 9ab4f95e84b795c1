/**
 * The golden tree: the committed generated/ is the expected output of the example pipelines,
 * byte for byte. After an intended output change, refresh it with `npm run synth` and review the
 * diff like any other change.
 */
import assert from "node:assert/strict";
import { join } from "node:path";
import { test } from "node:test";
import { compile } from "../scripts/lib/compile.ts";
import { REPO, snapshot } from "./helpers.ts";

test("the example pipelines render exactly the committed generated/ tree", async () => {
  const compiled = await compile(REPO);
  assert.deepEqual(compiled.problems, []);
  const rendered = new Map(compiled.files!.map((f) => [f.path, f.content]));
  const committed = await snapshot(join(REPO, "generated"));
  assert.deepEqual([...rendered.keys()].sort(), [...committed.keys()], "file list differs: run `npm run synth`");
  for (const [path, content] of rendered) assert.equal(committed.get(path), content, `generated/${path} differs: run \`npm run synth\``);
});

test("the golden tree has the README's layout for every cluster", async () => {
  const committed = [...(await snapshot(join(REPO, "generated"))).keys()];
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
