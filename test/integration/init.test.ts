/**
 * A repository a team can make its own: `npx dagops init` clears the examples, writes the team's
 * platform configuration and synthesizes; bad options change nothing; and the tests never read
 * the repository's own pipelines/, platform.config.ts or generated/ (they use test/fixtures/example),
 * so a team that deletes or changes those keeps a green `npm test`.
 */
import assert from "node:assert/strict";
import { existsSync, readdirSync, readFileSync } from "node:fs";
import { join } from "node:path";
import { test } from "node:test";
import { main as dagops } from "../../src/ops/main.ts";
import { main as check } from "../../src/commands/check.ts";
import { captureIo, REPO, snapshot, tempRepo } from "../support/helpers.ts";

const OPTIONS = [
  "--cluster",
  "prod=data-prod",
  "--cluster",
  "dev",
  "--account",
  "210987654321",
  "--repo",
  "https://github.com/acme/data-gitops.git",
  "--subnets",
  "subnet-0a1b2c3d,subnet-0b1c2d3e",
];

test("dagops init: the examples removed, the team's clusters in platform.config.ts, generated/ synthesized, check passes", async () => {
  const repo = await tempRepo({ generated: true });
  try {
    const io = captureIo(repo.root);
    // --force: the tests' example has a helper (pipelines/_limits.ts) that dagops's own examples do not.
    assert.equal(await dagops(["init", ...OPTIONS, "--force"], io), 0, io.text());
    assert.deepEqual(readdirSync(join(repo.root, "pipelines")), [".gitkeep"]);
    const config = await repo.read("platform.config.ts");
    assert.match(config, /name: "prod",\s+eksClusterName: "data-prod"/);
    assert.match(config, /name: "dev",\s+eksClusterName: "dev"/);
    const tree = [...(await snapshot(join(repo.root, "generated"))).keys()];
    assert.ok(
      tree.includes("dev/bootstrap/application-dagops-root.yaml") &&
        tree.includes("prod/platform/nodepool-dagops-steps.yaml"),
      tree.join("\n"),
    );
    assert.ok(
      !tree.some((p) => p.includes("/pipelines/") || p.startsWith("staging/")),
      "nothing of the examples is left",
    );
    assert.equal(await check([], captureIo(repo.root)), 0);
  } finally {
    await repo.cleanup();
  }
});

test("dagops init with a bad option, or beside pipelines that are not the examples, changes nothing", async () => {
  const repo = await tempRepo({ generated: true });
  try {
    const before = await snapshot(repo.root);
    const bad = captureIo(repo.root);
    assert.equal(await dagops(["init", ...OPTIONS.map((o) => (o.startsWith("subnet-") ? "subnet-0a" : o))], bad), 2);
    assert.match(
      bad.err.join(""),
      /clusters\[0\]\.fargate\.subnets\[0\][^\n]*INVALID_VALUE[^\n]*subnet-0a[\s\S]*nothing was changed/,
    );
    await repo.write("pipelines/ours.yaml", "name: ours\n");
    const theirs = captureIo(repo.root);
    assert.equal(await dagops(["init", ...OPTIONS], theirs), 2);
    assert.match(theirs.err.join(""), /ours\.yaml[^\n]*--force/);
    await repo.remove("pipelines/ours.yaml");
    assert.deepEqual(await snapshot(repo.root), before);
  } finally {
    await repo.cleanup();
  }
});

test("no test reads the repository's own pipelines/, platform.config.ts or generated/", () => {
  // Paths into the examples, and the commands that read a repository's definitions run on this one.
  const own = [
    /join\((REPO|ROOT), "(pipelines|generated|platform\.config\.ts)/,
    /(loadProject|compile|runCheck)\(REPO\b/,
    /main as (synth|check|plan|cost|diff)\b[\s\S]*captureIo\(REPO\b/,
  ];
  for (const file of readdirSync(join(REPO, "test")).filter((f) => f.endsWith(".ts") && f !== "init.test.ts")) {
    const text = readFileSync(join(REPO, "test", file), "utf8");
    for (const re of own)
      assert.doesNotMatch(
        text,
        re,
        `test/${file} reads the repository's own examples; use exampleTree() or tempRepo() (test/support/helpers.ts)`,
      );
  }
  assert.ok(existsSync(join(REPO, "test/fixtures/example/platform.config.ts")));
});
