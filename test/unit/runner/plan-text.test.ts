/** The run manager's plan reader (src/runner/plan-text.ts) gives exactly what the YAML parser gives. */
import assert from "node:assert/strict";
import { readFile } from "node:fs/promises";
import { join } from "node:path";
import { test } from "node:test";
import { parse } from "yaml";
import { planDocument } from "../../../src/charts/plan.ts";
import type { PipelineDefinition } from "../../../src/model/pipeline.ts";
import { resolvePipeline } from "../../../src/model/resolve.ts";
import { parsePlanText, planSections } from "../../../src/runner/plan-text.ts";
import { REPO, exampleTree } from "../../support/helpers.ts";

/** The tests' own example repository, synthesized (test/support/helpers.ts). */
const EXAMPLE_ROOT = await exampleTree();

const whole = (text: string) => parse(text, { version: "1.1" });

test("every plan synth writes reads the same step by step as whole", async () => {
  for (const file of [
    "generated/prod/pipelines/customer-classification/configmap-plan.yaml",
    "generated/prod/pipelines/daily-usage-report/configmap-plan.yaml",
    "generated/staging/pipelines/customer-classification/configmap-plan.yaml",
  ]) {
    const text = (parse(await readFile(join(EXAMPLE_ROOT, file), "utf8")) as { data: { "plan.yaml": string } }).data[
      "plan.yaml"
    ];
    assert.deepStrictEqual(parsePlanText(text), whole(text), file);
    assert.equal(
      planSections(text)?.sequences[0]?.items.length,
      (whole(text) as { steps: unknown[] }).steps.length,
      "read step by step, not whole",
    );
  }
  const def: PipelineDefinition = {
    name: "big",
    image: "registry.example.com/a:1.0.0",
    prewarm: true,
    params: { date: { type: "date", default: "scheduled-date", description: "a: b\n- c" } },
    defaults: { resources: { requests: { cpu: "100m", memory: "64Mi" } } },
    steps: Array.from({ length: 300 }, (_, i) => ({
      name: `s${i}`,
      args: ["--x", "  - not an item", "multi\nline\n  - still text"],
      ...(i ? { dependsOn: [`s${i - 1}`] } : {}),
    })),
  };
  const { pipeline } = resolvePipeline(def, "pipelines/big.yaml", ["prod"]);
  const { text } = planDocument(pipeline!);
  assert.deepStrictEqual(parsePlanText(text), whole(text));
  assert.deepEqual(
    planSections(text)?.sequences.map((q) => [q.key, q.items.length]),
    [
      ["placeholders", 1],
      ["steps", 300],
    ],
  );
});

test("a text in another layout is parsed whole: same result, same errors", () => {
  const cases = [
    "steps:\n- name: a\n  dependsOn: []\n",
    "steps:\n  - &x { name: a }\n  - *x\n",
    "pipeline: p\nsteps:\n  # a comment\n  - name: a\nkind: Plan\n",
    "steps: []\n",
    "steps:\n  - name: a\n    args: [1]\n  - name: b\n",
    "kind: Plan\n",
  ];
  for (const text of cases) assert.deepStrictEqual(parsePlanText(text), whole(text), text);
  assert.equal(planSections(cases[0]!), undefined, "items at column 0: not the serializer's layout");
  assert.throws(() => parsePlanText("steps:\n  - name: a\nsteps:\n  - name: b\n"));
  assert.throws(() => whole("steps:\n  - name: a\nsteps:\n  - name: b\n"));
});
