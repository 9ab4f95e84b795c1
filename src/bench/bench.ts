/**
 * `npm run bench`: synthetic pipelines in a temp dir (default 2,000 × 15 steps), each phase in
 * its own process so that peak RSS is that phase's own:
 *
 *   full synth · no-op re-synth · re-synth after one pipeline changes · check · floor
 *
 * The floor is the time to `yaml.stringify` the same objects, measured in the same run on the
 * same machine: what any tool that writes this YAML must spend at least.
 */
import { CODE_DIRS } from "../model/files.ts";
import { spawnSync } from "node:child_process";
import { existsSync, readdirSync, readFileSync, rmSync, statSync } from "node:fs";
import { cp, mkdir, mkdtemp, readdir, readFile, rm, stat, symlink, writeFile } from "node:fs/promises";
import { tmpdir } from "node:os";
import { dirname, join, resolve } from "node:path";
import { fileURLToPath, pathToFileURL } from "node:url";
import { stringify } from "yaml";
import { EXIT, parseCommand, runIfMain, type Io } from "../cli/kit.ts";
import { availableParallelism } from "node:os";
import { getOrSet } from "../contract/order.ts";

const REPO = resolve(dirname(fileURLToPath(import.meta.url)), "../..");

/**
 * The Node.js flags `npm run synth` gives the commands (package.json "scripts"): every process
 * the bench measures, the floor's too, runs with them, as the commands run for a user.
 */
const NODE_FLAGS = ((): string[] => {
  const script =
    (JSON.parse(readFileSync(join(REPO, "package.json"), "utf8")) as { scripts: Record<string, string> }).scripts
      .synth ?? "";
  const words = script.split(/\s+/);
  return words.slice(words.indexOf("node") + 1, words.indexOf("src/cli/run.mjs")).filter((w) => w.startsWith("--"));
})();

const HELP = `Usage: npm run bench [-- --pipelines <n>] [--steps <n>] [--tenants <n>] [--keep]

Generates <n> synthetic YAML pipelines (default 2000) of <steps> steps (default 15) in a temp
dir, then times a full synth (--full, nothing cached), a no-op re-synth, a re-synth after one
pipeline changes, npm run diff of that change (in a git repository of the tree), a check in a
fresh clone (git clone of the committed tree), a check --full, and the floor (yaml.stringify of the same
objects). Each command runs as npm runs it, in a process of its own: the wall time includes
starting Node.js. The short phases (no-op, one change, diff, fresh-clone check) run 5 times and
report the median. Prints wall time, CPU time (all threads) and peak RSS of each phase, the
output size, the full synth's lower bound on this machine's cores (its CPU time / cores), what a
second core adds to the floor's own work (the same yaml.stringify passes in one thread, then in
two at once), then each target (docs/benchmarks.md) with its measured value.

Options:
  --pipelines <n>   number of pipelines (default 2000)
  --steps <n>       steps per pipeline (default 15)
  --tenants <n>     instead of <n> pipelines: one template with <n> tenants (tenants file)
  --keep            keep the temp dir and print its path
  -h, --help        show this help

Exit codes:
  0  measured
  2  usage error, or a phase failed
`;

interface PhaseResult {
  readonly ms: number;
  /** CPU time of the process, all threads (user + system); the floor reports none. */
  readonly cpuMs?: number;
  /** CPU time of its main thread alone (Linux). */
  readonly mainCpuMs?: number;
  readonly maxRssMiB: number;
  readonly exitCode: number;
  readonly note?: string;
  /** The floor's: see twoCores. */
  readonly both?: TwoCores;
}

/** Milliseconds for the same stringify passes in one thread alone, and in each of two threads at once. */
interface TwoCores {
  readonly alone: number;
  readonly together: number;
}

export async function main(argv: string[], io: Io): Promise<number> {
  const parsed = parseCommand(
    "bench",
    argv,
    io,
    {
      pipelines: { type: "string" },
      steps: { type: "string" },
      tenants: { type: "string" },
      keep: { type: "boolean" },
      phase: { type: "string" },
      root: { type: "string" },
    } as const,
    HELP,
  );
  if (parsed.kind === "exit") return parsed.exit;
  const { values } = parsed;
  if (values.phase) return runPhase(values.phase, values.root!, io);

  const tenants = values.tenants === undefined ? undefined : Number(values.tenants);
  if (tenants !== undefined && !(Number.isInteger(tenants) && tenants >= 1)) {
    io.stderr("dagops bench: --tenants must be a positive integer\n");
    return EXIT.usage;
  }
  const pipelines = tenants ?? Number(values.pipelines ?? 2000);
  const steps = Number(values.steps ?? 15);
  if (!Number.isInteger(pipelines) || pipelines < 1 || !Number.isInteger(steps) || steps < 1 || steps > 200) {
    io.stderr(`dagops bench: --pipelines must be a positive integer and --steps 1..200\n`);
    return EXIT.usage;
  }
  const root = await mkdtemp(join(tmpdir(), "dagops-bench-"));
  try {
    for (const d of [...CODE_DIRS, "node_modules"]) await symlink(join(REPO, d), join(root, d), "dir");
    await cp(join(REPO, "platform.config.ts"), join(root, "platform.config.ts"));
    await cp(join(REPO, "package.json"), join(root, "package.json"));
    await mkdir(join(root, "pipelines"));
    if (tenants !== undefined) {
      await writeFile(join(root, "pipelines", "bench.yaml"), syntheticTemplate(steps));
      await writeFile(join(root, "pipelines", "bench.tenants.yaml"), syntheticTenants(tenants));
    } else
      for (let i = 0; i < pipelines; i++)
        await writeFile(
          join(root, "pipelines", `bench-${String(i).padStart(5, "0")}.yaml`),
          syntheticPipeline(i, steps),
        );
    io.stdout(
      `dagops bench: ${tenants !== undefined ? `1 template × ${tenants} tenants` : `${pipelines} pipelines`} × ${steps} steps, 2 clusters, node ${process.version}${NODE_FLAGS.length ? ` ${NODE_FLAGS.join(" ")}` : ""}, in ${root}\n\n`,
    );

    // The commands run compiled (src/cli/run.mjs): build them now, so that no phase pays for it.
    const warm = spawnSync(process.execPath, [join(REPO, "src/cli/run.mjs"), "synth", "--help"], {
      cwd: root,
      encoding: "utf8",
    });
    if (warm.status !== 0) throw new Error(`src/cli/run.mjs synth --help: ${warm.stderr}`);
    const rows: [string, PhaseResult][] = [];
    // A short phase is run `repeat` times (`before` runs before each) and its median kept: a
    // second-long command on a shared machine varies by a quarter from run to run.
    const phase = (name: string, what: string, repeat = 1, before?: (i: number) => Promise<void>) => {
      const runs: PhaseResult[] = [];
      return (async () => {
        for (let i = 0; i < repeat; i++) {
          await before?.(i);
          const r = spawnPhase(what, root);
          if (r.exitCode !== 0) throw new Error(`phase ${name} exited ${r.exitCode}${r.note ? `: ${r.note}` : ""}`);
          runs.push(r);
        }
        const r = repeat === 1 ? runs[0]! : medianOf(runs);
        rows.push([name, r]);
        return r;
      })();
    };
    await phase("full synth (nothing cached)", "synth-full");
    const size = await treeSize(join(root, "generated"));
    // generated/ is committed, as in a dagops repository: git's index proves the tree unchanged.
    const git = (...args: string[]) => {
      // No automatic gc or maintenance: a background repack would take the cores the phases measure.
      const r = spawnSync("git", ["-c", "gc.auto=0", "-c", "maintenance.auto=false", ...args], {
        cwd: root,
        encoding: "utf8",
        maxBuffer: 64 * 2 ** 20,
      });
      if (r.status !== 0) throw new Error(`git ${args.join(" ")}: ${r.stderr}`);
    };
    await writeFile(join(root, ".gitignore"), "node_modules\n.bench-*\n");
    git("init", "-q");
    git("add", "-A");
    git("-c", "user.name=bench", "-c", "user.email=bench@example.com", "commit", "-qm", "base");
    const noop = await phase("no-op re-synth", "synth", REPEAT);
    // One definition changes, REPEAT times, back and forth (an odd count: it ends changed, for
    // the review below).
    const change = async (i: number) => {
      if (tenants !== undefined) {
        // One tenant changes: it is suspended, then resumed.
        const list = join(root, "pipelines", "bench.tenants.yaml");
        const [from, to] = [
          "- { name: t00000, params: { tenant: t00000 } }",
          "- { name: t00000, params: { tenant: t00000 }, suspend: true }",
        ];
        await writeFile(list, (await readFile(list, "utf8")).replace(i % 2 === 0 ? from : to, i % 2 === 0 ? to : from));
      } else {
        const one = join(root, "pipelines", "bench-00000.yaml");
        await writeFile(
          one,
          (await readFile(one, "utf8")).replace(
            i % 2 === 0 ? "memory: 300Mi" : "memory: 320Mi",
            i % 2 === 0 ? "memory: 320Mi" : "memory: 300Mi",
          ),
        );
      }
    };
    const one = await phase("re-synth, one pipeline changed", "synth", REPEAT, change);
    git("add", "-A");
    git("-c", "user.name=bench", "-c", "user.email=bench@example.com", "commit", "-qm", "one change");
    const review = await phase("npm run diff, that change", "diff", REPEAT);
    // A fresh clone, as CI makes it: its index is new, every file is as committed.
    const clone = `${root}-clone`;
    spawnSync("git", ["clone", "-q", root, clone]);
    await symlink(join(REPO, "node_modules"), join(clone, "node_modules"), "dir");
    const fresh = await phase("check in a fresh clone", "check-fresh", REPEAT);
    await phase("check --full (nothing cached)", "check-full");
    const floor = await phase("floor: yaml.stringify", "floor");

    const full = rows[0]![1];
    io.stdout(`${"phase".padEnd(32)} ${"wall".padStart(9)} ${"CPU".padStart(9)} ${"peak RSS".padStart(10)}  note\n`);
    for (const [name, r] of rows)
      io.stdout(
        `${name.padEnd(32)} ${`${(r.ms / 1000).toFixed(2)} s`.padStart(9)} ${(r.cpuMs === undefined ? "" : `${(r.cpuMs / 1000).toFixed(2)} s`).padStart(9)} ${`${r.maxRssMiB.toFixed(0)} MiB`.padStart(10)}  ${r.note ?? ""}\n`,
      );
    io.stdout(
      `(CPU: user + system time of the command's process, all its threads: V8's collector and compiler threads included)\n`,
    );
    io.stdout(
      `(phases marked "median of ${REPEAT}" ran ${REPEAT} times; wall is the median run's, peak RSS the largest)\n`,
    );
    io.stdout(`\noutput: ${size.files} files, ${(size.bytes / 2 ** 20).toFixed(1)} MiB\n`);
    io.stdout(
      `full synth / floor: ${(full.ms / floor.ms).toFixed(1)}× (the floor excludes process start, loading, validation and creating the files)\n`,
    );
    if (full.cpuMs !== undefined) {
      // However its work were spread, a process cannot finish before its CPU time / the cores.
      const cores = availableParallelism();
      io.stdout(
        `full synth CPU: ${(full.cpuMs / 1000).toFixed(2)} s over ${(full.ms / 1000).toFixed(2)} s of wall (${(full.cpuMs / full.ms).toFixed(2)} cores busy on average); spread perfectly over ${cores} cores the same work would take ${(full.cpuMs / cores / 1000).toFixed(2)} s, ${(full.cpuMs / cores / floor.ms).toFixed(2)}× the floor\n`,
      );
      // The compiling thread's own CPU time: no other thread can take its work, so no spreading
      // of the rest brings the synth below it.
      if (full.mainCpuMs !== undefined)
        io.stdout(
          `full synth's compiling thread: ${(full.mainCpuMs / 1000).toFixed(2)} s of CPU, ${(full.mainCpuMs / floor.ms).toFixed(2)}× the floor (the rest, ${((full.cpuMs - full.mainCpuMs) / 1000).toFixed(2)} s, ran in V8's helper threads)\n`,
        );
    }
    if (floor.both) {
      // Two threads do twice the work; with two real cores they take as long as one.
      const ratio = floor.both.together / floor.both.alone;
      io.stdout(
        `both cores: the floor's work (yaml.stringify of ${SAMPLE} objects × ${PASSES}, fastest of 3) took ${(floor.both.alone / 1000).toFixed(2)} s in one thread, ${(floor.both.together / 1000).toFixed(2)} s in each of two at once: ` +
          `${(2 / ratio).toFixed(2)}× one core's throughput (2.00× on two real cores), so the floor on both cores would take ${((floor.ms * ratio) / 2 / 1000).toFixed(2)} s at best\n`,
      );
    }
    const start = processStart();
    io.stdout(
      `process start: Node.js alone (node ${[...NODE_FLAGS, "-e", "0"].join(" ")}) takes ${(start.ms / 1000).toFixed(2)} s here (median of ${REPEAT}), part of every one-second target` +
        (start.withoutCaMs !== undefined
          ? `; ${(start.withoutCaMs / 1000).toFixed(2)} s without NODE_EXTRA_CA_CERTS, which is set here and which Node.js 20 parses at every start`
          : "") +
        "\n",
    );
    io.stdout("\n");
    if (pipelines !== 2000 || steps !== 15 || tenants !== undefined)
      io.stdout(`(the targets below are set for 2,000 pipelines × 15 steps)\n`);
    const peak = Math.max(...rows.filter(([n]) => !n.startsWith("floor")).map(([, r]) => r.maxRssMiB));
    const target = (label: string, value: string, goal: string, ok: boolean) =>
      io.stdout(`${label.padEnd(40)} ${value.padStart(10)}   target ${goal.padEnd(12)} ${ok ? "met" : "MISSED"}\n`);
    target("re-synth, one pipeline changed", `${(one.ms / 1000).toFixed(2)} s`, "<= 1 s", one.ms <= 1000);
    target("no-op re-synth", `${(noop.ms / 1000).toFixed(2)} s`, "<= 1 s", noop.ms <= 1000);
    target("check in a fresh clone", `${(fresh.ms / 1000).toFixed(2)} s`, "<= 3 s", fresh.ms <= 3000);
    target("npm run diff, one pipeline changed", `${(review.ms / 1000).toFixed(2)} s`, "<= 2 s", review.ms <= 2000);
    target("full synth / floor", `${(full.ms / floor.ms).toFixed(2)}×`, "<= 1.0×", full.ms <= floor.ms);
    target("peak RSS, any phase", `${peak.toFixed(0)} MiB`, "<= 1024 MiB", peak <= 1024);
    if (pipelines >= 10_000)
      target(
        `${pipelines} × ${steps}: full synth completes`,
        `${(full.ms / 1000).toFixed(1)} s`,
        "peak <= 1 GiB",
        full.exitCode === 0 && full.maxRssMiB <= 1024,
      );
    if (values.keep) io.stdout(`kept: ${root}\n`);
    return EXIT.ok;
  } catch (e) {
    io.stderr(`dagops bench: ${(e as Error).message}\n`);
    return EXIT.usage;
  } finally {
    if (!values.keep) for (const dir of [root, `${root}-clone`]) await rm(dir, { recursive: true, force: true });
  }
}

/** How long Node.js takes to start and exit here, with the commands' flags: with this environment, and without NODE_EXTRA_CA_CERTS when it is set. */
function processStart(): { ms: number; withoutCaMs?: number } {
  const median = (env: NodeJS.ProcessEnv) => {
    const times: number[] = [];
    for (let i = 0; i < REPEAT; i++) {
      const started = process.hrtime.bigint();
      spawnSync(process.execPath, [...NODE_FLAGS, "-e", "0"], { env });
      times.push(Number(process.hrtime.bigint() - started) / 1e6);
    }
    return times.sort((a, b) => a - b)[Math.floor(REPEAT / 2)]!;
  };
  const ms = median(process.env);
  if (!process.env.NODE_EXTRA_CA_CERTS) return { ms };
  const env = { ...process.env };
  delete env.NODE_EXTRA_CA_CERTS;
  return { ms, withoutCaMs: median(env) };
}

/** How many times a short phase runs (its median is reported). */
const REPEAT = 5;

const sleep = (ms: number) => new Promise<void>((resolve) => setTimeout(resolve, ms));

/** The run of median wall time, with the largest peak RSS of all, and the spread in its note. */
function medianOf(runs: readonly PhaseResult[]): PhaseResult {
  const sorted = [...runs].sort((a, b) => a.ms - b.ms);
  const median = sorted[Math.floor((sorted.length - 1) / 2)]!;
  const spread = `median of ${runs.length}: ${(sorted[0]!.ms / 1000).toFixed(2)}–${(sorted.at(-1)!.ms / 1000).toFixed(2)} s`;
  return {
    ...median,
    maxRssMiB: Math.max(...runs.map((r) => r.maxRssMiB)),
    note: median.note ? `${spread}; ${median.note}` : spread,
  };
}

/** The commands measured, as `npm run <command>` runs them (src/cli/run.mjs), each in its own process. */
const COMMANDS: Record<string, readonly string[]> = {
  // --timings: the note says how long the thread that creates the files was busy beside the compile.
  "synth-full": ["synth", "--full", "--timings"],
  synth: ["synth"],
  check: ["check"],
  "check-fresh": ["check"],
  "check-full": ["check", "--full"],
  diff: ["diff", "--base", "HEAD~1", "--head", "HEAD", "--out", ".bench-review.md"],
};

function spawnPhase(phase: string, root: string): PhaseResult {
  const command = COMMANDS[phase];
  if (!command) return spawnFloor(root);
  const rss = join(root, ".bench-rss");
  rmSync(rss, { force: true });
  const started = process.hrtime.bigint();
  const r = spawnSync(
    process.execPath,
    [
      ...NODE_FLAGS,
      "--import",
      pathToFileURL(join(REPO, "src/bench/bench-rss.mjs")).href,
      join(REPO, "src/cli/run.mjs"),
      ...command,
    ],
    {
      cwd: phase === "check-fresh" ? `${root}-clone` : root,
      encoding: "utf8",
      maxBuffer: 64 * 2 ** 20,
      env: { ...process.env, DAGOPS_BENCH_RSS: rss },
    },
  );
  const ms = Number(process.hrtime.bigint() - started) / 1e6;
  const usage = existsSync(rss)
    ? (JSON.parse(readFileSync(rss, "utf8")) as { maxRssKiB: number; cpuMs: number; mainCpuMs?: number })
    : { maxRssKiB: 0, cpuMs: 0 };
  const first = (r.stdout ?? "").split("\n")[0] || (r.stderr ?? "").split("\n").slice(-5).join(" ");
  const note =
    phase === "diff" && existsSync(join(root, ".bench-review.md"))
      ? `review of ${(statSync(join(root, ".bench-review.md")).size / 1024).toFixed(0)} KiB`
      : first;
  return {
    ms,
    cpuMs: usage.cpuMs,
    ...(usage.mainCpuMs !== undefined ? { mainCpuMs: usage.mainCpuMs } : {}),
    maxRssMiB: usage.maxRssKiB / 1024,
    exitCode: r.status ?? 2,
    note,
  };
}

/** The floor runs in a process of its own too: this file, with --phase floor. */
function spawnFloor(root: string): PhaseResult {
  const r = spawnSync(
    process.execPath,
    [...NODE_FLAGS, "--import", "tsx", join(REPO, "src/bench/bench.ts"), "--phase", "floor", "--root", root],
    { cwd: root, encoding: "utf8", maxBuffer: 64 * 2 ** 20 },
  );
  const report = /^BENCH (.*)$/m.exec(r.stdout ?? "");
  const inner = report
    ? (JSON.parse(report[1]!) as { maxRssKiB: number; ms: number; note?: string; both?: TwoCores })
    : { maxRssKiB: 0, ms: 0, note: (r.stderr ?? "").split("\n").slice(-5).join(" ") };
  return {
    ms: inner.ms,
    maxRssMiB: inner.maxRssKiB / 1024,
    exitCode: r.status ?? 2,
    ...(inner.note ? { note: inner.note } : {}),
    ...(inner.both ? { both: inner.both } : {}),
  };
}

/** The floor, inside its own process: yaml.stringify of every object a full compile renders. */
async function runPhase(phase: string, root: string, io: Io): Promise<number> {
  if (phase !== "floor") {
    io.stderr(`unknown phase ${phase}\n`);
    return EXIT.usage;
  }
  // Rendered fifty pipelines at a time (as synth renders them), so that 10,000 pipelines, or a
  // template with thousands of tenants, fit in memory; only the stringify calls are timed.
  const { loadPipeline, loadPlatform, TsLoader } = await import("../load/load.ts");
  const { pipelineFiles, tenantsFiles } = await import("../load/definitions.ts");
  const { renderPipelines, renderShared } = await import("../render/render.ts");
  const { clusters } = await loadPlatform(root);
  const tenants = await tenantsFiles(root);
  const loader = new TsLoader();
  let ns = 0n;
  let bytes = 0;
  let objects = 0;
  const names = new Map<string, string[]>();
  // Objects kept for twoCores: a sample of every kind, the first SAMPLE rendered.
  const sample: unknown[] = [];
  const time = (manifests: readonly unknown[]) => {
    for (const m of manifests) if (sample.length < SAMPLE) sample.push(m);
    const t = process.hrtime.bigint();
    for (const m of manifests) bytes += stringify(m).length;
    ns += process.hrtime.bigint() - t;
    objects += manifests.length;
  };
  const pending: Awaited<ReturnType<typeof loadPipeline>>["pipelines"] = [];
  const files = await pipelineFiles(root);
  for (const [i, file] of files.entries()) {
    const r = await loadPipeline(
      root,
      file,
      clusters.map((c) => c.name),
      loader,
      tenants,
    );
    if (!r.pipelines.length)
      throw new Error(`the floor's pipelines did not load: ${JSON.stringify(r.problems.slice(0, 3))}`);
    pending.push(...r.pipelines);
    while (pending.length >= 50 || (i === files.length - 1 && pending.length)) {
      const chunk = pending.splice(0, 50);
      for (const p of chunk) for (const c of p.clusters) getOrSet(names, c, () => []).push(p.name);
      time(renderPipelines(clusters, chunk).map((o) => o.manifest));
    }
  }
  time(renderShared(clusters).map((o) => o.manifest));
  // The floor's own peak, before the threads below add theirs.
  const maxRssKiB = process.resourceUsage().maxRSS;
  const both = await twoCores(sample);
  const extra = { ms: Number(ns) / 1e6, note: `${objects} objects, ${(bytes / 2 ** 20).toFixed(1)} MiB of YAML`, both };
  io.stdout(`BENCH ${JSON.stringify({ maxRssKiB, ...extra })}\n`);
  return EXIT.ok;
}

/** How many rendered objects twoCores stringifies, and how many times over. */
const SAMPLE = 1000;
const PASSES = 6;

/**
 * What the second core adds to the floor's own work on this machine: the same yaml.stringify
 * passes over a sample of the rendered objects, in one thread alone, then in two threads at
 * once (each three times, the fastest kept). On a machine whose two cores are real, two threads take as long as one (ratio 1.0);
 * where memory bandwidth or the host's scheduler is shared, longer. The target "full synth
 * <= the floor, using both cores" can at best divide the floor's work by 2 / ratio.
 */
async function twoCores(sample: readonly unknown[]): Promise<TwoCores> {
  const { Worker } = await import("node:worker_threads");
  const { createRequire } = await import("node:module");
  const yamlPath = createRequire(import.meta.url).resolve("yaml");
  // Each thread first makes one pass unmeasured (loading and optimizing its code), says so, and
  // waits: the measured passes of two threads start together.
  const code = `const { parentPort, workerData } = require("node:worker_threads");
const { stringify } = require(workerData.yamlPath);
let n = 0;
for (const m of workerData.sample) n += stringify(m).length;
parentPort.once("message", () => {
  const t = performance.now();
  for (let i = 0; i < workerData.passes; i++) for (const m of workerData.sample) n += stringify(m).length;
  parentPort.postMessage({ ms: performance.now() - t, n });
});
parentPort.postMessage("ready");`;
  const run = async (threads: number): Promise<number> => {
    const workers = Array.from(
      { length: threads },
      () => new Worker(code, { eval: true, execArgv: [], workerData: { sample, passes: PASSES, yamlPath } }),
    );
    const next = (w: InstanceType<typeof Worker>) =>
      new Promise<unknown>((resolve, reject) => (w.once("message", resolve), w.once("error", reject)));
    try {
      await Promise.all(workers.map(next));
      const done = workers.map(next) as Promise<{ ms: number }>[];
      for (const w of workers) w.postMessage("go");
      return Math.max(...(await Promise.all(done)).map((r) => r.ms));
    } finally {
      await Promise.all(workers.map((w) => w.terminate()));
    }
  };
  // Alternated three times, the fastest of each kept: a neighbour on a shared host only ever
  // makes a run slower, so the minimum is the machine's own figure.
  let alone = Infinity;
  let together = Infinity;
  for (let i = 0; i < 3; i++) {
    alone = Math.min(alone, await run(1));
    together = Math.min(together, await run(2));
  }
  return { alone, together };
}

/** A deterministic, varied DAG: a source, fan-out branches of different lengths, a fan-in and a tail. */
export function syntheticPipeline(i: number, steps: number): string {
  const lines = [
    `name: bench-${String(i).padStart(5, "0")}`,
    `description: Synthetic pipeline ${i} for npm run bench.`,
    `schedule: "${i % 60} ${i % 24} * * *"`,
    "image: 111122223333.dkr.ecr.us-east-1.amazonaws.com/bench:1.0.0",
    // Every third pipeline assumes a role per cluster (staging and prod are different accounts).
    i % 3 === 0
      ? "overrides:\n  staging: { iamRole: arn:aws:iam::111122223333:role/bench-steps }\n  prod: { iamRole: arn:aws:iam::444455556666:role/bench-steps }"
      : "",
    `maxParallel: ${2 + (i % 7)}`,
    "defaults:",
    "  resources:",
    "    requests: { cpu: 200m, memory: 300Mi }",
    "    limits: { cpu: 500m, memory: 600Mi }",
    "  timeout: 45m",
    "steps:",
    "  - name: s00",
    "    command: [run, s00]",
  ].filter(Boolean);
  const width = 2 + (i % 4);
  for (let s = 1; s < steps; s++) {
    const name = `s${String(s).padStart(2, "0")}`;
    const deps =
      s === steps - 1
        ? Array.from({ length: Math.min(width, s) }, (_, k) => `s${String(s - 1 - k).padStart(2, "0")}`)
        : [`s${String(Math.max(0, s - width)).padStart(2, "0")}`];
    lines.push(`  - name: ${name}`, `    command: [run, ${name}]`, `    dependsOn: [${[...new Set(deps)].join(", ")}]`);
    if (s % 5 === 0) lines.push("    resources: { requests: { memory: 700Mi }, limits: { memory: 1Gi } }");
    if (s % 7 === 0) lines.push("    env: [{ name: MODE, value: full }]");
  }
  return `${lines.join("\n")}\n`;
}

/** One template of `steps` steps for `--tenants`: every tenant a pipeline, its start spread by H. */
export function syntheticTemplate(steps: number): string {
  return syntheticPipeline(0, steps)
    .replace("name: bench-00000", "name: bench")
    .replace(
      /^schedule: .*$/m,
      'schedule: "H H * * *"\ntemplate: true\nparams: { tenant: { type: string, default: none } }',
    );
}

/** The tenants file of `--tenants`: one line per tenant. */
export function syntheticTenants(tenants: number): string {
  return Array.from(
    { length: tenants },
    (_, i) => `- { name: t${String(i).padStart(5, "0")}, params: { tenant: t${String(i).padStart(5, "0")} } }\n`,
  ).join("");
}

/**
 * Creates files of the same sizes as those under `from`, in the same folders, under `into`, as
 * the stager writes them in one thread (writeHere): what creating the output costs this
 * machine's kernel now, with no compile beside it.
 */
async function treeSize(dir: string): Promise<{ files: number; bytes: number }> {
  const entries = await readdir(dir, { recursive: true, withFileTypes: true });
  let files = 0;
  let bytes = 0;
  for (const e of entries) {
    if (!e.isFile()) continue;
    files++;
    bytes += (await stat(join(e.parentPath, e.name))).size;
  }
  return { files, bytes };
}

runIfMain(import.meta, main);
