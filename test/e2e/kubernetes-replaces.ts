// k8s.io/kubernetes is not meant to be a dependency: its go.mod requires every staging module
// (k8s.io/api, k8s.io/client-go, ...) at v0.0.0 and replaces each with a folder of its own
// repository. A module that builds its programs needs one `replace k8s.io/X => k8s.io/X
// v0.<minor>.<patch>` per staging module instead. This file makes that block from k/k's own go.mod
// at the pinned version, so the list is never written by hand:
//
//   node --import tsx test/e2e/kubernetes-replaces.ts --write   rewrites build/kubernetes/go.mod
//
// and `npm run e2e:setup` checks that the committed block is still what k/k's go.mod implies.
import { readFileSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import { BUILD_DIR, goModDownload, moduleVersion } from "./pins.ts";

const GO_MOD = join(BUILD_DIR, "kubernetes", "go.mod");

/** The replace block for k/k at `version` (v1.M.P → every staging module at v0.M.P). */
export function replaceBlock(version: string): string {
  const info = goModDownload("k8s.io/kubernetes", version);
  if (!info.GoMod) throw new Error(`go mod download k8s.io/kubernetes@${version}: ${info.Error ?? "no go.mod"}`);
  const staging = version.replace(/^v1\./, "v0.");
  const lines = [...readFileSync(info.GoMod, "utf8").matchAll(/^\s*(\S+) => \.\/staging\/src\/\S+\s*$/gm)].map(
    (m) => `\t${m[1]} => ${m[1]} ${staging}`,
  );
  if (lines.length === 0) throw new Error(`k8s.io/kubernetes@${version}'s go.mod replaces no staging module`);
  return `replace (\n${lines.join("\n")}\n)`;
}

const BLOCK = /^replace \([^)]*\)/m;

export function checkKubernetesReplaces(fail: (message: string) => never): void {
  const goMod = readFileSync(GO_MOD, "utf8");
  const version = moduleVersion("kubernetes", "k8s.io/kubernetes");
  const want = replaceBlock(version);
  if (BLOCK.exec(goMod)?.[0] !== want) {
    fail(
      `test/e2e/build/kubernetes/go.mod: its replace block is not the one k8s.io/kubernetes@${version}'s go.mod implies.\n` +
        "  Run: node --import tsx test/e2e/kubernetes-replaces.ts --write, then (in test/e2e/build/kubernetes) go mod tidy",
    );
  }
}

if (process.argv.includes("--write")) {
  const goMod = readFileSync(GO_MOD, "utf8");
  const block = replaceBlock(moduleVersion("kubernetes", "k8s.io/kubernetes"));
  writeFileSync(GO_MOD, BLOCK.test(goMod) ? goMod.replace(BLOCK, block) : `${goMod.trimEnd()}\n\n${block}\n`);
  process.stdout.write(`${GO_MOD}: replace block written\n`);
}
