/**
 * The house rules of src/, read from the import statements themselves: imports flow down the
 * stages (docs/architecture.md draws the same order), a name is imported from the module that owns
 * it (no re-export relays), and the run-manager image needs only the four folders its Dockerfile
 * copies.
 */
import assert from "node:assert/strict";
import { readdirSync, readFileSync } from "node:fs";
import { dirname, join, normalize, relative } from "node:path";
import { test } from "node:test";
import { REPO } from "../../support/helpers.ts";

const SRC = join(REPO, "src");

/**
 * Each folder's place: a folder imports only from folders of a lower rank (and from itself).
 * Folders of one rank do not import each other.
 */
const RANK: Readonly<Record<string, number>> = {
  contract: 0,
  cli: 0,
  kube: 1,
  model: 1,
  write: 2,
  load: 2,
  charts: 2,
  runner: 2,
  render: 3,
  cost: 3,
  checks: 4,
  review: 4,
  incremental: 5,
  synth: 6,
  commands: 7,
  ops: 8,
  bench: 9,
};

/** What the run-manager image is compiled from (Dockerfile, tsconfig.run-manager.json). */
const IMAGE_FOLDERS = ["cli", "contract", "kube", "runner"];

const SPECIFIER = /(?:^|[^\w.])(?:from|import)\s*\(?\s*"([^"]+)"/g;

function sources(): string[] {
  return readdirSync(SRC, { recursive: true, encoding: "utf8" })
    .filter((f) => /\.(ts|mjs)$/.test(f))
    .map((f) => f.split("\\").join("/"))
    .sort();
}

/** The repository-relative files a source imports (relative specifiers only). */
function importsOf(file: string): string[] {
  const text = readFileSync(join(SRC, file), "utf8");
  const out: string[] = [];
  for (const [, spec] of text.matchAll(SPECIFIER)) {
    if (!spec!.startsWith(".")) continue;
    out.push(
      relative(SRC, normalize(join(SRC, dirname(file), spec!)))
        .split("\\")
        .join("/"),
    );
  }
  return out;
}

const folderOf = (file: string) => file.split("/")[0]!;

test("every folder of src/ has a rank, and imports flow down the ranks", () => {
  const files = sources();
  const folders = new Set(files.map(folderOf));
  assert.deepEqual(
    [...folders].filter((f) => !(f in RANK)),
    [],
    "a new folder gets its place in RANK (and in docs/architecture.md)",
  );
  const upward: string[] = [];
  for (const file of files) {
    for (const target of importsOf(file)) {
      if (target.startsWith("..")) {
        // Outside src/: only package.json (the code list) and, for the benchmarks, the tests' fakes.
        if (!(target === "../package.json" || (folderOf(file) === "bench" && target.startsWith("../test/support/"))))
          upward.push(`${file} → ${target}`);
        continue;
      }
      const [from, to] = [folderOf(file), folderOf(target)];
      if (from !== to && !(RANK[from]! > RANK[to]!)) upward.push(`${file} → ${target}`);
    }
  }
  assert.deepEqual(upward, []);
});

test("no re-export relays: a name is imported from the module that owns it", () => {
  const relays = sources().filter((f) =>
    /^export\s+(\*|(type\s+)?\{[^}]*\})(\s+from\s|\s*;)/m.test(readFileSync(join(SRC, f), "utf8")),
  );
  assert.deepEqual(relays, []);
});

test("the run manager imports only from the folders its image is built from, and the Dockerfile copies exactly those", () => {
  const seen = new Set<string>();
  const stack = ["runner/main.ts"];
  while (stack.length) {
    const file = stack.pop()!;
    if (seen.has(file)) continue;
    seen.add(file);
    stack.push(...importsOf(file));
  }
  const outside = [...seen].filter((f) => !IMAGE_FOLDERS.includes(folderOf(f)));
  assert.deepEqual(outside, [], "the run manager's import graph leaves its four folders");
  const copied = [...readFileSync(join(REPO, "Dockerfile"), "utf8").matchAll(/^COPY (src\/\S+) /gm)]
    .map((m) => m[1]!.slice("src/".length))
    .sort();
  assert.deepEqual(copied, IMAGE_FOLDERS);
  // The folders are all needed: each holds a file the run manager imports.
  assert.deepEqual([...new Set([...seen].map(folderOf))].sort(), IMAGE_FOLDERS);
});

test("tool code lives under src/ only: the top level holds the team's files", () => {
  const top = readdirSync(REPO, { withFileTypes: true })
    .filter((e) => e.isFile() && /\.(ts|mts|mjs|js)$/.test(e.name))
    .map((e) => e.name);
  assert.deepEqual(top, ["platform.config.ts"]);
});
