/** `dagops rerun`. */
import { EXIT } from "../../cli/kit.ts";
import { manualRunName } from "../act.ts";
import { deployed, orMissing } from "../records.ts";
import { create, help, lookUp, RUN_LOOKUP, usage, type Command, type Context } from "../command.ts";

export const rerun: Command = {
  help: help(
    "rerun <run> [--from-failure] [--current-plan] [--wait]",
    "A new run of the plan revision <run> ran, with its parameters. --from-failure takes the steps that\nsucceeded in <run> as done (their data stays where <run> wrote it) and runs only the failed and\nnever-started ones. If that revision is gone (the pipeline changed since), it says so;\n--current-plan then runs the current plan in full with the same parameters.",
    `${RUN_LOOKUP}  --from-failure    run only the steps that did not succeed\n  --current-plan    run the current plan when <run>'s revision is gone\n  --reason <text>   why, kept in the run record\n  --wait            wait for the run to end; exit 1 if it did not succeed\n`,
  ),
  options: {
    pipeline: { type: "string", short: "p" },
    "from-failure": { type: "boolean" },
    "current-plan": { type: "boolean" },
    reason: { type: "string" },
    wait: { type: "boolean" },
  },
  args: [1, 1],
  run,
};

async function run(c: Context): Promise<number> {
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
      return usage(
        c.io,
        "rerun",
        `--from-failure needs ${view.run}'s own plan revision (${head.planRevision}), which is gone: the current plan may change what the succeeded steps produce. Run it in full: dagops rerun ${view.run} --current-plan`,
      );
    }
  }
  let doneSteps: Record<string, string> = {};
  if (fromFailure) {
    if (head.outcome === "running")
      return usage(
        c.io,
        "rerun",
        `run ${view.run} is still running; --from-failure needs a finished run (or cancel it first: dagops cancel ${view.run})`,
      );
    if (head.outcome === "succeeded") {
      c.io.stderr(
        `dagops rerun: every step of ${view.run} succeeded; a --from-failure re-run would run nothing. Re-run it in full: dagops rerun ${view.run}\n`,
      );
      return EXIT.problems;
    }
    doneSteps = Object.fromEntries(
      view.steps.flatMap((s) => {
        const last = s.attempts.at(-1);
        return last?.outcome === "succeeded" ? [[s.step, last.from ?? view.run]] : [];
      }),
    );
  }
  const name = manualRunName(d.pipeline, "r", new Date(c.now()));
  const code = await create(c, d, {
    name,
    params: head.params,
    rerunOf: view.run,
    doneSteps,
    ...(planRevision !== d.planRevision ? { planRevision } : {}),
    ...(c.values.reason ? { reason: c.values.reason as string } : {}),
  });
  // The old record names its re-runs, so either run leads to the other.
  if (code === EXIT.ok || c.values.wait) {
    const record = await orMissing(c.cluster.getConfigMap(view.namespace, `${view.run}-record`));
    const before = record?.metadata?.annotations?.["dagops.dev/reruns"];
    await c.cluster
      .annotate(view.namespace, "configmap", `${view.run}-record`, {
        "dagops.dev/reruns": before ? `${before},${name}` : name,
      })
      .catch(() => undefined);
  }
  return code;
}
