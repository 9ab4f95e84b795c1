/**
 * Every reference a reader meets must resolve inside the repository: a fresh clone has no design
 * handbook or shared folder beside it, and no tracker numbers of ours.
 */
import assert from "node:assert/strict";
import { execFileSync } from "node:child_process";
import { readFileSync } from "node:fs";
import { join } from "node:path";
import { test } from "node:test";
import { REPO } from "./helpers.ts";

test("no tracked file points a reader outside the repository", () => {
  const files = execFileSync("git", ["ls-files", "--cached", "--others", "--exclude-standard"], { cwd: REPO, encoding: "utf8" })
    .split("\n")
    .filter((f) => /\.(ts|md|ya?ml|json)$|^Dockerfile$/.test(f) && !f.startsWith("generated/") && f !== "package-lock.json" && f !== "test/references.test.ts");
  const offenders: string[] = [];
  for (const f of files) {
    let text: string;
    try {
      text = readFileSync(join(REPO, f), "utf8");
    } catch {
      continue; // deleted in the working tree
    }
    text.split("\n").forEach((line, i) => {
      if (/DESIGN\.md|\.\.\/shared\b|\b[Ii]ssue #?\d+\b(?! on github)/.test(line) && !/argo-cd #|argo-workflows #/.test(line)) offenders.push(`${f}:${i + 1}: ${line.trim()}`);
    });
  }
  assert.deepEqual(offenders, []);
});
