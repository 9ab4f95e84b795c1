/**
 * Taking a newer dagops (`npx dagops upgrade <ref>`), with real git: dagops's own files become
 * the newer commit's, exactly, and nothing of the team's (pipelines, platform configuration,
 * generated/) is touched; the examples the team removed do not come back, and there is no merge
 * to conflict.
 */
import assert from "node:assert/strict";
import { execFileSync } from "node:child_process";
import { existsSync, readdirSync, readFileSync } from "node:fs";
import { appendFile, cp, mkdtemp, rm, symlink, writeFile } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { test } from "node:test";
import { CODE_DIRS } from "../../src/model/files.ts";
import { main as dagops } from "../../src/ops/main.ts";
import { main as check } from "../../src/commands/check.ts";
import { main as synth } from "../../src/commands/synth.ts";
import { captureIo, EXAMPLE, REPO, yamlPipeline } from "../support/helpers.ts";

const git = (cwd: string, ...args: string[]) =>
  execFileSync("git", ["-c", "user.name=t", "-c", "user.email=t@example.com", ...args], { cwd, encoding: "utf8" });

test("dagops upgrade: the newer dagops's files replace the old ones, the team's stay, and the result synthesizes and checks", {
  timeout: 180_000,
}, async () => {
  const base = await mkdtemp(join(tmpdir(), "dagops-upgrade-"));
  const upstream = join(base, "dagops");
  const team = join(base, "team");
  try {
    // dagops's repository: its own files as real files, and the examples.
    const manifest = JSON.parse(readFileSync(join(REPO, "package.json"), "utf8")) as {
      dagops: { code: string[]; files: string[] };
    };
    for (const p of [...manifest.dagops.code, ...manifest.dagops.files, "package.json"])
      if (existsSync(join(REPO, p)))
        await cp(join(REPO, p), join(upstream, p), { recursive: true, filter: (src) => !src.includes(".typecheck-") });
    await cp(join(EXAMPLE, "pipelines"), join(upstream, "pipelines"), { recursive: true });
    await cp(join(EXAMPLE, "lib"), join(upstream, "lib"), { recursive: true });
    await cp(join(EXAMPLE, "platform.config.ts"), join(upstream, "platform.config.ts"));
    await writeFile(join(upstream, ".gitignore"), "node_modules\n.dagops.lock\n.generated.*\n");
    git(upstream, "init", "-q", "-b", "main");
    git(upstream, "add", "-A");
    git(upstream, "commit", "-qm", "dagops 0.1");

    // The team's repository: a clone, made its own.
    git(base, "clone", "-q", upstream, team);
    await symlink(join(REPO, "node_modules"), join(team, "node_modules"), "dir");
    const io = captureIo(team);
    assert.equal(
      await dagops(
        [
          "init",
          "--cluster",
          "prod=data-prod",
          "--account",
          "210987654321",
          "--repo",
          "https://github.com/acme/data-gitops.git",
          "--subnets",
          "subnet-0a1b2c3d",
          "--force",
        ],
        io,
      ),
      0,
      io.text(),
    );
    await writeFile(join(team, "pipelines", "ours.yaml"), yamlPipeline("ours", 'schedule: "0 3 * * *"\n'));
    assert.equal(await synth([], captureIo(team)), 0);
    git(team, "add", "-A");
    git(team, "commit", "-qm", "our platform, our pipeline");
    const platform = readFileSync(join(team, "platform.config.ts"), "utf8");

    // A newer dagops: a changed module, a new one, a removed one, and a changed example.
    await appendFile(join(upstream, "src", "model", "files.ts"), "\n// dagops 0.2\n");
    await writeFile(join(upstream, "src", "model", "added-in-0-2.ts"), "export const added = true;\n");
    await rm(join(upstream, "src", "bench", "bench-rss.mjs"));
    await appendFile(join(upstream, "pipelines", "daily-usage-report.yaml"), "# changed upstream\n");
    git(upstream, "add", "-A");
    git(upstream, "commit", "-qm", "dagops 0.2");

    git(team, "fetch", "-q", upstream, "main");
    // Uncommitted changes in dagops's files are never overwritten.
    await appendFile(join(team, "src", "model", "pipeline.ts"), "// a local patch\n");
    const refused = captureIo(team);
    assert.equal(await dagops(["upgrade", "FETCH_HEAD"], refused), 2);
    assert.match(refused.err.join(""), /uncommitted changes[\s\S]*model\/pipeline\.ts/);
    git(team, "checkout", "--", "src/model/pipeline.ts");

    const up = captureIo(team);
    assert.equal(await dagops(["upgrade", "FETCH_HEAD"], up), 0, up.text());
    assert.match(readFileSync(join(team, "src", "model", "files.ts"), "utf8"), /dagops 0\.2/);
    assert.ok(existsSync(join(team, "src", "model", "added-in-0-2.ts")));
    assert.ok(!existsSync(join(team, "src", "bench", "bench-rss.mjs")), "a file dagops dropped goes");
    assert.deepEqual(
      readdirSync(join(team, "pipelines")).sort(),
      [".gitkeep", "ours.yaml"],
      "the examples do not come back",
    );
    assert.equal(readFileSync(join(team, "platform.config.ts"), "utf8"), platform);
    // Every stamp names dagops's code: the tree is stale until synthesized again, then fresh.
    assert.equal(await check([], captureIo(team)), 1);
    assert.equal(await synth([], captureIo(team)), 0);
    assert.equal(await check([], captureIo(team)), 0);
  } finally {
    await rm(base, { recursive: true, force: true });
  }
});
