/** `npm run plan -- <pipeline>`: how a run of a pipeline unfolds, without a cluster. */
import { executionPlan, type ExecutionPlan, type Peak } from "../model/execution.ts";
import { formatDuration } from "../contract/duration.ts";
import { ASSUMED_STEP_SECONDS } from "../model/pipeline.ts";
import { closest, formatProblems, hasErrors } from "../contract/problems.ts";
import type { ResolvedPipeline } from "../model/resolve.ts";
import { EXIT, parseCommand, plural, runIfMain, type Io } from "../cli/kit.ts";
import { openRepository } from "../write/tree.ts";

const HELP = `Usage: npm run plan -- <pipeline> [--json] [--root <dir>]

Prints how a run of the pipeline unfolds, without a cluster:
  - the waves: steps grouped by how many dependencies lie before them;
  - the critical path: the longest chain of steps, by their timeouts (the longest a run can
    take without retries);
  - the peak concurrent CPU and memory requests: the heaviest set of steps that can run at the
    same time under maxParallel, whatever each step's duration.

Options:
  --json         print the plan as JSON
  --root <dir>   repository root (default: the current directory)
  -h, --help     show this help

Examples:
  npm run plan -- customer-classification
  npm run plan -- daily-usage-report --json

Exit codes:
  0  printed
  1  the pipeline definitions have problems
  2  usage error (no such pipeline)
`;

export async function main(argv: string[], io: Io): Promise<number> {
  const parsed = parseCommand(
    "plan",
    argv,
    io,
    { root: { type: "string" }, json: { type: "boolean" } } as const,
    HELP,
    true,
  );
  if (parsed.kind === "exit") return parsed.exit;
  const { values, positionals } = parsed;
  if (positionals.length !== 1) {
    io.stderr(`dagops plan: expected one pipeline name, found ${positionals.length}\n\n${HELP}`);
    return EXIT.usage;
  }
  const name = positionals[0]!;
  const root = await openRepository("plan", values.root, io);
  const { loadProject } = await import("../load/load.ts"); // not needed for --help
  const project = await loadProject(root);
  const pipeline = project.pipelines.find((p) => p.name === name);
  const errors = project.problems.filter((p) => p.severity === "error");
  // Errors of other definitions do not hide this one's plan: they are named, as a warning.
  const mine = (p: (typeof errors)[number]) =>
    !p.file.startsWith("pipelines/") ||
    p.file === pipeline?.source ||
    p.code === "DUPLICATE_PIPELINE" ||
    (pipeline?.template !== undefined && p.file.startsWith(pipeline.source.replace(/\.(ts|ya?ml)$/, "")));
  if (errors.length && (!pipeline || errors.some(mine))) {
    io.stderr(`${formatProblems(project.problems)}\n`);
    return EXIT.problems;
  }
  if (errors.length) {
    const files = [...new Set(errors.map((p) => p.file))].sort();
    io.stderr(
      `dagops plan: warning: ${files.join(", ")} ${files.length === 1 ? "has" : "have"} errors (npm run check shows them); this is the plan of ${name} alone\n`,
    );
  }
  const tenants = project.pipelines.filter((p) => p.template === name);
  if (!pipeline && tenants.length) {
    // A template is no pipeline of its own: its tenants are, each with its plan.
    io.stdout(
      values.json
        ? `${JSON.stringify({ template: name, tenants: tenants.map((t) => ({ pipeline: t.name, schedule: t.schedule ?? null, clusters: t.clusters })) }, null, 2)}\n`
        : `${name} is a template; its tenants (npm run plan -- <tenant>):\n${tenants.map((t) => `  ${t.name.padEnd(40)} ${t.schedule ?? "(no schedule)"}  ${t.clusters.join(", ")}`).join("\n")}\n`,
    );
    return EXIT.ok;
  }
  if (!pipeline) {
    const known = project.pipelines.map((p) => p.name);
    const hint = closest(name, known);
    io.stderr(
      `dagops plan: no pipeline named ${JSON.stringify(name)}${hint ? `; did you mean ${JSON.stringify(hint)}?` : ""} Known: ${known.join(", ") || "(none)"}\n`,
    );
    return EXIT.usage;
  }
  const plan = executionPlan(pipeline);
  const operations = operationsOf(pipeline);
  io.stdout(
    values.json
      ? `${JSON.stringify({ ...plan, operations }, null, 2)}\n`
      : `${formatPlan(plan, pipeline.steps.length)}${formatOperations(operations)}`,
  );
  return EXIT.ok;
}

/** What a run leaves and says, besides its steps: the record, early failure names, alerts. */
function operationsOf(p: ResolvedPipeline) {
  return {
    // The schedule as the CronJob gets it (H resolved), per cluster where overrides differ.
    schedule: p.schedule ?? null,
    timeZone: p.timeZone,
    clusterSchedules: Object.fromEntries(
      Object.entries(p.overridden)
        .filter(([, v]) => v.schedule !== p.schedule || v.suspend !== p.suspend)
        .map(([c, v]) => [c, v.suspend ? "suspended" : (v.schedule ?? null)]),
    ),
    suspended: p.suspend,
    template: p.template ?? null,
    concurrency: p.concurrency,
    params: Object.fromEntries(
      Object.entries(p.params).map(([k, d]) => [k, { type: d.type, default: d.default ?? null }]),
    ),
    records: { keep: p.historyKeep },
    schedulingTimeoutSeconds: p.schedulingTimeoutSeconds,
    notify: p.notify.map((n) => ({
      on: [...n.on],
      secret: `${n.webhook.secretKeyRef.name}/${n.webhook.secretKeyRef.key}`,
      format: n.format ?? "json",
    })),
    clustersWithOwnNotify: Object.entries(p.overridden)
      .filter(([, v]) => JSON.stringify(v.notify) !== JSON.stringify(p.notify))
      .map(([c]) => c),
  };
}

function formatOperations(o: ReturnType<typeof operationsOf>): string {
  const params = Object.entries(o.params).map(
    ([k, d]) => `${k} (${d.type}${d.default !== null ? `, default ${d.default}` : ""})`,
  );
  const lines = [
    "",
    `Schedule: ${o.suspended || !o.schedule ? "none: runs only when started by hand (dagops start)" : `${o.schedule} (${o.timeZone})`}${
      Object.keys(o.clusterSchedules).length
        ? `; ${Object.entries(o.clusterSchedules)
            .map(([c, v]) => `${c}: ${v}`)
            .join(", ")}`
        : ""
    }${o.template ? `; a tenant of template ${o.template}` : ""}.`,
    `Concurrency: ${o.concurrency}. Parameters: ${params.length ? params.join(", ") : "none"}.`,
    `Run records: each run leaves ConfigMap <run>-record (outcome, trigger, every attempt, failed containers' last log lines); the newest ${o.records.keep} are kept (history.keep).`,
    `Failures named early: an image that cannot be pulled (3m) or a missing Secret or ConfigMap (2m) fails its step at once; a pod unschedulable for ${formatDuration(o.schedulingTimeoutSeconds)} (schedulingTimeout) fails its attempt and spends a retry.`,
    o.notify.length
      ? `Alerts: ${o.notify.map((n) => `on ${n.on.join(", ")} → ${n.format} webhook from Secret ${n.secret}`).join("; ")}${o.clustersWithOwnNotify.length ? ` (clusters ${o.clustersWithOwnNotify.join(", ")} have their own)` : ""}.`
      : "Alerts: none (notify).",
    "Logs: run managers' to the cluster's CloudWatch Logs group (platform.config.ts logging); the record names the groups and streams.",
  ];
  return `${lines.join("\n")}\n`;
}

export function formatPlan(plan: ExecutionPlan, steps: number): string {
  const lines = [`${plan.pipeline}: ${plural(steps, "step")}, at most ${plan.maxParallel} at once (maxParallel)`, ""];
  lines.push("Waves (a step starts once all its dependencies have succeeded):");
  plan.waves.forEach((w, i) => lines.push(`  ${String(i + 1).padStart(2)}  ${w.join(", ")}`));
  lines.push(
    "",
    `Critical path, every step running to its timeout, no retries: ${formatDuration(plan.criticalPath.seconds)}`,
  );
  lines.push(`  ${plan.criticalPath.steps.join(" → ")}`);
  const assumed =
    plan.typicalPath.estimated === "all"
      ? ""
      : `; steps without an estimate count ${formatDuration(ASSUMED_STEP_SECONDS)}`;
  lines.push("", `Typical run, by the steps' estimates${assumed}: ${formatDuration(plan.typicalPath.seconds)}`);
  lines.push(`  ${plan.typicalPath.steps.join(" → ")}`);
  lines.push(
    "  (The critical path is a bound: every step at its timeout. `npm run cost` prices the typical run, from `estimate`.)",
  );
  const peak = (label: string, p: Peak, amount: string) =>
    `  ${label.padEnd(8)}${((p.exact ? "" : "≤ ") + amount).padEnd(9)} ${p.steps.join(", ")}`;
  lines.push(
    "",
    `Peak concurrent requests, whatever the step durations (at most ${plural(plan.peak.steps, "step")} can run at once):`,
  );
  lines.push(peak("cpu", plan.peak.cpuMillis, `${plan.peak.cpuMillis.amount}m`));
  lines.push(peak("memory", plan.peak.memoryBytes, formatMemory(plan.peak.memoryBytes.amount)));
  if (!plan.peak.cpuMillis.exact || !plan.peak.memoryBytes.exact)
    lines.push("  (≤: the graph is too large to search exactly; the figure is the sum of the largest requests)");
  return `${lines.join("\n")}\n`;
}

function formatMemory(bytes: number): string {
  const mi = bytes / 2 ** 20;
  return mi >= 1024 ? `${(mi / 1024).toFixed(2)}Gi` : `${Math.round(mi)}Mi`;
}

runIfMain(import.meta, main);
