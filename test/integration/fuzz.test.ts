/**
 * The fuzz property test in CI: a fixed seed, so the same cases run everywhere and a failure
 * reproduces with `npm run fuzz -- --cases 80 --seed 20261201`. Longer runs: `npm run fuzz`.
 */
import assert from "node:assert/strict";
import { test } from "node:test";
import { fuzz, pipelineCase, random } from "../support/fuzz.ts";

test("fuzzed pipeline documents: synth never crashes, writes nothing on problems, and writes Go-safe, fresh, idempotent output", async () => {
  const { failures, accepted, refused } = await fuzz(20261201, 80);
  assert.deepEqual(
    failures.map((f) => `case ${f.case}: ${f.why}\n${f.input}`),
    [],
  );
  assert.ok(accepted >= 10 && refused >= 10, `both paths exercised: ${accepted} accepted, ${refused} refused`);
});

test("the generator is deterministic: one seed, one sequence of cases", () => {
  const a = random(42);
  const b = random(42);
  for (let i = 0; i < 20; i++) assert.equal(pipelineCase(a), pipelineCase(b));
});
