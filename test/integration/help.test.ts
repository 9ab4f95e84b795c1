/**
 * `--help` is answered before anything heavy is loaded: each command parses its flags first and
 * imports cdk8s, ajv and the schema packages only when it has work to do. Checked by recording
 * what the process resolves, not by timing it.
 */
import assert from "node:assert/strict";
import { spawnSync } from "node:child_process";
import { mkdtempSync, readFileSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { test } from "node:test";
import { REPO } from "../support/helpers.ts";

const HEAVY = /^(cdk8s|ajv|kubernetes-models|@kubernetes-models\/|@octokit\/)/;

for (const command of ["synth", "check", "cost", "plan", "diff", "pr-comment"]) {
  test(`${command} --help loads none of cdk8s, ajv, the schema packages or Octokit`, () => {
    const dir = mkdtempSync(join(tmpdir(), "dagops-help-"));
    try {
      const trace = join(dir, "imports.txt");
      const run = spawnSync(
        process.execPath,
        [
          "--import",
          "tsx",
          "--import",
          join(REPO, "test/fixtures/trace-imports.mjs"),
          join(REPO, `src/commands/${command}.ts`),
          "--help",
        ],
        {
          cwd: REPO,
          encoding: "utf8",
          env: { ...process.env, DAGOPS_TRACE_IMPORTS: trace },
        },
      );
      assert.equal(run.status, 0, run.stderr);
      assert.match(run.stdout, /^Usage: /);
      assert.match(run.stdout, /Exit codes:/);
      const loaded = readFileSync(trace, "utf8").split("\n");
      assert.ok(
        loaded.some((s) => s.endsWith("/cli/kit.ts")),
        "the trace records the command's own imports",
      );
      assert.deepEqual(
        loaded.filter((s) => HEAVY.test(s)),
        [],
      );
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
  });
}

test("synth --help lists every option it takes", () => {
  const run = spawnSync(process.execPath, ["--import", "tsx", join(REPO, "src/commands/synth.ts"), "--help"], {
    cwd: REPO,
    encoding: "utf8",
  });
  for (const option of ["--root", "--timings", "--help"]) assert.match(run.stdout, new RegExp(`${option}\\b`));
});
