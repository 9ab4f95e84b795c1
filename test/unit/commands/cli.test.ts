/** The commands' contract: help, usage errors, exit codes, data on stdout and diagnostics on stderr. */
import assert from "node:assert/strict";
import { test } from "node:test";
import { main as check } from "../../../src/commands/check.ts";
import { main as synth } from "../../../src/commands/synth.ts";
import { captureIo, REPO, exampleTree } from "../../support/helpers.ts";

/** The tests' own example repository, synthesized (test/support/helpers.ts). */
const EXAMPLE_ROOT = await exampleTree();

for (const [name, main] of [
  ["synth", synth],
  ["check", check],
] as const) {
  test(`${name} --help prints usage, options, examples and exit codes; exit 0`, async () => {
    const io = captureIo(EXAMPLE_ROOT);
    assert.equal(await main(["--help"], io), 0);
    const help = io.out.join("");
    for (const section of ["Usage:", "Options:", "Examples:", "Exit codes:"])
      assert.ok(help.includes(section), section);
  });
  test(`${name} with an unknown flag exits 2 and says why`, async () => {
    const io = captureIo(EXAMPLE_ROOT);
    assert.equal(await main(["--frobnicate"], io), 2);
    assert.match(io.err.join(""), /frobnicate/);
  });
}

test("check on this repository: exit 0, the summary on stdout", async () => {
  const io = captureIo(EXAMPLE_ROOT);
  assert.equal(await check([], io), 0);
  assert.match(io.out.join(""), /^dagops check: ok \(5 pipelines, 2 clusters, 94 files/);
  assert.equal(io.err.join(""), "");
});

test("check --json gives a document other tools can read", async () => {
  const io = captureIo(EXAMPLE_ROOT);
  assert.equal(await check(["--json"], io), 0);
  const result = JSON.parse(io.out.join(""));
  assert.deepEqual(
    { ok: result.ok, pipelines: result.pipelines, clusters: result.clusters, problems: result.problems },
    { ok: true, pipelines: 5, clusters: 2, problems: [] },
  );
});
