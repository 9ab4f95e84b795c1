/** `dagops backfill`. */
import { EXIT, plural } from "../../cli/kit.ts";
import { combinations, parseParamArgs } from "../../contract/params.ts";
import { recordSelector, type RunHead } from "../../contract/record.ts";
import { LABEL, ROLE } from "../../contract/labels.ts";
import { finishedCondition } from "../../contract/status.ts";
import { formatUsd } from "../../cost/estimate.ts";
import { backfillRunName, checkParams, runJob, runningHolder, whoami } from "../act.ts";
import { KubeError } from "../../kube/errors.ts";
import { deployed, orMissing, outcomeOf, viewOf, type Deployed } from "../records.ts";
import { table, duration } from "../view.ts";
import { help, print, show, usage, type Command, type Context } from "../command.ts";

export const backfill: Command = {
  help: help(
    "backfill <pipeline> --param date=2026-11-01..2026-11-30 [--max-concurrent N] [--dry-run]",
    "One run per parameter value (a range A..B of dates or integers, or a list a,b,c; several --param\ngive every combination), at most N at once, then a summary. Resumable: each run's name comes\nfrom its values, so runs that exist already are not created again (a skipped one is). A\npipeline with concurrency forbid or replace runs one at a time whatever N says.\n--dry-run prints the runs and their modelled cost (npm run cost) and starts nothing.",
    "  --param <k=v>          values to run (repeatable)\n  --max-concurrent <N>   runs at once (default 1; only with concurrency allow)\n  --dry-run              print the runs and the cost; start nothing\n  --reason <text>        why, kept in each run record\n",
  ),
  options: {
    param: { type: "string", multiple: true },
    "max-concurrent": { type: "string" },
    "dry-run": { type: "boolean" },
    reason: { type: "string" },
  },
  args: [1, 1],
  run,
};

async function run(c: Context): Promise<number> {
  const d = await deployed(c.cluster, c.positionals[0]!);
  const args = (c.values.param as string[] | undefined) ?? [];
  if (!args.length)
    return usage(
      c.io,
      "backfill",
      "give the values to run with --param, such as --param date=2026-11-01..2026-11-30",
      backfill.help,
    );
  const parsed = parseParamArgs(args, d.plan.params ?? {});
  const max = c.values["max-concurrent"] === undefined ? 1 : Number(c.values["max-concurrent"]);
  if (!Number.isInteger(max) || max < 1)
    parsed.errors.push(
      `--max-concurrent expects a positive whole number, found ${JSON.stringify(c.values["max-concurrent"])}`,
    );
  const combos = parsed.errors.length ? [] : combinations(parsed.values);
  const errors = [
    ...parsed.errors,
    ...combos.flatMap((combo) => checkParams(d, combo, new Date(c.now())).map((e) => `${show(combo)}: ${e}`)),
  ];
  if (errors.length) return usage(c.io, "backfill", `${d.pipeline}: ${[...new Set(errors)].slice(0, 10).join("; ")}`);
  const runs = combos.map((params) => ({ name: backfillRunName(d.pipeline, params), params }));
  const id = backfillRunName(d.pipeline, { args: args.join(" ") }).replace(`${d.pipeline}-b`, "");
  const policy = d.plan.concurrency ?? "forbid";
  const limit = policy === "allow" ? max : 1;

  const state = new Map<string, { outcome: string; head?: RunHead; jobActive?: boolean }>();
  const look = async () => {
    const [records, jobs] = await Promise.all([
      c.cluster.listConfigMaps(d.namespace, recordSelector(d.pipeline)),
      c.cluster.listJobs(d.namespace, `${LABEL.role}=${ROLE.runManager},${LABEL.pipeline}=${d.pipeline}`),
    ]);
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
    if (c.json)
      return print(c, {
        pipeline: d.pipeline,
        runs: runs.map((r) => ({ run: r.name, params: r.params, exists: state.get(r.name)?.outcome ?? null })),
        create: fresh.length,
        concurrent: limit,
        costPerRunUsd: typeof cost === "number" ? cost : null,
        costUsd: typeof cost === "number" ? cost * fresh.length : null,
        costNote: typeof cost === "number" ? null : cost,
      });
    c.io.stdout(
      table(
        ["RUN", "PARAMS", "STATUS", "COST"],
        runs.map((r) => [
          r.name,
          show(r.params),
          state.has(r.name) && state.get(r.name)!.outcome !== "skipped"
            ? `exists: ${state.get(r.name)!.outcome}`
            : "would start",
          state.has(r.name) && state.get(r.name)!.outcome !== "skipped" ? "-" : perRun,
        ]),
      ),
    );
    c.io.stdout(
      `\nDry run: ${plural(fresh.length, "run")} to start, ${runs.length - fresh.length} already exist; ${limit} at a time${limit < max ? ` (concurrency ${policy}: one at a time)` : ""}.\n` +
        (typeof cost === "number"
          ? `Modelled cost: ${fresh.length} × ${perRun} = ${formatUsd(cost * fresh.length, "run")} (npm run cost, cluster ${clusterOf(d)}; step estimates, Spot prices of the snapshot).\n`
          : `Modelled cost: unavailable (${cost}).\n`) +
        "Nothing was started.\n",
    );
    return EXIT.ok;
  }
  if (limit < max && !c.json)
    c.io.stderr(
      `dagops backfill: ${d.pipeline} has concurrency ${policy}: runs go one at a time (--max-concurrent ${max} needs concurrency allow)\n`,
    );
  const by = await whoami(c.cluster);
  const reason = (c.values.reason as string | undefined) ?? `backfill ${args.join(" ")}`;
  const recreated = new Set<string>();
  for (;;) {
    // Active until its record is final and its Job has ended: the bound holds for pods too.
    const active = runs.filter(
      (r) => ["running", "starting"].includes(state.get(r.name)?.outcome ?? "") || state.get(r.name)?.jobActive,
    ).length;
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
      const job = await c.cluster
        .createJob(d.namespace, runJob(d, { name: r.name, params: r.params, by, reason, backfill: id }))
        .catch((err: unknown) => {
          if (err instanceof KubeError && err.status === 409) return undefined; // its Job is still being deleted: next round
          throw err;
        });
      if (!job) continue;
      state.set(r.name, { outcome: "starting" });
      room -= 1;
      if (!c.json) c.io.stderr(`started ${r.name} (${show(r.params)})\n`);
    }
    const open = runs.filter(
      (r) =>
        !state.has(r.name) ||
        ["running", "starting", "skipped"].includes(state.get(r.name)!.outcome) ||
        state.get(r.name)!.jobActive,
    );
    if (!open.length || c.stop.aborted) break;
    await c.sleep(c.pollMs);
    await look();
  }
  await look();
  const rows = runs.map((r) => {
    const s = state.get(r.name);
    return {
      run: r.name,
      params: s?.head?.params ?? r.params,
      outcome: s?.outcome ?? "not started",
      duration: s?.head ? duration(s.head.startedAt, s.head.finishedAt, c.now()) : "-",
    };
  });
  const succeeded = rows.filter((r) => r.outcome === "succeeded").length;
  if (c.json) print(c, { pipeline: d.pipeline, backfill: id, interrupted: c.stop.aborted, runs: rows });
  else {
    c.io.stdout(
      table(
        ["RUN", "PARAMS", "OUTCOME", "DURATION"],
        rows.map((r) => [r.run, show(r.params), r.outcome, r.duration]),
      ),
    );
    c.io.stdout(
      `\n${succeeded} of ${plural(rows.length, "run")} succeeded${c.stop.aborted ? "; interrupted: run the same command again to carry on (existing runs are not started again)" : ""}.\n`,
    );
  }
  return succeeded === rows.length ? EXIT.ok : EXIT.problems;
}

function clusterOf(d: Deployed): string | undefined {
  return d.cronJob.spec?.jobTemplate?.spec?.template?.spec?.containers?.[0]?.env?.find(
    (e) => e.name === "DAGOPS_CLUSTER",
  )?.value;
}

/** The cost of one run as `npm run cost` models it for the run's cluster, or why there is none (the cost command itself, in this process). */
async function modelledCost(cwd: string, d: Deployed): Promise<number | string> {
  const { main: cost } = await import("../../commands/cost.ts");
  const out: string[] = [];
  const err: string[] = [];
  const code = await cost([d.pipeline, "--json", "--root", cwd], {
    cwd,
    env: {},
    stdout: (t) => void out.push(t),
    stderr: (t) => void err.push(t),
  });
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
