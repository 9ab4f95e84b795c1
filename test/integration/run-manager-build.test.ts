/**
 * The run-manager image recipe, checked without Docker (there is no Docker engine here): the
 * program compiles to JavaScript that imports only Node.js built-ins and package.json
 * "dependencies" (what `npm ci --omit=dev` installs in the image), and runs without tsx.
 */
import assert from "node:assert/strict";
import { execFileSync, spawnSync } from "node:child_process";
import { readdir, readFile, rm } from "node:fs/promises";
import { builtinModules } from "node:module";
import { join } from "node:path";
import { after, describe, test } from "node:test";
import { REPO } from "../support/helpers.ts";

const OUT = join(REPO, `.build-test-${process.pid}`);
const pkg = JSON.parse(await readFile(join(REPO, "package.json"), "utf8"));

async function jsFiles(dir: string): Promise<string[]> {
  const entries = await readdir(dir, { withFileTypes: true, recursive: true });
  return entries.filter((e) => e.isFile() && e.name.endsWith(".js")).map((e) => join(e.parentPath, e.name));
}

describe("run-manager image", () => {
  after(() => rm(OUT, { recursive: true, force: true }));

  test("compiles; imports only built-ins and production dependencies; runs on plain node", async () => {
    execFileSync(
      process.execPath,
      [join(REPO, "node_modules/typescript/bin/tsc"), "-p", join(REPO, "tsconfig.run-manager.json"), "--outDir", OUT],
      { cwd: REPO, stdio: "pipe" },
    );
    const packages = new Set<string>();
    for (const file of await jsFiles(OUT)) {
      for (const [, spec] of (await readFile(file, "utf8")).matchAll(/(?:from|import)\s*\(?\s*"([^"]+)"/g)) {
        if (spec!.startsWith(".")) continue;
        const name = spec!.startsWith("@") ? spec!.split("/").slice(0, 2).join("/") : spec!.split("/")[0]!;
        if (!name.startsWith("node:") && !builtinModules.includes(name)) packages.add(name);
      }
    }
    assert.deepEqual(
      [...packages].sort(),
      Object.keys(pkg.dependencies).sort(),
      "dependencies are exactly what the image needs",
    );
    // On the build machines and in CI this is Node.js 20: the compiled program runs there too, not only in the image.
    const run = spawnSync(process.execPath, [join(OUT, "runner/main.js")], { cwd: REPO, encoding: "utf8" });
    assert.equal(run.status, 1);
    assert.match(run.stderr, /usage: run-manager run --plan <file>/);
  });

  test("Dockerfile: multi-stage, pinned bases, production dependencies only, non-root", async () => {
    const text = await readFile(join(REPO, "Dockerfile"), "utf8");
    const args = Object.fromEntries([...text.matchAll(/^ARG (\w+)=(\S+)$/gm)].map((m) => [m[1], m[2]]));
    const froms = [...text.matchAll(/^FROM (\S+)/gm)].map((m) =>
      m[1]!.replace(/\$\{(\w+)\}/, (_, k: string) => args[k] ?? ""),
    );
    assert.ok(froms.length >= 2, "multi-stage");
    for (const image of froms) assert.doesNotMatch(image, /:latest$|^[^:]+$/, `${image} is pinned`);
    // The image runs a supported LTS line (end of life: 20 on 2026-04-30, 22 on 2027-04-30, 24 on 2028-04-30).
    const build = /^node:(\d+)\.\d+\.\d+-/.exec(args.NODE_IMAGE!);
    const runtime = /^gcr\.io\/distroless\/nodejs(\d+)-debian\d+:nonroot$/.exec(args.RUNTIME_IMAGE!);
    assert.ok(build && runtime, "an exact Node.js release to build, a distroless Node.js image to run");
    assert.equal(build[1], runtime[1], "built and run on the same Node.js line");
    assert.ok(["22", "24"].includes(runtime[1]!), `Node.js ${runtime[1]} is not a supported LTS line`);
    assert.match(text, /npm ci --omit=dev/);
    const final = text.slice(text.lastIndexOf("\nFROM "));
    assert.match(final, /^USER 65532:65532$/m);
    assert.doesNotMatch(final, /npm|tsx|typescript/i, "the final stage copies artifacts only");
    assert.match(
      final,
      /ENTRYPOINT \["\/nodejs\/bin\/node", "--max-old-space-size=128", "--max-semi-space-size=4", "runner\/main.js"\]/,
    );
  });
});
