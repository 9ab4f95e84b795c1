/** Determinism, drift, no-op synth, and revert in a real git repository. */
import assert from "node:assert/strict";
import { join, posix } from "node:path";
import { parse } from "yaml";
import { test } from "node:test";
import { main as check } from "../../src/commands/check.ts";
import { main as synth } from "../../src/commands/synth.ts";
import { captureIo, git, REPO, snapshot, tempRepo, exampleTree } from "../support/helpers.ts";

/** The tests' own example repository, synthesized (test/support/helpers.ts). */
const EXAMPLE_ROOT = await exampleTree();

test("determinism: two synths in two folders give identical bytes, equal to the committed tree", async () => {
  const a = await tempRepo();
  const b = await tempRepo();
  try {
    assert.equal(await synth([], captureIo(a.root)), 0);
    assert.equal(await synth([], captureIo(b.root)), 0);
    const treeA = await snapshot(join(a.root, "generated"));
    assert.ok(treeA.size > 40);
    assert.deepEqual(treeA, await snapshot(join(b.root, "generated")));
    assert.deepEqual(treeA, await snapshot(join(EXAMPLE_ROOT, "generated")));
    assert.equal(await a.read("schema/pipeline.schema.json"), await b.read("schema/pipeline.schema.json"));
  } finally {
    await a.cleanup();
    await b.cleanup();
  }
});

test("a no-op synth rewrites nothing and says the tree is up to date", async () => {
  const repo = await tempRepo({ generated: true });
  try {
    const file = join(repo.root, "generated/prod/platform/nodepool-dagops-steps.yaml");
    const { statSync } = await import("node:fs");
    const before = statSync(file);
    const io = captureIo(repo.root);
    assert.equal(await synth([], io), 0);
    assert.match(io.out.join(""), /up to date/);
    const after = statSync(file);
    assert.equal(after.ino, before.ino, "same inode: the file was not rewritten");
    assert.equal(after.mtimeMs, before.mtimeMs);
  } finally {
    await repo.cleanup();
  }
});

test("drift: check lists stale, missing and extra files and the command that fixes them", async () => {
  const repo = await tempRepo({ generated: true });
  try {
    assert.equal(await check([], captureIo(repo.root)), 0);
    const stale = "generated/prod/platform/nodepool-dagops-steps.yaml";
    await repo.write(stale, (await repo.read(stale)).replace("consolidateAfter: 1m", "consolidateAfter: 5m"));
    await repo.remove("generated/staging/apps/application-dagops-platform.yaml");
    await repo.write("generated/prod/platform/hand-made.yaml", "apiVersion: v1\nkind: ConfigMap\n");
    const io = captureIo(repo.root);
    assert.equal(await check(["--json"], io), 1);
    const result = JSON.parse(io.out.join("")) as {
      ok: boolean;
      problems: { code: string; file: string; message: string }[];
    };
    assert.equal(result.ok, false);
    const drift = result.problems.map((p) => `${p.code} ${p.file}`).sort();
    assert.deepEqual(drift, [
      "DRIFT_EXTRA generated/prod/platform/hand-made.yaml",
      `DRIFT_MISSING generated/staging/apps/application-dagops-platform.yaml`,
      `DRIFT_STALE ${stale}`,
    ]);
    assert.ok(result.problems.every((p) => p.message.includes("npm run synth")));

    // synth repairs all three: the stale file rewritten, the missing one back, the extra one removed.
    const out = captureIo(repo.root);
    assert.equal(await synth([], out), 0);
    assert.match(out.out.join(""), /1 added, 1 changed, 1 removed/);
    assert.match(out.out.join(""), /^  - prod\/platform\/hand-made\.yaml$/m);
    assert.match(out.out.join(""), /^  ~ prod\/platform\/nodepool-dagops-steps\.yaml$/m);
    assert.match(out.out.join(""), /^  \+ staging\/apps\/application-dagops-platform\.yaml$/m);
    assert.deepEqual(await snapshot(join(repo.root, "generated")), await snapshot(join(EXAMPLE_ROOT, "generated")));
    assert.equal(await check([], captureIo(repo.root)), 0);
  } finally {
    await repo.cleanup();
  }
});

test("revert: git revert of a pipeline change restores generated/ byte for byte and check passes", async () => {
  const repo = await committedRepo();
  try {
    const treeA = await snapshot(join(repo.root, "generated"));

    // B: heavier steps, a new step and a new schedule: the plan ConfigMap gets a new hashed name.
    const source = "pipelines/daily-usage-report.yaml";
    const changed = (await repo.read(source))
      .replace('schedule: "30 2 * * *"', 'schedule: "0 3 * * *"')
      .replace("requests: { cpu: 250m, memory: 256Mi }", "requests: { cpu: 500m, memory: 512Mi }")
      .replace('limits: { cpu: "1", memory: 512Mi }', 'limits: { cpu: "1", memory: 1Gi }')
      .concat("  - name: archive\n    command: [usage-report, archive]\n    dependsOn: [export-usage]\n");
    await repo.write(source, changed);
    assert.equal(await synth([], captureIo(repo.root)), 0);
    git(repo.root, "add", "-A");
    git(repo.root, "commit", "-qm", "B");
    const treeB = await snapshot(join(repo.root, "generated"));
    assert.notDeepEqual(treeB, treeA);
    assert.match(git(repo.root, "diff", "--stat", "HEAD~1", "--", "generated"), /configmap-plan\.yaml/);

    git(repo.root, "revert", "--no-edit", "HEAD");
    assert.deepEqual(await snapshot(join(repo.root, "generated")), treeA, "generated/ after the revert equals A");
    assert.equal(git(repo.root, "diff", "HEAD~2", "HEAD", "--", "generated", "pipelines"), "");
    assert.equal(await check([], captureIo(repo.root)), 0, "check passes on the revert commit");
    assert.equal(git(repo.root, "status", "--porcelain"), "");
  } finally {
    await repo.cleanup();
  }
});

test("manifest-generate-paths: for a one-pipeline change, exactly one pipeline Application's paths hold a changed file", async () => {
  const repo = await committedRepo();
  try {
    const source = "pipelines/daily-usage-report.yaml";
    await repo.write(
      source,
      (await repo.read(source)).replace(
        "requests: { cpu: 250m, memory: 256Mi }",
        "requests: { cpu: 500m, memory: 256Mi }",
      ),
    );
    assert.equal(await synth([], captureIo(repo.root)), 0);
    const changed = git(repo.root, "status", "--porcelain", "--", "generated")
      .split("\n")
      .filter(Boolean)
      .map((l) => l.slice(3));
    assert.ok(changed.length > 0);
    const apps = [...(await snapshot(join(repo.root, "generated"))).entries()]
      .filter(([path]) => /\/(apps|bootstrap)\/application-/.test(path))
      .map(([, text]) => parse(text));
    const watched = (app: any) =>
      String(app.metadata.annotations["argocd.argoproj.io/manifest-generate-paths"])
        .split(";")
        .map((p: string) => posix.normalize(posix.join(app.spec.source.path, p)));
    assert.ok(
      apps.every((a) => a.metadata.annotations["argocd.argoproj.io/manifest-generate-paths"] === "."),
      "every Application says which paths it depends on",
    );
    const hit = apps.filter((a) =>
      changed.some((file) => watched(a).some((dir: string) => file.startsWith(`${dir}/`))),
    );
    assert.deepEqual(
      hit.map((a) => `${a.spec.source.path}`),
      ["generated/prod/pipelines/daily-usage-report"],
    );
  } finally {
    await repo.cleanup();
  }
});

/** A repository copy with its first synth committed as "A". */
async function committedRepo() {
  const repo = await tempRepo();
  await repo.write(
    ".gitignore",
    "node_modules\nmodel\ncharts\nrender\nchecks\nscripts\n.generated.*\n.dagops-stat*.json\n",
  );
  assert.equal(await synth([], captureIo(repo.root)), 0);
  git(repo.root, "init", "-q", "-b", "main");
  git(repo.root, "add", "-A");
  git(repo.root, "commit", "-qm", "A");
  return repo;
}
