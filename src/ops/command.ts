/** What every verb of `dagops` shares: its context, its help layout, and the steps two verbs take alike. */
import { EXIT, plural, type Io } from "../cli/kit.ts";
import { runJob, runningHolder, whoami } from "./act.ts";
import type { Cluster } from "./cluster.ts";
import { findRun, orMissing, outcomeOf, viewOf, type Deployed, type RunView } from "./records.ts";
import { statusText } from "./view.ts";

export const COMMON = `Options for every command:
  --context <name>   kubeconfig context (default: the current one; KUBECONFIG or ~/.kube/config)
  --cluster <name>   the context of a cluster in platform.config.ts (kubeContext, default its name)
  --json             print the result as JSON
  -h, --help         show this help

Exit codes: 0 done; 1 the run failed, or the request was refused; 2 usage error, no access
(401, 403) or no API server.
`;

export const help = (usage: string, text: string, options = "") =>
  `Usage: dagops ${usage}\n\n${text}\n${options ? `\nOptions:\n${options}` : ""}\n${COMMON}`;

export const RUN_LOOKUP = "  -p, --pipeline <name>  the run's pipeline (default: found from the run's name)\n";

export interface Context {
  readonly io: Io;
  readonly cluster: Cluster;
  readonly values: Record<string, string | boolean | string[] | undefined>;
  readonly positionals: string[];
  readonly json: boolean;
  readonly now: () => number;
  readonly sleep: (ms: number) => Promise<void>;
  readonly pollMs: number;
  readonly stop: AbortSignal;
}

export interface Command {
  readonly help: string;
  readonly options: Record<string, { type: "string" | "boolean"; short?: string; multiple?: boolean }>;
  /** How many positionals: [min, max]. */
  readonly args: readonly [number, number];
  run(c: Context): Promise<number>;
}

export function usage(io: Io, name: string, message: string, helpText?: string): number {
  io.stderr(`dagops ${name}: ${message}\n${helpText ? `\n${helpText}` : ""}`);
  return EXIT.usage;
}

export function print(c: Context, value: unknown): number {
  c.io.stdout(`${JSON.stringify(value, null, 2)}\n`);
  return EXIT.ok;
}

export function summaryOf(v: RunView) {
  return {
    run: v.run,
    pipeline: v.pipeline,
    namespace: v.namespace,
    trigger: v.head?.trigger ?? null,
    rerunOf: v.head?.rerunOf ?? null,
    params: v.head?.params ?? {},
    startedAt: v.head?.startedAt ?? v.createdAt,
    finishedAt: v.head?.finishedAt ?? null,
    outcome: outcomeOf(v),
    failedSteps: v.head?.failedSteps ?? [],
    message: v.head?.message ?? null,
  };
}

export async function lookUp(c: Context): Promise<RunView | undefined> {
  const run = c.positionals[0]!;
  const view = await findRun(c.cluster, run, c.values.pipeline as string | undefined);
  if (!view)
    c.io.stderr(
      `dagops: no run ${run} (no record ${run}-record and no Job ${run}${c.values.pipeline ? ` in ${c.values.pipeline}'s namespace` : " in the namespace of any pipeline its name could belong to"}, context ${c.cluster.context}); list runs with: dagops runs <pipeline>\n`,
    );
  return view;
}

/** Creates the run Job after the concurrency check; with --wait, follows it to its end. */
export async function create(c: Context, d: Deployed, r: Omit<Parameters<typeof runJob>[1], "by">): Promise<number> {
  const policy = d.plan.concurrency ?? "forbid";
  const holder = policy === "allow" ? undefined : await runningHolder(c.cluster, d, c.now());
  if (holder && policy === "forbid") {
    c.io.stderr(
      `dagops: refused: run ${holder} of ${d.pipeline} is going on, and the pipeline's concurrency is forbid. Wait for it (dagops status ${holder}) or cancel it (dagops cancel ${holder})\n`,
    );
    return EXIT.problems;
  }
  const by = await whoami(c.cluster);
  const job = await c.cluster.createJob(d.namespace, runJob(d, { ...r, by }));
  const name = job.metadata!.name!;
  if (c.json && !c.values.wait)
    print(c, {
      run: name,
      pipeline: d.pipeline,
      namespace: d.namespace,
      params: r.params,
      ...(r.rerunOf ? { rerunOf: r.rerunOf, doneSteps: r.doneSteps ?? {} } : {}),
    });
  else if (!c.json) {
    const params = Object.entries(r.params)
      .map(([k, v]) => `${k}=${v}`)
      .join(" ");
    const done = Object.keys(r.doneSteps ?? {});
    c.io.stdout(
      `started run ${name} of ${d.pipeline}${params ? ` (${params})` : ""}${r.rerunOf ? `, a re-run of ${r.rerunOf}${done.length ? ` taking ${plural(done.length, "step")} as done: ${done.join(", ")}` : ""}` : ""}\n` +
        (holder ? `run ${holder} is going on and will be cancelled first (concurrency: replace)\n` : "") +
        (c.values.wait ? "" : `follow it: dagops status ${name}\n`),
    );
  }
  if (!c.values.wait) return EXIT.ok;
  const view = await waitForEnd(c, d.namespace, name, d.pipeline);
  if (c.json) print(c, { run: name, outcome: view ? outcomeOf(view) : "unknown" });
  else if (view) c.io.stdout(statusText(view, c.now()));
  return view && ["succeeded", "skipped"].includes(outcomeOf(view)) ? EXIT.ok : EXIT.problems;
}

export async function waitForEnd(
  c: Context,
  ns: string,
  run: string,
  pipeline: string,
  timeoutMs = Infinity,
): Promise<RunView | undefined> {
  const until = c.now() + timeoutMs;
  for (;;) {
    const record = await orMissing(c.cluster.getConfigMap(ns, `${run}-record`));
    const view = record ? viewOf(record, undefined, { pipeline, namespace: ns, run }) : undefined;
    if (view && outcomeOf(view) !== "running") return view;
    if (c.now() >= until || c.stop.aborted) return undefined;
    await c.sleep(c.pollMs);
  }
}

export const show = (params: Readonly<Record<string, string>>) =>
  Object.entries(params)
    .map(([k, v]) => `${k}=${v}`)
    .join(" ");
