/**
 * `dagops`: the operator's command. Start, watch, explain, re-run, cancel and backfill runs with
 * nothing but a kubeconfig. Reads run records (`<run>-record`) and the run Jobs; writes run Jobs
 * (from the pipeline's CronJob) and cancel requests. Exit codes: 0 done; 1 the run asked about
 * failed, or the request was refused; 2 usage, no access, or no API server.
 */
import { closest } from "../model/problems.ts";
import { combinations, parseParamArgs } from "../model/params.ts";
import { recordSelector, RUN_ANNOTATION, type RunHead } from "../model/record.ts";
import { LABEL, ROLE } from "../model/labels.ts";
import { finishedCondition } from "../model/status.ts";
import { formatUsd } from "../cost/estimate.ts";
import { EXIT, parseCommand, plural, runIfMain, type Io } from "../cli/kit.ts";
import { backfillRunName, cancelAnnotation, checkParams, manualRunName, runJob, runningHolder, whoami } from "./act.ts";
import { ConfigError, explain, loadCluster, OpsError, type Cluster } from "./cluster.ts";
import { deployed, findRun, listRuns, NotDeployed, orMissing, outcomeOf, viewOf, type Deployed, type RunView } from "./records.ts";
import { runsTable, statusText, table, duration } from "./view.ts";

const COMMON = `Options for every command:
  --context <name>   kubeconfig context (default: the current one; KUBECONFIG or ~/.kube/config)
  --cluster <name>   the context of a cluster in platform.config.ts (kubeContext, default its name)
  --json             print the result as JSON
  -h, --help         show this help

Exit codes: 0 done; 1 the run failed, or the request was refused; 2 usage error, no access
(401, 403) or no API server.
`;

const TOP = `Usage: dagops <command> [options]   (npx dagops …, or npm run dagops -- …)

Operate pipeline runs in a cluster:
  runs [<pipeline>] [--limit N]        recent runs: trigger, start, duration, outcome, failed step
  status <run>                         per step: attempts, capacity, instance, duration, reason; a timeline
  logs <run> [--step S] [--attempt N] [-f]
                                       a step's log from its pod, or the tail its record kept
  start <pipeline> [--param k=v]… [--reason text] [--wait]
                                       a new run now, from the pipeline's CronJob
  rerun <run> [--from-failure] [--current-plan] [--wait]
                                       the same plan again; --from-failure skips what succeeded
  cancel <run> [--reason text]         stop a run: running steps are deleted, the record says cancelled
  backfill <pipeline> --param date=2026-11-01..2026-11-30 [--max-concurrent N] [--dry-run]
                                       one run per value, resumable, with a summary

Make this repository your own (no cluster needed):
  init --cluster <name>[=<eks>]… --account <id> --repo <url> --subnets <ids>
                                       remove the examples, write platform.config.ts, synth
  upgrade <git-ref>                    take a newer dagops: its own files become the ref's

Run \`dagops <command> --help\` for a command's options.

${COMMON}`;

const help = (usage: string, text: string, options = "") => `Usage: dagops ${usage}\n\n${text}\n${options ? `\nOptions:\n${options}` : ""}\n${COMMON}`;

const RUN_LOOKUP = "  -p, --pipeline <name>  the run's pipeline (default: found from the run's name)\n";

interface Context {
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

interface Command {
  readonly help: string;
  readonly options: Record<string, { type: "string" | "boolean"; short?: string; multiple?: boolean }>;
  /** How many positionals: [min, max]. */
  readonly args: readonly [number, number];
  run(c: Context): Promise<number>;
}

export interface OpsOptions {
  readonly now?: () => number;
  /** Between polls of records while waiting (default 2 s); tests shorten it. */
  readonly pollMs?: number;
  /** Aborted on SIGINT: a backfill stops creating runs and prints where it got to. */
  readonly stop?: AbortSignal;
}

const COMMANDS: Record<string, Command> = {
  runs: {
    help: help("runs [<pipeline>] [--limit N]", "Recent runs, newest first, from the run records (which outlive the runs) and the run Jobs\nthat have no record yet. Without a pipeline, every pipeline's (needs list in all namespaces).", "  --limit <N>    at most N runs (default 20)\n"),
    options: { limit: { type: "string" } },
    args: [0, 1],
    async run(c) {
      const limit = c.values.limit === undefined ? 20 : Number(c.values.limit);
      if (!Number.isInteger(limit) || limit < 1) return usage(c.io, "runs", `--limit expects a positive whole number, found ${JSON.stringify(c.values.limit)}`);
      const pipeline = c.positionals[0];
      let views: RunView[];
      try {
        views = (await listRuns(c.cluster, pipeline)).slice(0, limit);
      } catch (err) {
        if (pipeline === undefined && err instanceof OpsError && err.status === 403) {
          c.io.stderr(`dagops runs: listing runs in every namespace is forbidden (403): name a pipeline, as in dagops runs <pipeline>\n`);
          return EXIT.usage;
        }
        throw err;
      }
      if (c.json) return print(c, views.map(summaryOf));
      if (!views.length) {
        c.io.stdout(`No runs${pipeline ? ` of ${pipeline}` : ""} (context ${c.cluster.context}).\n`);
        return EXIT.ok;
      }
      c.io.stdout(runsTable(views, c.now(), pipeline === undefined));
      return EXIT.ok;
    },
  },
  status: {
    help: help("status <run> [-p <pipeline>]", "One run: its trigger, parameters and outcome; per step the attempts, capacity asked for and\ngot (spot, on-demand), instance type, duration, outcome and reason; and a timeline of the steps.\nExits 1 when the run failed, timed out or was cancelled.", RUN_LOOKUP),
    options: { pipeline: { type: "string", short: "p" } },
    args: [1, 1],
    async run(c) {
      const view = await lookUp(c);
      if (!view) return EXIT.problems;
      if (c.json) print(c, { ...summaryOf(view), record: view.head ?? null, steps: view.steps });
      else c.io.stdout(statusText(view, c.now()));
      return ["failed", "timed-out", "cancelled"].includes(outcomeOf(view)) ? EXIT.problems : EXIT.ok;
    },
  },
  logs: {
    help: help(
      "logs <run> [--step S] [--attempt N] [-f]",
      "A step's log: from its pod while the pod exists (-f follows it), otherwise the last lines its\nrun record kept and where the full log went (CloudWatch Logs). Without --step: the failed step.",
      `${RUN_LOOKUP}  --step <name>     the step (default: the failed one)\n  --attempt <N>     the attempt (default: the last)\n  -f, --follow      follow the log while the step runs\n  --tail <N>        only the last N lines of a pod's log\n`,
    ),
    options: { pipeline: { type: "string", short: "p" }, step: { type: "string" }, attempt: { type: "string" }, follow: { type: "boolean", short: "f" }, tail: { type: "string" } },
    args: [1, 1],
    run: logs,
  },
  start: {
    help: help(
      "start <pipeline> [--param k=v]… [--reason text] [--wait]",
      "A new run now, created from the pipeline's CronJob (what kubectl create job --from=cronjob/…\ndoes), labelled as manual with who started it and why. Parameters are checked against the\npipeline's params before anything is created. A pipeline with concurrency forbid refuses a\nsecond run while one is going on (exit 1); replace cancels the older run.",
      "  --param <k=v>     a parameter value (repeatable)\n  --reason <text>   why, kept in the run record\n  --wait            wait for the run to end; exit 1 if it did not succeed\n",
    ),
    options: { param: { type: "string", multiple: true }, reason: { type: "string" }, wait: { type: "boolean" } },
    args: [1, 1],
    run: start,
  },
  rerun: {
    help: help(
      "rerun <run> [--from-failure] [--current-plan] [--wait]",
      "A new run of the plan revision <run> ran, with its parameters. --from-failure takes the steps that\nsucceeded in <run> as done (their data stays where <run> wrote it) and runs only the failed and\nnever-started ones. If that revision is gone (the pipeline changed since), it says so;\n--current-plan then runs the current plan in full with the same parameters.",
      `${RUN_LOOKUP}  --from-failure    run only the steps that did not succeed\n  --current-plan    run the current plan when <run>'s revision is gone\n  --reason <text>   why, kept in the run record\n  --wait            wait for the run to end; exit 1 if it did not succeed\n`,
    ),
    options: { pipeline: { type: "string", short: "p" }, "from-failure": { type: "boolean" }, "current-plan": { type: "boolean" }, reason: { type: "string" }, wait: { type: "boolean" } },
    args: [1, 1],
    run: rerun,
  },
  cancel: {
    help: help("cancel <run> [--reason text]", "Stops a run: its run manager deletes the running steps (with their pods), records the run as\ncancelled and ends. Waits until the record says so.", `${RUN_LOOKUP}  --reason <text>        why, kept in the run record\n  --wait-seconds <N>     how long to wait for the run manager (default 60; 0: do not wait)\n`),
    options: { pipeline: { type: "string", short: "p" }, reason: { type: "string" }, "wait-seconds": { type: "string" } },
    args: [1, 1],
    run: cancel,
  },
  backfill: {
    help: help(
      "backfill <pipeline> --param date=2026-11-01..2026-11-30 [--max-concurrent N] [--dry-run]",
      "One run per parameter value (a range A..B of dates or integers, or a list a,b,c; several --param\ngive every combination), at most N at once, then a summary. Resumable: each run's name comes\nfrom its values, so runs that exist already are not created again (a skipped one is). A\npipeline with concurrency forbid or replace runs one at a time whatever N says.\n--dry-run prints the runs and their modelled cost (npm run cost) and starts nothing.",
      "  --param <k=v>          values to run (repeatable)\n  --max-concurrent <N>   runs at once (default 1; only with concurrency allow)\n  --dry-run              print the runs and the cost; start nothing\n  --reason <text>        why, kept in each run record\n",
    ),
    options: { param: { type: "string", multiple: true }, "max-concurrent": { type: "string" }, "dry-run": { type: "boolean" }, reason: { type: "string" } },
    args: [1, 1],
    run: backfill,
  },
};

export async function main(argv: string[], io: Io, options: OpsOptions = {}): Promise<number> {
  const [name, ...rest] = argv;
  if (name === "--help" || name === "-h" || name === "help") {
    io.stdout(TOP);
    return EXIT.ok;
  }
  if (name === undefined) {
    io.stderr(TOP);
    return EXIT.usage;
  }
  // The one verb that works on the repository, not a cluster.
  if (name === "init") return (await import("../scripts/init.ts")).main(rest, io);
  if (name === "upgrade") return (await import("../scripts/upgrade.ts")).main(rest, io);
  const command = COMMANDS[name];
  if (!command) {
    const hint = closest(name, Object.keys(COMMANDS));
    io.stderr(`dagops: no command ${JSON.stringify(name)}${hint ? `; did you mean ${hint}?` : ""}\n\n${TOP}`);
    return EXIT.usage;
  }
  const parsed = parseCommand(name, rest, io, { context: { type: "string" }, cluster: { type: "string" }, json: { type: "boolean" }, ...command.options }, command.help, true);
  if ("exit" in parsed) return parsed.exit;
  const { values, positionals } = parsed;
  const [min, max] = command.args;
  if (positionals.length < min || positionals.length > max) {
    return usage(io, name, positionals.length < min ? `missing ${min === 1 && max === 1 ? "an argument" : "arguments"}` : `unexpected ${positionals.slice(max).join(" ")}`, command.help);
  }
  let cluster: Cluster;
  try {
    cluster = await loadCluster(io.env, io.cwd, { ...(values.context ? { context: values.context as string } : {}), ...(values.cluster ? { cluster: values.cluster as string } : {}) });
  } catch (err) {
    if (!(err instanceof ConfigError)) throw err;
    io.stderr(`dagops ${name}: ${err.message}\n`);
    return EXIT.usage;
  }
  const context: Context = {
    io,
    cluster,
    values: values as Context["values"],
    positionals,
    json: values.json === true,
    now: options.now ?? Date.now,
    sleep: (ms) => new Promise((r) => setTimeout(r, ms)),
    pollMs: options.pollMs ?? 2000,
    stop: options.stop ?? new AbortController().signal,
  };
  try {
    return await command.run(context);
  } catch (err) {
    if (err instanceof NotDeployed) {
      io.stderr(`dagops ${name}: ${err.message}\n`);
      return EXIT.problems;
    }
    if (!(err instanceof OpsError)) throw err;
    io.stderr(`dagops ${name}: ${explain(err, cluster)}\n`);
    return err.status === 404 ? EXIT.problems : EXIT.usage;
  }
}

function usage(io: Io, name: string, message: string, helpText?: string): number {
  io.stderr(`dagops ${name}: ${message}\n${helpText ? `\n${helpText}` : ""}`);
  return EXIT.usage;
}

function print(c: Context, value: unknown): number {
  c.io.stdout(`${JSON.stringify(value, null, 2)}\n`);
  return EXIT.ok;
}

function summaryOf(v: RunView) {
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

async function lookUp(c: Context): Promise<RunView | undefined> {
  const run = c.positionals[0]!;
  const view = await findRun(c.cluster, run, c.values.pipeline as string | undefined);
  if (!view) c.io.stderr(`dagops: no run ${run} (no record ${run}-record and no Job ${run}${c.values.pipeline ? ` in ${c.values.pipeline}'s namespace` : " in the namespace of any pipeline its name could belong to"}, context ${c.cluster.context}); list runs with: dagops runs <pipeline>\n`);
  return view;
}

// --- logs

async function logs(c: Context): Promise<number> {
  const view = await lookUp(c);
  if (!view) return EXIT.problems;
  const names = view.steps.map((s) => s.step);
  let stepName = c.values.step as string | undefined;
  if (stepName === undefined) {
    const failed = view.head?.failedSteps ?? [];
    stepName = failed[0] ?? (names.length === 1 ? names[0] : undefined);
    if (stepName === undefined) return usage(c.io, "logs", `${view.run} has no failed step; name one with --step (steps: ${names.join(", ") || "none recorded yet"})`);
  }
  const step = view.steps.find((s) => s.step === stepName);
  if (!step) {
    const hint = closest(stepName, names);
    return usage(c.io, "logs", `run ${view.run} has no step ${JSON.stringify(stepName)} in its record${hint ? `; did you mean ${hint}?` : ""} (steps: ${names.join(", ") || "none recorded yet"})`);
  }
  const n = c.values.attempt === undefined ? undefined : Number(c.values.attempt);
  const attempt = n === undefined ? step.attempts.at(-1) : step.attempts.find((a) => a.attempt === n);
  if (!attempt) return usage(c.io, "logs", `step ${step.step} of ${view.run} has no attempt ${c.values.attempt}; it has ${step.attempts.map((a) => a.attempt).join(", ") || "none"}`);
  if (attempt.from) {
    c.io.stderr(`dagops logs: step ${step.step} was taken as done from run ${attempt.from}: dagops logs ${attempt.from} --step ${step.step}\n`);
    return EXIT.problems;
  }
  const tail = c.values.tail === undefined ? undefined : Number(c.values.tail);
  const pods = await c.cluster.listPods(view.namespace, `batch.kubernetes.io/job-name=${attempt.job}`);
  const pod = pods[0];
  const where = `step ${step.step}, attempt ${attempt.attempt} of run ${view.run}`;
  if (pod?.metadata?.name && !c.json) {
    c.io.stderr(`# ${where}: pod ${pod.metadata.name}\n`);
    try {
      await c.cluster.podLog(view.namespace, pod.metadata.name, pod.spec?.containers?.[0]?.name ?? step.step, (t) => c.io.stdout(t), { follow: c.values.follow === true, ...(tail !== undefined ? { tailLines: tail } : {}) });
      return EXIT.ok;
    } catch (err) {
      // A container that never started has no log (400); fall back to the record.
      if (!(err instanceof OpsError) || ![400, 404].includes(err.status ?? 0)) throw err;
    }
  }
  const places = view.head?.logs.steps;
  const full = places ? `CloudWatch Logs group ${places.logGroup}, streams ${places.streams.replace("<step>", step.step)}` : "nowhere beyond the pod (the cluster routes no step logs)";
  if (c.json) return print(c, { run: view.run, step: step.step, attempt: attempt.attempt, source: pod ? "pod" : "record", text: attempt.message ?? null, fullLog: places ?? null });
  c.io.stderr(`# ${where}: its pod is gone (pods go with their Job); the run record keeps ${attempt.message ? "its last lines" : "no lines of it"}. Full log: ${full}\n`);
  if (attempt.message) c.io.stdout(attempt.message.endsWith("\n") ? attempt.message : `${attempt.message}\n`);
  return EXIT.ok;
}

// --- start, rerun, cancel

async function start(c: Context): Promise<number> {
  const d = await deployed(c.cluster, c.positionals[0]!);
  const parsed = parseParamArgs((c.values.param as string[] | undefined) ?? [], d.plan.params ?? {});
  const many = Object.entries(parsed.values).filter(([, v]) => v.length > 1);
  if (many.length) parsed.errors.push(`start runs one value per parameter; ${many.map(([k]) => k).join(", ")} has several: use dagops backfill`);
  const given = Object.fromEntries(Object.entries(parsed.values).map(([k, v]) => [k, v[0]!]));
  const errors = parsed.errors.length ? parsed.errors : checkParams(d, given, new Date(c.now()));
  if (errors.length) return usage(c.io, "start", `${d.pipeline}: ${errors.join("; ")}`);
  return create(c, d, { name: manualRunName(d.pipeline, "m", new Date(c.now())), params: given, ...(c.values.reason ? { reason: c.values.reason as string } : {}) });
}

async function rerun(c: Context): Promise<number> {
  const view = await lookUp(c);
  if (!view) return EXIT.problems;
  const head = view.head;
  if (!head) {
    c.io.stderr(`dagops rerun: run ${view.run} has no record yet (it is starting); nothing to re-run\n`);
    return EXIT.problems;
  }
  const d = await deployed(c.cluster, view.pipeline);
  const fromFailure = c.values["from-failure"] === true;
  let planRevision = d.planRevision;
  if (head.planRevision && head.planRevision !== d.planRevision) {
    const old = await orMissing(c.cluster.getConfigMap(d.namespace, head.planRevision));
    if (old) planRevision = head.planRevision;
    else if (c.values["current-plan"] !== true) {
      c.io.stderr(
        `dagops rerun: run ${view.run} ran plan revision ${head.planRevision}, which is gone: the pipeline changed since (now ${d.planRevision}) and Argo CD pruned the old plan. ` +
          `The same plan cannot run again. To run the current plan in full with the same parameters: dagops rerun ${view.run} --current-plan\n`,
      );
      return EXIT.problems;
    } else if (fromFailure) {
      return usage(c.io, "rerun", `--from-failure needs ${view.run}'s own plan revision (${head.planRevision}), which is gone: the current plan may change what the succeeded steps produce. Run it in full: dagops rerun ${view.run} --current-plan`);
    }
  }
  let doneSteps: Record<string, string> = {};
  if (fromFailure) {
    if (head.outcome === "running") return usage(c.io, "rerun", `run ${view.run} is still running; --from-failure needs a finished run (or cancel it first: dagops cancel ${view.run})`);
    if (head.outcome === "succeeded") {
      c.io.stderr(`dagops rerun: every step of ${view.run} succeeded; a --from-failure re-run would run nothing. Re-run it in full: dagops rerun ${view.run}\n`);
      return EXIT.problems;
    }
    doneSteps = Object.fromEntries(view.steps.flatMap((s) => {
      const last = s.attempts.at(-1);
      return last?.outcome === "succeeded" ? [[s.step, last.from ?? view.run]] : [];
    }));
  }
  const name = manualRunName(d.pipeline, "r", new Date(c.now()));
  const code = await create(c, d, { name, params: head.params, rerunOf: view.run, doneSteps, ...(planRevision !== d.planRevision ? { planRevision } : {}), ...(c.values.reason ? { reason: c.values.reason as string } : {}) });
  // The old record names its re-runs, so either run leads to the other.
  if (code === EXIT.ok || c.values.wait) {
    const record = await orMissing(c.cluster.getConfigMap(view.namespace, `${view.run}-record`));
    const before = record?.metadata?.annotations?.["dagops.dev/reruns"];
    await c.cluster.annotate(view.namespace, "configmap", `${view.run}-record`, { "dagops.dev/reruns": before ? `${before},${name}` : name }).catch(() => undefined);
  }
  return code;
}

/** Creates the run Job after the concurrency check; with --wait, follows it to its end. */
async function create(c: Context, d: Deployed, r: Omit<Parameters<typeof runJob>[1], "by">): Promise<number> {
  const policy = d.plan.concurrency ?? "forbid";
  const holder = policy === "allow" ? undefined : await runningHolder(c.cluster, d, c.now());
  if (holder && policy === "forbid") {
    c.io.stderr(`dagops: refused: run ${holder} of ${d.pipeline} is going on, and the pipeline's concurrency is forbid. Wait for it (dagops status ${holder}) or cancel it (dagops cancel ${holder})\n`);
    return EXIT.problems;
  }
  const by = await whoami(c.cluster);
  const job = await c.cluster.createJob(d.namespace, runJob(d, { ...r, by }));
  const name = job.metadata!.name!;
  if (c.json && !c.values.wait) print(c, { run: name, pipeline: d.pipeline, namespace: d.namespace, params: r.params, ...(r.rerunOf ? { rerunOf: r.rerunOf, doneSteps: r.doneSteps ?? {} } : {}) });
  else if (!c.json) {
    const params = Object.entries(r.params).map(([k, v]) => `${k}=${v}`).join(" ");
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

async function waitForEnd(c: Context, ns: string, run: string, pipeline: string, timeoutMs = Infinity): Promise<RunView | undefined> {
  const until = c.now() + timeoutMs;
  for (;;) {
    const record = await orMissing(c.cluster.getConfigMap(ns, `${run}-record`));
    const view = record ? viewOf(record, undefined, { pipeline, namespace: ns, run }) : undefined;
    if (view && outcomeOf(view) !== "running") return view;
    if (c.now() >= until || c.stop.aborted) return undefined;
    await c.sleep(c.pollMs);
  }
}

async function cancel(c: Context): Promise<number> {
  const view = await lookUp(c);
  if (!view) return EXIT.problems;
  const outcome = outcomeOf(view);
  if (!view.job || (outcome !== "running" && outcome !== "starting")) {
    c.io.stderr(`dagops cancel: run ${view.run} is not running: ${view.head ? `it ended ${outcome}` : "its Job is gone"}\n`);
    return EXIT.problems;
  }
  const by = await whoami(c.cluster);
  const reason = (c.values.reason as string | undefined) ?? "";
  await c.cluster.annotate(view.namespace, "job", view.run, cancelAnnotation({ by, reason, at: new Date(c.now()).toISOString() }));
  const waitSeconds = c.values["wait-seconds"] === undefined ? 60 : Number(c.values["wait-seconds"]);
  if (!Number.isFinite(waitSeconds) || waitSeconds < 0) return usage(c.io, "cancel", `--wait-seconds expects a number of seconds, found ${JSON.stringify(c.values["wait-seconds"])}`);
  if (waitSeconds === 0) {
    c.io.stdout(`asked run ${view.run} to cancel\n`);
    return EXIT.ok;
  }
  const ended = await waitForEnd(c, view.namespace, view.run, view.pipeline, waitSeconds * 1000);
  if (!ended) {
    c.io.stderr(`dagops cancel: asked run ${view.run} to cancel, but its run manager has not confirmed within ${waitSeconds}s. Is its pod running? kubectl -n ${view.namespace} get pods -l job-name=${view.run}\n`);
    return EXIT.problems;
  }
  if (c.json) return print(c, { run: view.run, outcome: outcomeOf(ended), message: ended.head?.message ?? null });
  c.io.stdout(`run ${view.run} ${outcomeOf(ended)}${ended.head?.message ? `: ${ended.head.message}` : ""}\n`);
  return outcomeOf(ended) === "cancelled" ? EXIT.ok : EXIT.problems;
}

// --- backfill

async function backfill(c: Context): Promise<number> {
  const d = await deployed(c.cluster, c.positionals[0]!);
  const args = (c.values.param as string[] | undefined) ?? [];
  if (!args.length) return usage(c.io, "backfill", "give the values to run with --param, such as --param date=2026-11-01..2026-11-30", COMMANDS.backfill!.help);
  const parsed = parseParamArgs(args, d.plan.params ?? {});
  const max = c.values["max-concurrent"] === undefined ? 1 : Number(c.values["max-concurrent"]);
  if (!Number.isInteger(max) || max < 1) parsed.errors.push(`--max-concurrent expects a positive whole number, found ${JSON.stringify(c.values["max-concurrent"])}`);
  const combos = parsed.errors.length ? [] : combinations(parsed.values);
  const errors = [...parsed.errors, ...combos.flatMap((combo) => checkParams(d, combo, new Date(c.now())).map((e) => `${show(combo)}: ${e}`))];
  if (errors.length) return usage(c.io, "backfill", `${d.pipeline}: ${[...new Set(errors)].slice(0, 10).join("; ")}`);
  const runs = combos.map((params) => ({ name: backfillRunName(d.pipeline, params), params }));
  const id = backfillRunName(d.pipeline, { args: args.join(" ") }).replace(`${d.pipeline}-b`, "");
  const policy = d.plan.concurrency ?? "forbid";
  const limit = policy === "allow" ? max : 1;

  const state = new Map<string, { outcome: string; head?: RunHead; jobActive?: boolean }>();
  const look = async () => {
    const [records, jobs] = await Promise.all([c.cluster.listConfigMaps(d.namespace, recordSelector(d.pipeline)), c.cluster.listJobs(d.namespace, `${LABEL.role}=${ROLE.runManager},${LABEL.pipeline}=${d.pipeline}`)]);
    const recordOf = new Map(records.map((r) => [r.metadata?.labels?.[LABEL.run] ?? "", r]));
    const jobOf = new Map(jobs.map((j) => [j.metadata?.name ?? "", j]));
    for (const r of runs) {
      const record = recordOf.get(r.name);
      const job = jobOf.get(r.name);
      if (!record && !job) state.delete(r.name);
      else {
        const view = viewOf(record, job, { pipeline: d.pipeline, namespace: d.namespace, run: r.name });
        const jobActive = job !== undefined && !finishedCondition(job);
        state.set(r.name, { outcome: outcomeOf(view), ...(view.head ? { head: view.head } : {}), jobActive });
      }
    }
  };
  await look();

  if (c.values["dry-run"]) {
    const fresh = runs.filter((r) => !state.has(r.name) || state.get(r.name)!.outcome === "skipped");
    const cost = await modelledCost(c.io.cwd, d);
    const perRun = typeof cost === "number" ? formatUsd(cost, "run") : "-";
    if (c.json) return print(c, { pipeline: d.pipeline, runs: runs.map((r) => ({ run: r.name, params: r.params, exists: state.get(r.name)?.outcome ?? null })), create: fresh.length, concurrent: limit, costPerRunUsd: typeof cost === "number" ? cost : null, costUsd: typeof cost === "number" ? cost * fresh.length : null, costNote: typeof cost === "number" ? null : cost });
    c.io.stdout(table(["RUN", "PARAMS", "STATUS", "COST"], runs.map((r) => [r.name, show(r.params), state.has(r.name) && state.get(r.name)!.outcome !== "skipped" ? `exists: ${state.get(r.name)!.outcome}` : "would start", state.has(r.name) && state.get(r.name)!.outcome !== "skipped" ? "-" : perRun])));
    c.io.stdout(
      `\nDry run: ${plural(fresh.length, "run")} to start, ${runs.length - fresh.length} already exist; ${limit} at a time${limit < max ? ` (concurrency ${policy}: one at a time)` : ""}.\n` +
        (typeof cost === "number" ? `Modelled cost: ${fresh.length} × ${perRun} = ${formatUsd(cost * fresh.length, "run")} (npm run cost, cluster ${clusterOf(d)}; step estimates, Spot prices of the snapshot).\n` : `Modelled cost: unavailable (${cost}).\n`) +
        "Nothing was started.\n",
    );
    return EXIT.ok;
  }
  if (limit < max && !c.json) c.io.stderr(`dagops backfill: ${d.pipeline} has concurrency ${policy}: runs go one at a time (--max-concurrent ${max} needs concurrency allow)\n`);
  const by = await whoami(c.cluster);
  const reason = (c.values.reason as string | undefined) ?? `backfill ${args.join(" ")}`;
  const recreated = new Set<string>();
  for (;;) {
    // Active until its record is final and its Job has ended: the bound holds for pods too.
    const active = runs.filter((r) => ["running", "starting"].includes(state.get(r.name)?.outcome ?? "") || state.get(r.name)?.jobActive).length;
    let room = limit - active;
    for (const r of runs) {
      if (room <= 0 || c.stop.aborted) break;
      const s = state.get(r.name);
      if (s && s.outcome !== "skipped") continue;
      if (s?.outcome === "skipped") {
        // Another run held the pipeline when this one started: clear it, and start it again.
        if (recreated.has(r.name)) continue;
        recreated.add(r.name);
        await orMissing(c.cluster.deleteJob(d.namespace, r.name));
        await orMissing(c.cluster.deleteConfigMap(d.namespace, `${r.name}-record`));
        state.delete(r.name);
        continue;
      }
      if (policy !== "allow" && (await runningHolder(c.cluster, d, c.now()))) break;
      const job = await c.cluster.createJob(d.namespace, runJob(d, { name: r.name, params: r.params, by, reason, backfill: id })).catch((err: unknown) => {
        if (err instanceof OpsError && err.status === 409) return undefined; // its Job is still being deleted: next round
        throw err;
      });
      if (!job) continue;
      state.set(r.name, { outcome: "starting" });
      room -= 1;
      if (!c.json) c.io.stderr(`started ${r.name} (${show(r.params)})\n`);
    }
    const open = runs.filter((r) => !state.has(r.name) || ["running", "starting", "skipped"].includes(state.get(r.name)!.outcome) || state.get(r.name)!.jobActive);
    if (!open.length || c.stop.aborted) break;
    await c.sleep(c.pollMs);
    await look();
  }
  await look();
  const rows = runs.map((r) => {
    const s = state.get(r.name);
    return { run: r.name, params: s?.head?.params ?? r.params, outcome: s?.outcome ?? "not started", duration: s?.head ? duration(s.head.startedAt, s.head.finishedAt, c.now()) : "-" };
  });
  const succeeded = rows.filter((r) => r.outcome === "succeeded").length;
  if (c.json) print(c, { pipeline: d.pipeline, backfill: id, interrupted: c.stop.aborted, runs: rows });
  else {
    c.io.stdout(table(["RUN", "PARAMS", "OUTCOME", "DURATION"], rows.map((r) => [r.run, show(r.params), r.outcome, r.duration])));
    c.io.stdout(`\n${succeeded} of ${plural(rows.length, "run")} succeeded${c.stop.aborted ? "; interrupted: run the same command again to carry on (existing runs are not started again)" : ""}.\n`);
  }
  return succeeded === rows.length ? EXIT.ok : EXIT.problems;
}

const show = (params: Readonly<Record<string, string>>) => Object.entries(params).map(([k, v]) => `${k}=${v}`).join(" ");

function clusterOf(d: Deployed): string | undefined {
  return d.cronJob.spec?.jobTemplate?.spec?.template?.spec?.containers?.[0]?.env?.find((e) => e.name === "DAGOPS_CLUSTER")?.value;
}

/** The cost of one run as `npm run cost` models it for the run's cluster, or why there is none (the cost command itself, in this process). */
async function modelledCost(cwd: string, d: Deployed): Promise<number | string> {
  const { main: cost } = await import("../scripts/cost.ts");
  const out: string[] = [];
  const err: string[] = [];
  const code = await cost([d.pipeline, "--json", "--root", cwd], { cwd, env: {}, stdout: (t) => void out.push(t), stderr: (t) => void err.push(t) });
  if (code !== 0) return `npm run cost failed in ${cwd}: ${(err.join("") || out.join("")).trim().split("\n")[0] ?? ""}`;
  try {
    const costs = JSON.parse(out.join("")) as { cluster: string; run: { total: { pools: number } } }[];
    const cluster = clusterOf(d);
    const mine = costs.find((x) => x.cluster === cluster) ?? costs[0];
    return mine ? mine.run.total.pools : `npm run cost knows no cluster ${cluster}`;
  } catch (err) {
    return `npm run cost printed no JSON: ${(err as Error).message}`;
  }
}

/** The process entry: SIGINT stops a backfill between runs (the runs go on in the cluster). */
export async function processMain(argv: string[], io: Io): Promise<number> {
  const stop = new AbortController();
  process.once("SIGINT", () => stop.abort());
  return main(argv, io, { stop: stop.signal });
}

runIfMain(import.meta, processMain);
