#!/usr/bin/env node
// `npm run synth` and the other commands of this repository (package.json "scripts"): runs a
// command as JavaScript compiled from this repository's TypeScript, so that a command starts in
// a tenth of a second instead of spending half a second starting tsx and routing every import
// through its loader (`npm run bench` measures both).
//
// The build is keyed by a hash of its sources and kept in node_modules/.cache/dagops/<hash>/: a
// changed source (an edit, a checkout, a pull) makes a new build on the next command, about
// two seconds with the TypeScript compiler (transpiling only; `npm run typecheck` checks types),
// so a build is never stale. Builds are written to a temporary folder and renamed into place,
// so two commands starting at once never see half a build. Tests run the same sources through
// tsx; TypeScript pipelines are loaded through tsx either way (scripts/lib/ts-load-worker.mjs).
import { spawnSync } from "node:child_process";
import { createHash } from "node:crypto";
import { cpSync, existsSync, mkdirSync, readdirSync, readFileSync, renameSync, rmSync, statSync, writeFileSync } from "node:fs";
import { dirname, join } from "node:path";
import { fileURLToPath, pathToFileURL } from "node:url";

const ROOT = fileURLToPath(new URL("..", import.meta.url));
const COMMANDS = {
  synth: "scripts/synth.ts",
  check: "scripts/check.ts",
  plan: "scripts/plan.ts",
  cost: "scripts/cost.ts",
  diff: "scripts/diff.ts",
  "pr-comment": "scripts/pr-comment.ts",
};
const CONFIG = "tsconfig.cli.json";
// DAGOPS_BUILD_CACHE moves the builds elsewhere (the launcher's own tests do); it must be a
// folder from which this repository's node_modules/ resolves, that is, inside the repository.
const CACHE = process.env.DAGOPS_BUILD_CACHE || join(ROOT, "node_modules", ".cache", "dagops");
/** Builds kept besides the current one: a command started before a checkout may still be importing from its own. */
const KEEP = 3;

const [name, ...args] = process.argv.slice(2);
if (!Object.hasOwn(COMMANDS, name ?? "")) {
  process.stderr.write(`dagops: unknown command ${JSON.stringify(name ?? "")}; expected one of ${Object.keys(COMMANDS).join(", ")}\n`);
  process.exit(2);
}

// Every file the build may read: the folders of the commands and of all they import.
const dirs = ["cli", "model", "charts", "render", "runner", "ops", "cost", "checks", "review", "scripts"];
const sources = [];
for (const dir of dirs) {
  for (const entry of readdirSync(join(ROOT, dir), { recursive: true }).sort()) {
    const path = `${dir}/${String(entry).split("\\").join("/")}`;
    if (/\.(ts|mts|mjs)$/.test(path) && !path.split("/").some((p) => p.startsWith(".")) && statSync(join(ROOT, path)).isFile()) sources.push(path);
  }
}
const hash = createHash("sha256");
hash.update(`node ${process.versions.node.split(".")[0]}\0`);
for (const file of ["tsconfig.json", CONFIG, "package-lock.json", ...sources]) {
  hash.update(`${file}\0`);
  hash.update(existsSync(join(ROOT, file)) ? readFileSync(join(ROOT, file)) : "(missing)");
  hash.update("\0");
}
const out = join(CACHE, hash.digest("hex").slice(0, 20));

if (!existsSync(join(out, ".complete"))) build();

// Past this point the command's own code runs, with its own arguments.
process.argv.splice(2, 1);
const js = (ts) => pathToFileURL(join(out, ts.replace(/\.ts$/, ".js"))).href;
const command = await import(js(COMMANDS[name]));
const { runMain } = await import(js("cli/kit.ts"));
runMain(command.main);

function build() {
  const tmp = `${out}.tmp-${process.pid}`;
  rmSync(tmp, { recursive: true, force: true });
  mkdirSync(tmp, { recursive: true });
  const tsc = join(ROOT, "node_modules", "typescript", "bin", "tsc");
  const r = spawnSync(process.execPath, [tsc, "-p", join(ROOT, CONFIG), "--outDir", tmp, "--noCheck"], { cwd: ROOT, encoding: "utf8" });
  if (r.status !== 0 || !existsSync(join(tmp, COMMANDS[name].replace(/\.ts$/, ".js")))) {
    rmSync(tmp, { recursive: true, force: true });
    process.stderr.write(`dagops: building the commands failed (${[process.execPath, tsc, "-p", CONFIG, "--noCheck"].join(" ")}):\n${r.stdout}${r.stderr}`);
    process.exit(2);
  }
  // The plain JavaScript next to the TypeScript (worker thread entries) goes along unchanged.
  for (const file of sources.filter((f) => f.endsWith(".mjs"))) {
    mkdirSync(dirname(join(tmp, file)), { recursive: true });
    cpSync(join(ROOT, file), join(tmp, file));
  }
  writeFileSync(join(tmp, ".complete"), `${sources.length} sources\n`);
  try {
    renameSync(tmp, out);
  } catch {
    // Another command built the same sources first: use its build.
    rmSync(tmp, { recursive: true, force: true });
  }
  // Older builds, beyond the few most recent.
  const builds = readdirSync(CACHE)
    .filter((d) => !d.includes(".tmp-") && join(CACHE, d) !== out)
    .map((d) => ({ d, t: statSync(join(CACHE, d)).mtimeMs }))
    .sort((a, b) => b.t - a.t);
  for (const { d } of builds.slice(KEEP)) rmSync(join(CACHE, d), { recursive: true, force: true });
}
