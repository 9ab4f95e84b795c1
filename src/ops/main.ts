/**
 * `dagops`: the operator's command. Start, watch, explain, re-run, cancel and backfill runs with
 * nothing but a kubeconfig. Reads run records (`<run>-record`) and the run Jobs; writes run Jobs
 * (from the pipeline's CronJob) and cancel requests. Exit codes: 0 done; 1 the run asked about
 * failed, or the request was refused; 2 usage, no access, or no API server.
 */
import { closest } from "../contract/problems.ts";
import { EXIT, parseCommand, runIfMain, type Io } from "../cli/kit.ts";
import { KubeConfigError, KubeError } from "../kube/errors.ts";
import { explain, loadCluster, type Cluster } from "./cluster.ts";
import { NotDeployed } from "./records.ts";
import { COMMON, usage, type Command, type Context } from "./command.ts";
import { runs } from "./commands/runs.ts";
import { status } from "./commands/status.ts";
import { logs } from "./commands/logs.ts";
import { start } from "./commands/start.ts";
import { rerun } from "./commands/rerun.ts";
import { cancel } from "./commands/cancel.ts";
import { backfill } from "./commands/backfill.ts";

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

/** The verbs that work on a cluster, one file each under commands/. */
const COMMANDS: Readonly<Record<string, Command>> = { runs, status, logs, start, rerun, cancel, backfill };

export interface OpsOptions {
  readonly now?: () => number;
  /** Between polls of records while waiting (default 2 s); tests shorten it. */
  readonly pollMs?: number;
  /** Aborted on SIGINT: a backfill stops creating runs and prints where it got to. */
  readonly stop?: AbortSignal;
}

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
  if (name === "init") return (await import("../commands/init.ts")).main(rest, io);
  if (name === "upgrade") return (await import("../commands/upgrade.ts")).main(rest, io);
  const command = COMMANDS[name];
  if (!command) {
    const hint = closest(name, Object.keys(COMMANDS));
    io.stderr(`dagops: no command ${JSON.stringify(name)}${hint ? `; did you mean ${hint}?` : ""}\n\n${TOP}`);
    return EXIT.usage;
  }
  const parsed = parseCommand(
    name,
    rest,
    io,
    { context: { type: "string" }, cluster: { type: "string" }, json: { type: "boolean" }, ...command.options },
    command.help,
    true,
  );
  if (parsed.kind === "exit") return parsed.exit;
  const { values, positionals } = parsed;
  const [min, max] = command.args;
  if (positionals.length < min || positionals.length > max) {
    return usage(
      io,
      name,
      positionals.length < min
        ? `missing ${min === 1 && max === 1 ? "an argument" : "arguments"}`
        : `unexpected ${positionals.slice(max).join(" ")}`,
      command.help,
    );
  }
  let cluster: Cluster;
  try {
    cluster = await loadCluster(io.env, io.cwd, {
      ...(values.context ? { context: values.context as string } : {}),
      ...(values.cluster ? { cluster: values.cluster as string } : {}),
    });
  } catch (err) {
    if (!(err instanceof KubeConfigError)) throw err;
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
    if (!(err instanceof KubeError)) throw err;
    io.stderr(`dagops ${name}: ${explain(err, cluster)}\n`);
    return err.status === 404 ? EXIT.problems : EXIT.usage;
  }
}

/** The process entry: SIGINT stops a backfill between runs (the runs go on in the cluster). */
export async function processMain(argv: string[], io: Io): Promise<number> {
  const stop = new AbortController();
  process.once("SIGINT", () => stop.abort());
  return main(argv, io, { stop: stop.signal });
}

runIfMain(import.meta, processMain);
