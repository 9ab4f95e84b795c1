// `npm run e2e:setup`: builds the programs of the e2e tier from the Go modules pinned in
// test/e2e/build/*/go.mod (their go.sum committed beside them) and collects the CRDs the tier
// installs from the same pinned modules, into a cache folder outside the clone:
//
//   ${DAGOPS_E2E_CACHE:-~/.cache/dagops-e2e}/<hash of the pins and this recipe>/{bin,crds}
//
// A second run (and CI on the same machine) finds the folder and builds nothing. A changed pin
// makes a new hash, so a cache is never stale. Each component is built into a temporary folder
// and renamed into place, so an interrupted build leaves nothing that looks finished.
import { spawnSync } from "node:child_process";
import { cpSync, existsSync, mkdirSync, renameSync, rmSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import {
  BUILD_DIR,
  COMPONENTS,
  CRD_SOURCES,
  builtRoot,
  goModDownload,
  KWOK_STAGES,
  moduleVersion,
  type Component,
  type CrdSource,
} from "./pins.ts";
import { checkKubernetesReplaces } from "./kubernetes-replaces.ts";

const MIN_GO = [1, 24] as const;

function fail(message: string): never {
  process.stderr.write(`e2e:setup: ${message}\n`);
  process.exit(1);
}

function goVersion(): string {
  const r = spawnSync("go", ["env", "GOVERSION"], { encoding: "utf8" });
  if (r.error || r.status !== 0) {
    fail(
      "the e2e tier needs Go ≥ 1.24 and the Go module proxy; the fast tier (`npm test`) does not.\n" +
        `  'go env GOVERSION' ${r.error ? `could not run (${r.error.message})` : `exited ${r.status}: ${r.stderr.trim()}`}`,
    );
  }
  const version = r.stdout.trim();
  const m = /^go(\d+)\.(\d+)/.exec(version);
  if (!m || Number(m[1]) < MIN_GO[0] || (Number(m[1]) === MIN_GO[0] && Number(m[2]) < MIN_GO[1])) {
    fail(`the e2e tier needs Go ≥ 1.24 and the Go module proxy; this machine has ${version}`);
  }
  return version;
}

/** The environment every go command here runs with: this machine's Go, no toolchain download. */
function goEnv(): NodeJS.ProcessEnv {
  return { ...process.env, GOTOOLCHAIN: "local", GOFLAGS: "-mod=readonly", CGO_ENABLED: "0" };
}

function build(component: Component, binDir: string): number {
  const started = Date.now();
  const tmp = `${binDir}.tmp-${component.name}`;
  rmSync(tmp, { recursive: true, force: true });
  mkdirSync(tmp, { recursive: true });
  const moduleDir = join(BUILD_DIR, component.name);
  for (const program of component.programs) {
    const args = ["build", "-trimpath", "-ldflags", ["-s", "-w", ...program.ldflags].join(" ")];
    args.push("-o", join(tmp, program.binary), program.package);
    const r = spawnSync("go", args, { cwd: moduleDir, env: goEnv(), stdio: ["ignore", "inherit", "inherit"] });
    if (r.status !== 0) fail(`go ${args.join(" ")} (in ${moduleDir}) failed with exit code ${r.status}`);
    process.stdout.write(`  built ${program.binary}\n`);
  }
  mkdirSync(binDir, { recursive: true });
  for (const program of component.programs) renameSync(join(tmp, program.binary), join(binDir, program.binary));
  rmSync(tmp, { recursive: true, force: true });
  return Date.now() - started;
}

function moduleDir(path: string, version: string): string {
  const info = goModDownload(path, version);
  if (!info.Dir) fail(`go mod download ${path}@${version}: ${info.Error ?? "no folder"}`);
  return info.Dir;
}

function collect(what: string, sources: readonly CrdSource[], toDir: string): void {
  const tmp = `${toDir}.tmp`;
  rmSync(tmp, { recursive: true, force: true });
  mkdirSync(tmp, { recursive: true });
  for (const source of sources) {
    const version = source.version ?? moduleVersion(source.versionFrom ?? "", source.module);
    const dir = moduleDir(source.module, version);
    for (const file of source.files) {
      const from = join(dir, file);
      if (!existsSync(from)) fail(`${source.module}@${version} has no ${file}`);
      cpSync(from, join(tmp, `${source.prefix}-${file.split("/").pop()}`));
    }
    process.stdout.write(`  ${what} from ${source.module}@${version}: ${source.files.length}\n`);
  }
  rmSync(toDir, { recursive: true, force: true });
  renameSync(tmp, toDir);
}

function main(): void {
  const go = goVersion();
  checkKubernetesReplaces((message) => fail(message));
  const root = builtRoot();
  const binDir = join(root, "bin");
  process.stdout.write(`e2e:setup: ${go}, cache ${root}\n`);
  let total = 0;
  for (const component of COMPONENTS) {
    const done = component.programs.every((p) => existsSync(join(binDir, p.binary)));
    if (done) {
      process.stdout.write(`${component.name}: cached (${component.programs.map((p) => p.binary).join(", ")})\n`);
      continue;
    }
    process.stdout.write(`${component.name}: building ${component.programs.map((p) => p.binary).join(", ")}\n`);
    const ms = build(component, binDir);
    total += ms;
    process.stdout.write(`${component.name}: built in ${(ms / 1000).toFixed(1)} s\n`);
  }
  for (const [what, sources] of [
    ["crds", CRD_SOURCES],
    ["stages", [KWOK_STAGES]],
  ] as const) {
    const dir = join(root, what);
    if (!existsSync(dir)) collect(what, sources, dir);
    else process.stdout.write(`${what}: cached\n`);
  }
  writeFileSync(join(root, "ready"), `${go}\n`);
  process.stdout.write(`e2e:setup: ready in ${root} (${(total / 1000).toFixed(1)} s of builds this run)\n`);
}

main();
