/**
 * What the run Job asks, read from its annotations: parameter values (settled against the plan's
 * params), steps taken as done (a re-run), who started it and why. What the plan does not allow
 * is refused before anything runs. Each attempt gets its part of it as environment variables.
 */
import type { V1Job } from "@kubernetes/client-node";
import { DagopsError } from "../contract/errors.ts";
import { paramEnvName, settleParams } from "../contract/params.ts";
import type { PlanStep } from "../contract/plan-format.ts";
import { inputEnvName, runIntent, runUri, SCHEDULED_ANNOTATION } from "../contract/record.ts";
import type { Run } from "./state.ts";

/** The run Job asks for something the plan does not allow (a parameter value, a step taken as done): nothing runs. */
export class IntentError extends DagopsError {
  readonly code = "BAD_INTENT";
}

/** Reads the run's start, deadline and intent from its own Job, and takes the steps done elsewhere as done. */
export function settleIntent(r: Run, owner: V1Job): void {
  const { plan, id } = r;
  r.startedAt = owner.metadata?.creationTimestamp ? new Date(owner.metadata.creationTimestamp).getTime() : r.now();
  r.deadline = r.startedAt + plan.runTimeoutSeconds * 1000;
  r.scheduledAt = owner.metadata?.annotations?.[SCHEDULED_ANNOTATION];
  r.intent = runIntent(owner.metadata?.annotations);
  const settled = settleParams(plan.params ?? {}, r.intent.params, {
    at: new Date(r.scheduledAt ?? r.startedAt),
    timeZone: plan.timeZone ?? "Etc/UTC",
  });
  const unknownDone = Object.keys(r.intent.doneSteps).filter((step) => !r.history.has(step));
  const refusals = [
    ...r.intent.problems,
    ...settled.errors,
    ...unknownDone.map((step) => `step ${step}, taken as done, is not in this plan`),
  ];
  if (refusals.length) throw new IntentError(`run Job ${id.name}: ${refusals.join("; ")}`);
  r.params = settled.values;
  r.uri = r.options.artifacts ? runUri(r.options.artifacts, plan.pipeline, id.name) : undefined;
  for (const [step, from] of Object.entries(r.intent.doneSteps)) {
    r.history.get(step)!.attempts.push({
      attempt: 0,
      capacity: "spot",
      outcome: "succeeded",
      startedAt: r.startedAt,
      finishedAt: r.startedAt,
      doneIn: from,
      reason: `done in ${from}`,
    });
  }
}

/** What every attempt of a step gets besides its template: parameters, and where its data and its inputs' live. */
export function stepEnv(r: Run, step: PlanStep): { name: string; value: string }[] {
  const artifacts = r.options.artifacts;
  return [
    { name: "DAGOPS_RUN_ID", value: r.id.name },
    ...Object.entries(r.params).map(([name, value]) => ({ name: paramEnvName(name), value })),
    ...(artifacts
      ? [
          { name: "DAGOPS_RUN_URI", value: r.uri! },
          ...step.dependsOn.map((dep) => ({
            name: inputEnvName(dep),
            value: `${runUri(artifacts, r.plan.pipeline, r.intent.doneSteps[dep] ?? r.id.name)}${dep}/`,
          })),
        ]
      : []),
  ];
}
