#!/usr/bin/env node
// `npm run synth` and the other commands of this repository (package.json "scripts"): runs a
// command as JavaScript bundled from this repository's TypeScript and its libraries, so that a
// command starts without tsx and without resolving and loading some four hundred modules one by
// one (what that buys, measured: docs/architecture.md, "How the commands run").
//
// The build is keyed by a hash of its sources and of package-lock.json (proved by `stat` between
// commands, see sourcesHash), and kept in node_modules/.cache/dagops/<hash>/: a changed source
// (an edit, a checkout, a pull) makes a new build on the next command, about a second with
// esbuild (bundling only; `npm run typecheck` checks types), so a build is never stale. The commands share chunks (esbuild's code
// splitting), so a command loads only what it imports: a no-op synth never loads cdk8s. Builds
// are written to a temporary folder and renamed into place, so two commands starting at once
// never see half a build. Tests run the same sources through tsx; TypeScript pipelines are
// loaded through tsx either way (src/load/ts-load-worker.mjs).
import { createHash } from "node:crypto";
import {
  cpSync,
  existsSync,
  mkdirSync,
  readdirSync,
  readFileSync,
  renameSync,
  rmSync,
  statSync,
  writeFileSync,
} from "node:fs";
import { basename, join } from "node:path";
import { fileURLToPath, pathToFileURL } from "node:url";

const ROOT = fileURLToPath(new URL("../..", import.meta.url));
const COMMANDS = {
  synth: "src/commands/synth.ts",
  check: "src/commands/check.ts",
  plan: "src/commands/plan.ts",
  cost: "src/commands/cost.ts",
  diff: "src/commands/diff.ts",
  "pr-comment": "src/commands/pr-comment.ts",
  // The operator's command (src/cli/dagops.mjs): its entry stops a backfill on Ctrl-C (processMain).
  dagops: "src/ops/main.ts",
};
/** Worker thread entries and module hooks, plain JavaScript that the bundle starts by URL (new URL("./x.mjs", import.meta.url)). */
const WORKERS = ["src/load/ts-load-worker.mjs", "src/load/import-hooks.mjs", "src/write/writer-worker.mjs"];
// DAGOPS_BUILD_CACHE moves the builds elsewhere (the launcher's own tests do); it must be a
// folder from which this repository's node_modules/ resolves, that is, inside the repository.
const CACHE = process.env.DAGOPS_BUILD_CACHE || join(ROOT, "node_modules", ".cache", "dagops");
/** Builds kept besides the current one: a command started before a checkout may still be importing from its own. */
const KEEP = 3;

const [name, ...args] = process.argv.slice(2);
if (!Object.hasOwn(COMMANDS, name ?? "")) {
  process.stderr.write(
    `dagops: unknown command ${JSON.stringify(name ?? "")}; expected one of ${Object.keys(COMMANDS).join(", ")}\n`,
  );
  process.exit(2);
}

const out = join(CACHE, sourcesHash());
if (!existsSync(join(out, ".complete"))) await build();

// Past this point the command's own code runs, with its own arguments.
process.argv.splice(2, 1);
const command = await import(pathToFileURL(join(out, `${name}.mjs`)).href);
const { runMain } = await import(pathToFileURL(join(out, "kit.mjs")).href);
runMain(command.processMain ?? command.main);

/**
 * The hash of every file the build may read: the folders of the commands and of all they import,
 * the launcher, tsconfig.json (esbuild reads its compiler options: class fields, for one) and
 * package-lock.json. Proved by `stat`, as git's index proves a file unchanged: a memo beside the
 * builds lists every folder and source file with its size, times and inode, and its hash is used
 * only while each still has them (a file edited, added, removed or renamed changes its own or its
 * folder's), instead of reading and hashing the sources at every command.
 */
function sourcesHash() {
  const memoFile = join(CACHE, "sources.json");
  const node = process.versions.node.split(".")[0];
  const sig = (path) => {
    const st = statSync(join(ROOT, path), { throwIfNoEntry: false });
    return st ? `${st.isDirectory() ? "d" : "f"}:${st.size}:${st.mtimeMs}:${st.ctimeMs}:${st.ino}` : "-";
  };
  try {
    const memo = JSON.parse(readFileSync(memoFile, "utf8"));
    if (
      memo.root === ROOT &&
      memo.node === node &&
      Array.isArray(memo.entries) &&
      memo.entries.every(([path, was]) => sig(path) === was)
    )
      return memo.hash;
  } catch {
    // no memo yet, or an unreadable one: hash the sources
  }
  const started = Date.now();
  // dagops's own folders: package.json "dagops.code", the one list (src/model/files.ts reads it too).
  const dirs = JSON.parse(readFileSync(join(ROOT, "package.json"), "utf8")).dagops.code.filter((d) =>
    existsSync(join(ROOT, d)),
  );
  const folders = [...dirs];
  const sources = [];
  for (const dir of dirs) {
    for (const entry of readdirSync(join(ROOT, dir), { recursive: true }).sort()) {
      const path = `${dir}/${String(entry).split("\\").join("/")}`;
      if (path.split("/").some((p) => p.startsWith("."))) continue;
      const st = statSync(join(ROOT, path));
      if (st.isDirectory()) folders.push(path);
      else if (/\.(ts|mts|mjs)$/.test(path) && st.isFile()) sources.push(path);
    }
  }
  const hash = createHash("sha256");
  hash.update(`node ${node}\0`);
  const files = ["package.json", "tsconfig.json", "package-lock.json", ...sources];
  for (const file of files) {
    hash.update(`${file}\0`);
    hash.update(existsSync(join(ROOT, file)) ? readFileSync(join(ROOT, file)) : "(missing)");
    hash.update("\0");
  }
  const key = hash.digest("hex").slice(0, 20);
  // Remembered only when every time is older than the clock's reach around now: a file changed
  // again in the same tick as the memo saw it would keep its times (git guards its index alike).
  const entries = [...folders, ...files].map((path) => [path, sig(path)]);
  const settled = entries.every(
    ([, s]) =>
      s === "-" ||
      s
        .split(":")
        .slice(2, 4)
        .every((t) => Number(t) < started - 2000),
  );
  if (settled) {
    try {
      mkdirSync(CACHE, { recursive: true });
      writeFileSync(`${memoFile}.${process.pid}`, JSON.stringify({ root: ROOT, node, hash: key, entries }));
      renameSync(`${memoFile}.${process.pid}`, memoFile);
    } catch {
      // a read-only cache: hash again next time
    }
  }
  return key;
}

async function build() {
  const tmp = `${out}.tmp-${process.pid}`;
  rmSync(tmp, { recursive: true, force: true });
  mkdirSync(tmp, { recursive: true });
  // One entry per command, the CLI kit (runMain), the worker threads' units and the survey helper's; what they share
  // goes into chunks beside them, flat, so that import.meta.url of any chunk finds the workers'
  // entry files (copied below) next to it.
  const entryPoints = { kit: "src/cli/kit.ts" };
  for (const [command, file] of Object.entries(COMMANDS)) entryPoints[command] = file;
  try {
    const esbuild = await import("esbuild");
    await esbuild.build({
      absWorkingDir: ROOT,
      entryPoints,
      outdir: tmp,
      outExtension: { ".js": ".mjs" },
      chunkNames: "chunk-[hash]",
      bundle: true,
      splitting: true,
      format: "esm",
      platform: "node",
      target: `node${process.versions.node.split(".")[0]}`,
      // tsx stays a package of its own: the TypeScript loader's worker imports it at run time.
      external: ["tsx", "tsx/*"],
      // The CommonJS libraries in the bundle call require() for Node's own modules.
      banner: {
        js: 'import { createRequire as __dagopsCreateRequire } from "node:module"; const require = __dagopsCreateRequire(import.meta.url);',
      },
      legalComments: "none",
      // Whitespace and comments only (names stay, for stack traces), and ASCII only (the comments
      // held a few curly quotes, which made Node.js decode the chunk and V8 hold it as two-byte
      // text): the compiler's chunk loads faster (docs/architecture.md, "How the commands run").
      minifyWhitespace: true,
      logLevel: "silent",
    });
  } catch (err) {
    rmSync(tmp, { recursive: true, force: true });
    const messages = (err.errors ?? []).map(
      (e) => `${e.location ? `${e.location.file}:${e.location.line}:${e.location.column}: ` : ""}${e.text}`,
    );
    process.stderr.write(
      `dagops: building the commands with esbuild failed:\n${messages.length ? messages.join("\n") : err.message}\n`,
    );
    process.exit(2);
  }
  // The worker threads' entries (plain JavaScript, found by import.meta.url) go beside the bundle.
  for (const file of WORKERS) cpSync(join(ROOT, file), join(tmp, basename(file)));
  writeFileSync(join(tmp, ".complete"), "complete\n");
  try {
    renameSync(tmp, out);
  } catch {
    // Another command built the same sources first: use its build.
    rmSync(tmp, { recursive: true, force: true });
  }
  // Older builds, beyond the few most recent.
  const builds = readdirSync(CACHE)
    .filter((d) => /^[0-9a-f]{20}$/.test(d) && join(CACHE, d) !== out)
    .map((d) => ({ d, t: statSync(join(CACHE, d)).mtimeMs }))
    .sort((a, b) => b.t - a.t);
  for (const { d } of builds.slice(KEEP)) rmSync(join(CACHE, d), { recursive: true, force: true });
}
