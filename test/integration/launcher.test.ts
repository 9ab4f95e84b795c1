/**
 * src/cli/run.mjs, which `npm run synth` and the other commands go through: the commands run as
 * JavaScript built from the sources, keyed by their hash, so a build is reused while the sources
 * stay the same and never used once they change; and the built synth writes exactly the tree
 * the sources write under tsx (the committed one).
 */
import assert from "node:assert/strict";
import { spawnSync } from "node:child_process";
import { readdirSync, readFileSync, rmSync, statSync, utimesSync, writeFileSync } from "node:fs";
import { appendFile, cp, mkdtemp, readdir, rm, symlink } from "node:fs/promises";
import { tmpdir } from "node:os";
import { dirname, join, resolve } from "node:path";
import { test } from "node:test";
import { fileURLToPath, pathToFileURL } from "node:url";
import { snapshot, tempRepo, yamlPipeline } from "../support/helpers.ts";

const REPO = resolve(dirname(fileURLToPath(import.meta.url)), "../..");
const SOURCES = ["src", "tsconfig.json", "package.json", "package-lock.json"];

/** The builds in a build cache (folders named by the sources' hash; the cache also holds the launcher's memo of the sources' stats). */
async function buildsIn(cache: string): Promise<string[]> {
  return (await readdir(cache)).filter((d) => /^[0-9a-f]{20}$/.test(d)).sort();
}

function launch(repo: string, cwd: string, cache: string | undefined, ...args: string[]) {
  return launchWith({}, repo, cwd, cache, ...args);
}

function launchWith(
  extra: Record<string, string>,
  repo: string,
  cwd: string,
  cache: string | undefined,
  ...args: string[]
) {
  const env = { ...process.env, ...extra };
  if (cache) env.DAGOPS_BUILD_CACHE = cache;
  else delete env.DAGOPS_BUILD_CACHE;
  return spawnSync(process.execPath, [join(repo, "src", "cli", "run.mjs"), ...args], { cwd, encoding: "utf8", env });
}

test("an unknown command is refused with the list of commands", () => {
  const r = spawnSync(process.execPath, [join(REPO, "src", "cli", "run.mjs"), "nope"], { encoding: "utf8" });
  assert.equal(r.status, 2);
  assert.match(r.stderr, /unknown command "nope"; expected one of synth, check, plan, cost, diff, pr-comment/);
});

test("a build is reused while the sources are the same, and replaced when one changes", {
  timeout: 120_000,
}, async () => {
  const copy = await mkdtemp(join(tmpdir(), "dagops-launcher-"));
  try {
    for (const s of SOURCES) await cp(join(REPO, s), join(copy, s), { recursive: true });
    await symlink(join(REPO, "node_modules"), join(copy, "node_modules"), "dir");
    const cache = join(copy, "build-cache");
    const first = launch(copy, copy, cache, "synth", "--help");
    assert.equal(first.status, 0, first.stderr);
    assert.match(first.stdout, /^Usage: npm run synth/);
    const builds = await buildsIn(cache);
    assert.equal(builds.length, 1);
    assert.equal(launch(copy, copy, cache, "check", "--help").status, 0);
    assert.deepEqual(await buildsIn(cache), builds, "same sources: the same build");
    await appendFile(join(copy, "src", "contract", "text.ts"), "\n// a change\n");
    assert.equal(launch(copy, copy, cache, "synth", "--help").status, 0);
    const after = await buildsIn(cache);
    assert.equal(after.length, 2, after.join(", "));
    assert.ok(after.includes(builds[0]!));
  } finally {
    await rm(copy, { recursive: true, force: true });
  }
});

test("the sources proved unchanged by stat: an edit in place with its time set back, or a new file, still makes a new build", {
  timeout: 120_000,
}, async () => {
  const copy = await mkdtemp(join(tmpdir(), "dagops-launcher-"));
  const settle = () => new Promise((r) => setTimeout(r, 2200));
  try {
    for (const s of SOURCES) await cp(join(REPO, s), join(copy, s), { recursive: true });
    await symlink(join(REPO, "node_modules"), join(copy, "node_modules"), "dir");
    const cache = join(copy, "build-cache");
    // Times in whole seconds, which utimes sets back exactly.
    const file = join(copy, "src", "contract", "text.ts");
    const then = Math.floor(Date.now() / 1000) - 100;
    utimesSync(file, then, then);
    // Only times older than two seconds are remembered (a file changed again in the same clock tick keeps its times).
    await settle();
    assert.equal(launch(copy, copy, cache, "synth", "--help").status, 0);
    const memo = JSON.parse(readFileSync(join(cache, "sources.json"), "utf8")) as { entries: [string, string][] };
    assert.ok(
      memo.entries.some(([p]) => p === "src/contract/text.ts") && memo.entries.some(([p]) => p === "src/contract"),
      "the memo lists the sources and their folders",
    );
    const first = await buildsIn(cache);
    assert.equal(launch(copy, copy, cache, "check", "--help").status, 0);
    assert.deepEqual(await buildsIn(cache), first, "proved by stat: the same build");
    // Edited in place, the modification time set back: the change time still moved.
    const size = statSync(file).size;
    // The same size (a letter in the first comment), so that only the change time tells.
    writeFileSync(file, readFileSync(file, "utf8").replace("Text that", "Text thaT"));
    utimesSync(file, then, then);
    assert.equal(statSync(file).mtimeMs, then * 1000);
    assert.equal(statSync(file).size, size);
    assert.equal(launch(copy, copy, cache, "synth", "--help").status, 0);
    const second = await buildsIn(cache);
    assert.equal(second.length, 2, second.join(", "));
    // A new source file: its folder changed (once a memo of the edited sources is written).
    await settle();
    assert.equal(launch(copy, copy, cache, "synth", "--help").status, 0);
    assert.deepEqual(await buildsIn(cache), second);
    writeFileSync(join(copy, "src", "model", "zz-new.ts"), "export const x = 1;\n");
    assert.equal(launch(copy, copy, cache, "synth", "--help").status, 0);
    assert.equal((await buildsIn(cache)).length, 3);
  } finally {
    await rm(copy, { recursive: true, force: true });
  }
});

test("the built synth and check agree with the sources: the committed tree is up to date", {
  timeout: 120_000,
}, async () => {
  const repo = await tempRepo({ generated: true });
  try {
    // The repository's own build cache (node_modules/.cache/dagops), as npm run uses it.
    const synth = launch(REPO, repo.root, undefined, "synth", "--full");
    assert.equal(synth.status, 0, synth.stderr);
    assert.match(synth.stdout, /generated\/ is up to date \(\d+ pipelines/);
    const check = launch(REPO, repo.root, undefined, "check");
    assert.equal(check.status, 0, check.stderr);
  } finally {
    await repo.cleanup();
  }
});

test("the built synth traces a TypeScript pipeline's imports beside the bundle: a changed helper is rendered again, and equals a full synth", {
  timeout: 120_000,
}, async () => {
  const repo = await tempRepo({ generated: true });
  const reference = await tempRepo({ generated: true });
  try {
    for (const r of [repo, reference]) await r.write("lib/images.ts", 'export const classifierTag = "2.9.0";\n');
    const synth = launch(REPO, repo.root, undefined, "synth");
    assert.equal(synth.status, 0, synth.stderr);
    assert.match(synth.stdout, /~ prod\/pipelines\/customer-classification\/configmap-plan\.yaml\n/);
    const stamp = JSON.parse(await repo.read("generated/prod/pipelines/customer-classification/dagops.stamp")) as {
      inputs: Record<string, string>;
    };
    assert.deepEqual(Object.keys(stamp.inputs), [
      "lib/images.ts",
      "pipelines/_limits.ts",
      "pipelines/customer-classification.ts",
    ]);
    assert.equal(launch(REPO, reference.root, undefined, "synth", "--full").status, 0);
    assert.deepEqual(await snapshot(join(repo.root, "generated")), await snapshot(join(reference.root, "generated")));
    assert.equal(launch(REPO, repo.root, undefined, "check").status, 0);
  } finally {
    await repo.cleanup();
    await reference.cleanup();
  }
});

test("the operator's command runs built like the others: --help and a usage error answer without tsx", {
  timeout: 120_000,
}, () => {
  const help = spawnSync(process.execPath, [join(REPO, "src", "cli", "dagops.mjs"), "--help"], {
    cwd: REPO,
    encoding: "utf8",
  });
  assert.equal(help.status, 0, help.stderr);
  assert.match(help.stdout, /^Usage: dagops <command>/);
  const bad = spawnSync(process.execPath, [join(REPO, "src", "cli", "dagops.mjs"), "statsu"], {
    cwd: REPO,
    encoding: "utf8",
  });
  assert.equal(bad.status, 2);
  assert.match(bad.stderr, /did you mean status\?/);
  // No TypeScript loader in the process: the command is the bundle's.
  const traced = spawnSync(
    process.execPath,
    [
      "--import",
      pathToFileURL(join(REPO, "test/fixtures/trace-imports.mjs")).href,
      join(REPO, "src", "cli", "dagops.mjs"),
      "--help",
    ],
    {
      cwd: REPO,
      encoding: "utf8",
      env: { ...process.env, DAGOPS_TRACE_IMPORTS: join(REPO, "node_modules", ".cache", `trace-${process.pid}.txt`) },
    },
  );
  assert.equal(traced.status, 0, traced.stderr);
  const imports = readFileSync(join(REPO, "node_modules", ".cache", `trace-${process.pid}.txt`), "utf8");
  assert.doesNotMatch(imports, /tsx|ops\/main\.ts/);
  rmSync(join(REPO, "node_modules", ".cache", `trace-${process.pid}.txt`), { force: true });
});

test("the operator's command reads platform.config.ts for --cluster (TypeScript, loaded as synth loads it)", {
  timeout: 120_000,
}, () => {
  // Found by the e2e tier: a bare import() of platform.config.ts fails in the built command
  // ("Unknown file extension .ts"), so every `--cluster` failed outside the tests.
  const dagops = (cluster: string) =>
    spawnSync(process.execPath, [join(REPO, "src", "cli", "dagops.mjs"), "runs", "--cluster", cluster], {
      cwd: REPO,
      encoding: "utf8",
      env: { PATH: process.env.PATH, HOME: REPO, KUBECONFIG: join(REPO, "test", "fixtures", "no-such-kubeconfig") },
    });
  const missing = dagops("nope");
  assert.equal(missing.status, 2, missing.stderr);
  assert.match(missing.stderr, /platform\.config\.ts has no cluster "nope"; it has: staging, prod/);
  // A known cluster resolves to its context; then the (missing) kubeconfig is what stops it.
  const known = dagops("staging");
  assert.doesNotMatch(known.stderr, /Unknown file extension|cannot read platform/);
  assert.match(known.stderr, /KUBECONFIG names .*no-such-kubeconfig, which does not exist/);
});

test("the operator's command starts no process of its own: backfill --dry-run prices runs with the cost command in-process", () => {
  const files = readdirSync(join(REPO, "src", "ops"), { recursive: true, encoding: "utf8" }).filter((f) =>
    f.endsWith(".ts"),
  );
  assert.ok(files.includes(join("commands", "backfill.ts")), "the verbs' own files are read too");
  for (const file of files)
    assert.doesNotMatch(readFileSync(join(REPO, "src", "ops", file), "utf8"), /node:child_process/, `src/ops/${file}`);
});
