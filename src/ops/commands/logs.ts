/** `dagops logs`. */
import { EXIT } from "../../cli/kit.ts";
import { closest } from "../../contract/problems.ts";
import { KubeError } from "../../kube/errors.ts";
import { help, lookUp, print, RUN_LOOKUP, usage, type Command, type Context } from "../command.ts";

export const logs: Command = {
  help: help(
    "logs <run> [--step S] [--attempt N] [-f]",
    "A step's log: from its pod while the pod exists (-f follows it), otherwise the last lines its\nrun record kept and where the full log went (CloudWatch Logs). Without --step: the failed step.",
    `${RUN_LOOKUP}  --step <name>     the step (default: the failed one)\n  --attempt <N>     the attempt (default: the last)\n  -f, --follow      follow the log while the step runs\n  --tail <N>        only the last N lines of a pod's log\n`,
  ),
  options: {
    pipeline: { type: "string", short: "p" },
    step: { type: "string" },
    attempt: { type: "string" },
    follow: { type: "boolean", short: "f" },
    tail: { type: "string" },
  },
  args: [1, 1],
  run,
};

async function run(c: Context): Promise<number> {
  const view = await lookUp(c);
  if (!view) return EXIT.problems;
  const names = view.steps.map((s) => s.step);
  let stepName = c.values.step as string | undefined;
  if (stepName === undefined) {
    const failed = view.head?.failedSteps ?? [];
    stepName = failed[0] ?? (names.length === 1 ? names[0] : undefined);
    if (stepName === undefined)
      return usage(
        c.io,
        "logs",
        `${view.run} has no failed step; name one with --step (steps: ${names.join(", ") || "none recorded yet"})`,
      );
  }
  const step = view.steps.find((s) => s.step === stepName);
  if (!step) {
    const hint = closest(stepName, names);
    return usage(
      c.io,
      "logs",
      `run ${view.run} has no step ${JSON.stringify(stepName)} in its record${hint ? `; did you mean ${hint}?` : ""} (steps: ${names.join(", ") || "none recorded yet"})`,
    );
  }
  const n = c.values.attempt === undefined ? undefined : Number(c.values.attempt);
  const attempt = n === undefined ? step.attempts.at(-1) : step.attempts.find((a) => a.attempt === n);
  if (!attempt)
    return usage(
      c.io,
      "logs",
      `step ${step.step} of ${view.run} has no attempt ${c.values.attempt}; it has ${step.attempts.map((a) => a.attempt).join(", ") || "none"}`,
    );
  if (attempt.from) {
    c.io.stderr(
      `dagops logs: step ${step.step} was taken as done from run ${attempt.from}: dagops logs ${attempt.from} --step ${step.step}\n`,
    );
    return EXIT.problems;
  }
  const tail = c.values.tail === undefined ? undefined : Number(c.values.tail);
  const pods = await c.cluster.listPods(view.namespace, `batch.kubernetes.io/job-name=${attempt.job}`);
  const pod = pods[0];
  const where = `step ${step.step}, attempt ${attempt.attempt} of run ${view.run}`;
  if (pod?.metadata?.name && !c.json) {
    c.io.stderr(`# ${where}: pod ${pod.metadata.name}\n`);
    try {
      await c.cluster.podLog(
        view.namespace,
        pod.metadata.name,
        pod.spec?.containers?.[0]?.name ?? step.step,
        (t) => c.io.stdout(t),
        { follow: c.values.follow === true, ...(tail !== undefined ? { tailLines: tail } : {}) },
      );
      return EXIT.ok;
    } catch (err) {
      // A container that never started has no log (400); fall back to the record.
      if (!(err instanceof KubeError) || ![400, 404].includes(err.status ?? 0)) throw err;
    }
  }
  const places = view.head?.logs.steps;
  const full = places
    ? `CloudWatch Logs group ${places.logGroup}, streams ${places.streams.replace("<step>", step.step)}`
    : "nowhere beyond the pod (the cluster routes no step logs)";
  if (c.json)
    return print(c, {
      run: view.run,
      step: step.step,
      attempt: attempt.attempt,
      source: pod ? "pod" : "record",
      text: attempt.message ?? null,
      fullLog: places ?? null,
    });
  c.io.stderr(
    `# ${where}: its pod is gone (pods go with their Job); the run record keeps ${attempt.message ? "its last lines" : "no lines of it"}. Full log: ${full}\n`,
  );
  if (attempt.message) c.io.stdout(attempt.message.endsWith("\n") ? attempt.message : `${attempt.message}\n`);
  return EXIT.ok;
}
