/** `dagops cancel`. */
import { EXIT } from "../../cli/kit.ts";
import { cancelAnnotation, whoami } from "../act.ts";
import { outcomeOf } from "../records.ts";
import { help, lookUp, print, RUN_LOOKUP, usage, waitForEnd, type Command, type Context } from "../command.ts";

export const cancel: Command = {
  help: help(
    "cancel <run> [--reason text]",
    "Stops a run: its run manager deletes the running steps (with their pods), records the run as\ncancelled and ends. Waits until the record says so.",
    `${RUN_LOOKUP}  --reason <text>        why, kept in the run record\n  --wait-seconds <N>     how long to wait for the run manager (default 60; 0: do not wait)\n`,
  ),
  options: { pipeline: { type: "string", short: "p" }, reason: { type: "string" }, "wait-seconds": { type: "string" } },
  args: [1, 1],
  run,
};

async function run(c: Context): Promise<number> {
  const view = await lookUp(c);
  if (!view) return EXIT.problems;
  const outcome = outcomeOf(view);
  if (!view.job || (outcome !== "running" && outcome !== "starting")) {
    c.io.stderr(
      `dagops cancel: run ${view.run} is not running: ${view.head ? `it ended ${outcome}` : "its Job is gone"}\n`,
    );
    return EXIT.problems;
  }
  const by = await whoami(c.cluster);
  const reason = (c.values.reason as string | undefined) ?? "";
  await c.cluster.annotate(
    view.namespace,
    "job",
    view.run,
    cancelAnnotation({ by, reason, at: new Date(c.now()).toISOString() }),
  );
  const waitSeconds = c.values["wait-seconds"] === undefined ? 60 : Number(c.values["wait-seconds"]);
  if (!Number.isFinite(waitSeconds) || waitSeconds < 0)
    return usage(
      c.io,
      "cancel",
      `--wait-seconds expects a number of seconds, found ${JSON.stringify(c.values["wait-seconds"])}`,
    );
  if (waitSeconds === 0) {
    c.io.stdout(`asked run ${view.run} to cancel\n`);
    return EXIT.ok;
  }
  const ended = await waitForEnd(c, view.namespace, view.run, view.pipeline, waitSeconds * 1000);
  if (!ended) {
    c.io.stderr(
      `dagops cancel: asked run ${view.run} to cancel, but its run manager has not confirmed within ${waitSeconds}s. Is its pod running? kubectl -n ${view.namespace} get pods -l job-name=${view.run}\n`,
    );
    return EXIT.problems;
  }
  if (c.json) return print(c, { run: view.run, outcome: outcomeOf(ended), message: ended.head?.message ?? null });
  c.io.stdout(`run ${view.run} ${outcomeOf(ended)}${ended.head?.message ? `: ${ended.head.message}` : ""}\n`);
  return outcomeOf(ended) === "cancelled" ? EXIT.ok : EXIT.problems;
}
