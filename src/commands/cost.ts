/** `npm run cost [-- <pipeline>] [--json]`: what a run costs on the generated pools, and what Spot saves. */
import { clusterCosts, formatUsd, type PipelineCost } from "../cost/estimate.ts";
import { ASSUMED_STEP_SECONDS } from "../model/pipeline.ts";
import { formatDuration } from "../contract/duration.ts";
import { PIPELINES_DIR } from "../model/files.ts";
import { closest, formatProblems, hasErrors, type Problem } from "../contract/problems.ts";
import { EXIT, parseCommand, runIfMain, type Io } from "../cli/kit.ts";
import { openRepository } from "../write/tree.ts";
import { byKey, getOrSet } from "../contract/order.ts";

const HELP = `Usage: npm run cost [-- <pipeline>] [--json] [--root <dir>]

For every pipeline (or the one named) and every cluster it deploys to, simulates one run on the
generated NodePools and prices it from the cluster's price snapshot: the step nodes on Spot
(where the pool allows it) and all on-demand, what Spot saves, the run manager on Fargate, the
monthly cost from the schedule, and the peak capacity. Identical results for several clusters
are shown once. How it is computed, and what it ignores: docs/cost.md, "Cost".

Options:
  --json         print the result as JSON
  --root <dir>   repository root (default: the current directory)
  -h, --help     show this help

Exit codes:
  0  printed
  1  the definitions have problems
  2  usage error (no such pipeline)
`;

const usd = (n: number) => formatUsd(n, "run");
const monthly = (n: number) => formatUsd(n, "month");
const pct = (n: number) => `${n.toFixed(1)}%`;

export async function main(argv: string[], io: Io): Promise<number> {
  const parsed = parseCommand(
    "cost",
    argv,
    io,
    { root: { type: "string" }, json: { type: "boolean" } } as const,
    HELP,
    true,
  );
  if (parsed.kind === "exit") return parsed.exit;
  const { compile } = await import("../synth/compile.ts");
  const { values, positionals } = parsed;
  if (positionals.length > 1) {
    io.stderr(`dagops cost: expected at most one pipeline name, found ${positionals.length}\n\n${HELP}`);
    return EXIT.usage;
  }
  const root = await openRepository("cost", values.root, io);
  const name = positionals[0];
  let compiled = await compile(root);
  // One pipeline asked for: the definitions that fail are left out, with a warning, unless it is one of them.
  const broken = name === undefined ? [] : brokenDefinitions(compiled.problems);
  if (broken.length) {
    const again = await compile(root, undefined, { without: new Set(broken) });
    if (again.project.pipelines.some((p) => p.name === name) && !hasErrors(again.problems)) {
      const files = [...new Set(compiled.problems.filter((p) => p.severity === "error").map((p) => p.file))].sort();
      io.stderr(
        `dagops cost: warning: ${files.join(", ")} ${files.length === 1 ? "has" : "have"} errors (npm run check shows them); the cost below is of ${name}, without ${files.length === 1 ? "that definition" : "those definitions"}\n`,
      );
      compiled = again;
    }
  }
  if (hasErrors(compiled.problems) || !compiled.objects || !compiled.prices) {
    io.stderr(`${formatProblems(compiled.problems)}\n`);
    return EXIT.problems;
  }
  const known = compiled.project.pipelines.map((p) => p.name);
  if (name !== undefined && !known.includes(name)) {
    const hint = closest(name, known);
    io.stderr(
      `dagops cost: no pipeline named ${JSON.stringify(name)}${hint ? `; did you mean ${JSON.stringify(hint)}?` : ""} Known: ${known.join(", ")}\n`,
    );
    return EXIT.usage;
  }
  const prices = compiled.prices;
  const all: (PipelineCost & { snapshot: string; prices: string })[] = [];
  for (const cluster of compiled.project.clusters) {
    const objects = compiled.objects.filter((o) => o.cluster === cluster.name);
    const plans = new Map(
      objects.filter((o) => o.plan).map((o) => [(o.manifest as { metadata: { name: string } }).metadata.name, o.plan!]),
    );
    const data = prices.get(cluster.name)!;
    for (const c of clusterCosts(
      { cluster: cluster.name, manifests: objects.map((o) => o.manifest as never), plans },
      data,
    )) {
      if (name === undefined || c.pipeline === name)
        all.push({ ...c, snapshot: `${data.region} ${data.snapshot}`, prices: cluster.prices });
    }
  }
  if (values.json) {
    io.stdout(`${JSON.stringify(all, null, 2)}\n`);
    return EXIT.ok;
  }
  io.stdout(formatCosts(all));
  return EXIT.ok;
}

/** The definition files that have errors of their own (a tenants file's is its template's); none when the platform itself has one. */
export function brokenDefinitions(problems: readonly Problem[]): string[] {
  const errors = problems.filter((p) => p.severity === "error");
  // The platform's own errors, and two definitions of one name, are everyone's.
  if (errors.some((p) => !p.file.startsWith(`${PIPELINES_DIR}/`) || p.code === "DUPLICATE_PIPELINE")) return [];
  const stem = (f: string) => f.replace(/\.tenants\.ya?ml$/, "").replace(/\.(ts|ya?ml)$/, "");
  return [
    ...new Set(errors.flatMap((p) => [p.file, ...["ts", "yaml", "yml"].map((x) => `${stem(p.file)}.${x}`)])),
  ].sort();
}

/** One block per pipeline; clusters with the same result share it. */
export function formatCosts(all: readonly (PipelineCost & { snapshot: string; prices: string })[]): string {
  const groups = new Map<string, { clusters: string[]; c: (typeof all)[number] }>();
  for (const c of all) {
    const key = JSON.stringify({ ...c, cluster: "" });
    const g = getOrSet(groups, key, () => ({ clusters: [], c }));
    g.clusters.push(c.cluster);
  }
  const lines: string[] = [];
  const snapshots = [...new Set(all.map((c) => `${c.snapshot} (${c.prices})`))];
  lines.push(`dagops cost: prices from the ${snapshots.join(", ")} snapshot; USD`, "");
  for (const { clusters, c } of groups.values()) {
    const r = c.run;
    lines.push(`${c.pipeline} (${clusters.join(", ")})`);
    const note =
      r.estimated === "all"
        ? "from the steps' estimates"
        : r.estimated === "none"
          ? `no step has an estimate: each is assumed to take ${formatDuration(ASSUMED_STEP_SECONDS)}, so costs are per hour of step runtime`
          : `steps without an estimate are assumed to take ${formatDuration(ASSUMED_STEP_SECONDS)}`;
    lines.push(`  one run         ${formatDuration(r.seconds)} (${note})`);
    lines.push(
      `  step nodes      ${usd(r.nodes.pools)} on the pools vs ${usd(r.nodes.onDemand)} all on-demand: Spot saves ${pct(r.savingPct)}`,
    );
    lines.push(
      `  run manager     ${usd(r.runManager.usd)} (Fargate ${r.runManager.vcpu} vCPU / ${r.runManager.memoryGb} GB, the same either way)`,
    );
    lines.push(
      `  per run         ${usd(r.total.pools)} vs ${usd(r.total.onDemand)} on-demand: saves ${pct(r.totalSavingPct)}`,
    );
    lines.push(
      c.runsPerMonth === null
        ? "  per month       no schedule: runs only when started by hand"
        : `  per month       ${monthly(c.monthlyUsd!)} (${c.runsPerMonth.toFixed(1)} runs of ${c.schedule}; ${monthly(c.runsPerMonth * r.total.onDemand)} on-demand)`,
    );
    // One moment: the nodes up when the most were, per pool, which add up to the count.
    const peaks = Object.entries(r.peakAt)
      .sort(byKey)
      .map(
        ([pool, p]) => `${p.nodes} on ${pool}: ${p.cpuMillis / 1000} vCPU / ${Math.round(p.memoryBytes / 2 ** 30)} GiB`,
      );
    lines.push(
      `  peak            ${r.peakNodes} node${r.peakNodes === 1 ? "" : "s"} at once (${peaks.join("; ")}); requests use ${pct(r.utilisation.cpu * 100)} of node CPU, ${pct(r.utilisation.memory * 100)} of memory`,
    );
    lines.push(
      `  node-hours      ${r.nodeHours.map((h) => `${h.type} ${h.capacity} ${h.hours.toFixed(2)}${h.noSpotData ? " (no Spot data: priced on-demand)" : ""}`).join(", ")}`,
    );
    for (const m of c.spotDataMissing) {
      const families =
        m.families.length > 8
          ? `${m.families.slice(0, 8).join(", ")} and ${m.families.length - 8} more`
          : m.families.join(", ");
      lines.push(
        `  spot data       ${m.pool}: ${m.types} of its ${m.of} instance types have no Spot Advisor figure (${families}); they are priced at on-demand on Spot, never as if they saved`,
      );
    }
    lines.push("");
  }
  return `${lines.join("\n")}`;
}

runIfMain(import.meta, main);
