/**
 * `npm run bench:run-manager`: the run manager at scale, against the simulated API server
 * (test/support/fake-kube.ts, real HTTP). One run of a 1,000-step plan with `maxParallel: 100`: the
 * compiled run manager (what the image runs) in its own process, measured for
 *
 *   peak RSS · API requests per step attempt (besides watches) · delay from a step's success to
 *   the creation of a dependent's Job (p50, p99, max)
 *
 * against the targets of the Fargate size it runs on (0.25 vCPU, 256 MiB): RSS ≤ 150 MiB, at most 3
 * requests per attempt, p99 delay ≤ 1 s. The simulated server answers at once: this measures
 * the run manager, not an API server.
 */
import { execFileSync, spawn } from "node:child_process";
import { createHash } from "node:crypto";
import { mkdtemp, readFile, rm, symlink, writeFile } from "node:fs/promises";
import { tmpdir } from "node:os";
import { dirname, join, resolve } from "node:path";
import { fileURLToPath } from "node:url";
import { EXIT, parseCommand, runIfMain, type Io } from "../cli/kit.ts";
import { planDocument } from "../charts/plan.ts";
import type { PipelineDefinition } from "../model/pipeline.ts";
import { resolvePipeline } from "../model/resolve.ts";
import { FakeKube } from "../../test/support/fake-kube.ts";

const REPO = resolve(dirname(fileURLToPath(import.meta.url)), "../..");

const HELP = `Usage: npm run bench:run-manager [-- --steps <n>] [--max-parallel <n>] [--layers <n>]

Runs one run of a synthetic plan (default 1,000 steps in 10 layers, each step depending on one
of the layer before; maxParallel 100) with the compiled run manager against the simulated API
server, and prints its peak RSS, the API requests per step attempt and the delay from a step's
success to its dependents' creation, each with its target.

Options:
  --steps <n>          steps (default 1000)
  --layers <n>         layers of the DAG (default 10)
  --max-parallel <n>   maxParallel (default 100)
  -h, --help           show this help

Exit codes:
  0  measured, every target met
  1  measured, a target missed
  2  usage error, or the run failed
`;

export const TARGETS = { rssMiB: 150, requestsPerAttempt: 3, p99DelayMs: 1000 } as const;

export async function main(argv: string[], io: Io): Promise<number> {
  const parsed = parseCommand(
    "bench:run-manager",
    argv,
    io,
    { steps: { type: "string" }, layers: { type: "string" }, "max-parallel": { type: "string" } } as const,
    HELP,
  );
  if (parsed.kind === "exit") return parsed.exit;
  const steps = Number(parsed.values.steps ?? 1000);
  const layers = Number(parsed.values.layers ?? 10);
  const maxParallel = Number(parsed.values["max-parallel"] ?? 100);
  if (
    ![steps, layers, maxParallel].every((n) => Number.isInteger(n) && n >= 1) ||
    steps % layers !== 0 ||
    steps > 5000
  ) {
    io.stderr(
      "dagops bench:run-manager: --steps (at most 5000, a multiple of --layers), --layers and --max-parallel must be positive integers\n",
    );
    return EXIT.usage;
  }
  const width = steps / layers;
  const name = (l: number, i: number) => `s${l}-${i}`;
  const def: PipelineDefinition = {
    name: "bench",
    image: "registry.example.com/bench:1.0.0",
    maxParallel,
    defaults: { resources: { requests: { cpu: "100m", memory: "64Mi" } }, retries: 0 },
    steps: Array.from({ length: steps }, (_, k) => {
      const l = Math.floor(k / width);
      const i = k % width;
      return { name: name(l, i), ...(l > 0 ? { dependsOn: [name(l - 1, i)] } : {}) };
    }),
  };
  const { pipeline, problems } = resolvePipeline(def, "pipelines/bench.yaml", ["bench"]);
  if (!pipeline) {
    io.stderr(`dagops bench:run-manager: ${problems.map((p) => p.message).join("; ")}\n`);
    return EXIT.usage;
  }
  const { text } = planDocument(pipeline);
  const dir = await mkdtemp(join(tmpdir(), "dagops-bench-rm-"));
  const kube = new FakeKube();
  try {
    io.stderr(`compiling the run manager (tsc -p tsconfig.run-manager.json)…\n`);
    execFileSync(
      process.execPath,
      [
        join(REPO, "node_modules/typescript/bin/tsc"),
        "-p",
        join(REPO, "tsconfig.run-manager.json"),
        "--outDir",
        join(dir, "dist"),
      ],
      { cwd: REPO, stdio: "pipe" },
    );
    await symlink(join(REPO, "node_modules"), join(dir, "node_modules"), "dir"); // the image's node_modules
    await writeFile(join(dir, "plan.yaml"), text);
    await writeFile(
      join(dir, "rss.mjs"),
      'process.on("exit", () => process.stderr.write(`BENCH_RSS ${process.resourceUsage().maxRSS}\\n`));\n',
    );
    // Steps take 100 to 300 ms, the same for every run of the bench.
    kube.script = (step) => ({
      outcome: "succeed",
      afterMs:
        100 +
        (parseInt(
          createHash("sha256")
            .update(step ?? "")
            .digest("hex")
            .slice(0, 4),
          16,
        ) %
          201),
    });
    const url = await kube.start();
    const namespace = "dagops-bench";
    const run = kube.addRunJob(namespace, "bench-1");
    const env = {
      PATH: process.env.PATH ?? "",
      KUBECONFIG: await kube.kubeconfig(url),
      DAGOPS_PIPELINE: "bench",
      DAGOPS_NAMESPACE: namespace,
      DAGOPS_JOB_NAME: run.name,
      DAGOPS_JOB_UID: run.uid,
      DAGOPS_PLAN_CONFIGMAP: `bench-plan-${createHash("sha256").update(text).digest("hex").slice(0, 10)}`,
      NODE_ENV: "production",
    };
    io.stderr(`running ${steps} steps, maxParallel ${maxParallel}…\n`);
    const started = Date.now();
    const flags = await imageNodeFlags();
    const child = spawn(
      process.execPath,
      [
        ...flags,
        ...(process.env.BENCH_NODE_FLAGS ?? "").split(" ").filter(Boolean),
        "--import",
        join(dir, "rss.mjs"),
        join(dir, "dist/runner/main.js"),
        "run",
        "--plan",
        join(dir, "plan.yaml"),
      ],
      { env, cwd: dir },
    );
    let err = "";
    let out = "";
    child.stdout.on("data", (d) => (out = (out + d).slice(-20_000)));
    child.stderr.on("data", (d) => (err += d));
    const code = await new Promise<number | null>((r) => child.on("exit", r));
    const wallMs = Date.now() - started;
    if (code !== 0) {
      io.stderr(
        `dagops bench:run-manager: the run manager exited ${code}:\n${out.split("\n").slice(-10).join("\n")}\n${err}`,
      );
      return EXIT.usage;
    }
    const rssMiB = Number(/BENCH_RSS (\d+)/.exec(err)?.[1] ?? 0) / 1024;
    const attempts = kube.stepJobs().length;
    const requests = kube.requests.filter((r) => r.verb !== "watch");
    const byKind = new Map<string, number>();
    for (const r of requests) byKind.set(`${r.verb} ${r.resource}`, (byKind.get(`${r.verb} ${r.resource}`) ?? 0) + 1);
    const perAttempt = requests.length / attempts;
    const delays = dependentDelays(kube, def);
    const pct = (p: number) => delays[Math.min(delays.length - 1, Math.ceil((p / 100) * delays.length) - 1)] ?? 0;
    const row = (label: string, value: string, target: string, ok: boolean) =>
      io.stdout(`${label.padEnd(34)} ${value.padStart(12)}   target ${target.padEnd(10)} ${ok ? "met" : "MISSED"}\n`);
    io.stdout(
      `run manager at scale: ${steps} steps in ${layers} layers, maxParallel ${maxParallel}, ${attempts} attempts, run took ${(wallMs / 1000).toFixed(1)} s (steps last 100-300 ms)\n`,
    );
    io.stdout(
      `compiled run manager, node ${process.version} ${flags.join(" ")} (the image's flags, from the Dockerfile)\n\n`,
    );
    row("peak RSS", `${rssMiB.toFixed(0)} MiB`, `<= ${TARGETS.rssMiB} MiB`, rssMiB <= TARGETS.rssMiB);
    row(
      "API requests per attempt",
      perAttempt.toFixed(2),
      `<= ${TARGETS.requestsPerAttempt}`,
      perAttempt <= TARGETS.requestsPerAttempt,
    );
    row(
      "dependent created after success, p99",
      `${pct(99)} ms`,
      `<= ${TARGETS.p99DelayMs} ms`,
      pct(99) <= TARGETS.p99DelayMs,
    );
    io.stdout(`${"  p50 / max".padEnd(34)} ${`${pct(50)} / ${delays.at(-1) ?? 0} ms`.padStart(12)}\n\n`);
    io.stdout(
      `requests besides watches (${requests.length}): ${[...byKind]
        .sort((a, b) => b[1] - a[1])
        .map(([k, n]) => `${k} ${n}`)
        .join(", ")}\n`,
    );
    return rssMiB <= TARGETS.rssMiB && perAttempt <= TARGETS.requestsPerAttempt && pct(99) <= TARGETS.p99DelayMs
      ? EXIT.ok
      : EXIT.problems;
  } finally {
    await kube.stop();
    await rm(dir, { recursive: true, force: true });
  }
}

/** The node flags of the image's ENTRYPOINT: the bench runs the program as the pod does. */
async function imageNodeFlags(): Promise<string[]> {
  const dockerfile = await readFile(join(REPO, "Dockerfile"), "utf8");
  const entry = /^ENTRYPOINT (\[.*\])$/m.exec(dockerfile);
  return entry ? (JSON.parse(entry[1]!) as string[]).filter((a) => a.startsWith("--")) : [];
}

/** Per step with a dependency: its Job's creation minus the latest finish of its dependencies (ms), sorted. */
function dependentDelays(kube: FakeKube, def: PipelineDefinition): number[] {
  const jobs = kube.stepJobs();
  const byStep = new Map(jobs.map((j) => [j.metadata.labels["dagops.dev/step"] as string, j]));
  const finished = (step: string) =>
    Date.parse(
      byStep.get(step)?.status?.conditions?.find((c: { type: string }) => c.type === "Complete")?.lastTransitionTime ??
        "",
    );
  const delays: number[] = [];
  for (const s of def.steps) {
    if (!s.dependsOn?.length) continue;
    const created = Date.parse(byStep.get(s.name)?.metadata.creationTimestamp ?? "");
    const ready = Math.max(...s.dependsOn.map(finished));
    if (Number.isFinite(created) && Number.isFinite(ready)) delays.push(Math.max(0, created - ready));
  }
  return delays.sort((a, b) => a - b);
}

runIfMain(import.meta, main);
