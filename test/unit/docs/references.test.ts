/**
 * Every reference a reader meets must resolve inside the repository: a fresh clone has no design
 * handbook or shared folder beside it, and no tracker numbers of ours. Every link and every path
 * a document names exists, the generated tables are current, and the README stays one page.
 */
import assert from "node:assert/strict";
import { existsSync, readdirSync, readFileSync } from "node:fs";
import { dirname, join, normalize } from "node:path";
import { test } from "node:test";
import { generatedRegions, withRegion } from "../../../src/commands/docs.ts";
import { REPO } from "../../support/helpers.ts";

const SKIP = new Set(["node_modules", ".git", "generated", "dist"]);

/** The repository's own text files (what a clone holds, without generated/). */
function files(): string[] {
  const out: string[] = [];
  const walk = (dir: string) => {
    for (const e of readdirSync(join(REPO, dir), { withFileTypes: true })) {
      const path = dir ? `${dir}/${e.name}` : e.name;
      // Dot-files at the top are local state (.dagops.lock, scratch), besides CI's folders.
      if (SKIP.has(e.name) || (dir === "" && e.name.startsWith(".") && ![".ci", ".github"].includes(e.name))) continue;
      if (e.isDirectory()) walk(path);
      else if (
        e.isFile() &&
        (/\.(ts|mjs|md|ya?ml|json)$/.test(e.name) || e.name === "Dockerfile") &&
        path !== "package-lock.json"
      )
        out.push(path);
    }
  };
  walk("");
  return out.sort();
}

const documents = () => [
  "README.md",
  ...readdirSync(join(REPO, "docs"))
    .filter((f) => f.endsWith(".md"))
    .map((f) => `docs/${f}`),
];

/** GitHub's anchor of a heading: lowercase, punctuation dropped, spaces to hyphens. */
const anchorOf = (heading: string) =>
  heading
    .trim()
    .toLowerCase()
    .replace(/[^\p{L}\p{N} _-]/gu, "")
    .replace(/ /g, "-");

function anchors(file: string): Set<string> {
  const out = new Set<string>();
  let fence = false;
  for (const line of readFileSync(join(REPO, file), "utf8").split("\n")) {
    if (/^(```|````)/.test(line)) fence = !fence;
    const m = !fence && /^#{1,6} (.*)$/.exec(line);
    if (m) out.add(anchorOf(m[1]!));
  }
  return out;
}

test("no tracked file points a reader outside the repository", () => {
  const offenders: string[] = [];
  for (const f of files()) {
    if (f === "test/unit/docs/references.test.ts") continue;
    readFileSync(join(REPO, f), "utf8")
      .split("\n")
      .forEach((line, i) => {
        if (
          /DESIGN\.md|\.\.\/shared\b|\b[Ii]ssue #?\d+\b(?! on github)/.test(line) &&
          !/argo-cd #|argo-workflows #/.test(line)
        )
          offenders.push(`${f}:${i + 1}: ${line.trim()}`);
      });
  }
  assert.deepEqual(offenders, []);
});

test("every link in the README and docs/ resolves, to a file and to a heading in it", () => {
  const broken: string[] = [];
  for (const doc of documents()) {
    const text = readFileSync(join(REPO, doc), "utf8").replace(/```[\s\S]*?```/g, "");
    for (const [, target] of text.matchAll(/\]\(([^)\s]+)\)/g)) {
      if (/^https?:/.test(target!)) continue;
      const [path, anchor] = target!.split("#") as [string, string | undefined];
      const file = path === "" ? doc : normalize(join(dirname(doc), path));
      if (!existsSync(join(REPO, file))) broken.push(`${doc}: ${target} (no file ${file})`);
      else if (anchor !== undefined && file.endsWith(".md") && !anchors(file).has(anchor))
        broken.push(`${doc}: ${target} (no heading #${anchor} in ${file})`);
    }
  }
  assert.deepEqual(broken, []);
});

test("every path a document or a comment names exists", () => {
  const missing: string[] = [];
  const PATH =
    /(?<![\w./-])((?:src|test|docs|schema|data|pipelines|scripts|bin|\.ci|\.github)\/[\w./-]*[\w/])(?![\w<*…])/g;
  for (const f of files()) {
    if (f.startsWith("test/fixtures/") || f.startsWith("test/golden/")) continue;
    const text = readFileSync(join(REPO, f), "utf8");
    for (const [, path] of text.matchAll(PATH)) {
      // Placeholders and examples are not paths of this repository.
      if (/<|\*|\.\.\.|x\.ts$|nightly-etl|tenant-export\.|classify|\/x\//.test(path!)) continue;
      // In code, pipelines/ and data/ paths are a test's or an example's own files; src/, test/ and docs/ ones are ours.
      if (f.endsWith(".md") || /^(src|test|docs|scripts|bin)\//.test(path!)) {
        if (!existsSync(join(REPO, path!.replace(/\/$/, "")))) missing.push(`${f}: ${path}`);
      }
    }
  }
  assert.deepEqual([...new Set(missing)], []);
});

test("the generated tables of docs/ are current (npm run docs)", () => {
  for (const { file, name, content } of generatedRegions()) {
    const text = readFileSync(join(REPO, file), "utf8");
    const next = withRegion(text, name, content);
    assert.ok(!(next instanceof Error), `${file} ${next instanceof Error ? next.message : ""}`);
    assert.equal(next, text, `${file}: the ${name} table is out of date; run npm run docs`);
  }
});

test("every pipeline field and every problem code is documented", async () => {
  const { fieldsRows } = await import("../../../src/commands/docs.ts");
  const undocumented = fieldsRows()
    .filter((r) => r.means.trim() === "")
    .map((r) => r.field);
  assert.deepEqual(undocumented, [], "give these fields a description in src/model/pipeline-schema.ts");
});

test("the README is one page, and the benchmarks page is short", () => {
  assert.ok(readFileSync(join(REPO, "README.md"), "utf8").split("\n").length <= 300, "README.md: at most 300 lines");
  assert.ok(
    readFileSync(join(REPO, "docs/benchmarks.md"), "utf8").split("\n").length <= 100,
    "docs/benchmarks.md: at most 100 lines (git history keeps the run-by-run story)",
  );
});
