/**
 * The history of attempts: every step's attempts as the list and the watch of its Jobs report
 * them. Outcomes are final; a finished attempt is reported (reporting.ts) and wakes the loop.
 */
import type { V1Job } from "@kubernetes/client-node";
import type { Attempt } from "../contract/scheduler.ts";
import { attemptJobName, attemptOf } from "./attempt.ts";
import { enrich } from "./pods.ts";
import { reportAttempt } from "./reporting.ts";
import type { Run } from "./state.ts";

export function record(r: Run, step: string, attempt: Attempt, observed: boolean): void {
  const attempts = r.history.get(step)!.attempts;
  const i = attempts.findIndex((a) => a.attempt === attempt.attempt);
  const before = i >= 0 ? attempts[i] : undefined;
  if (before && before.outcome !== "running") return; // outcomes are final
  if (i >= 0) attempts[i] = attempt;
  else {
    attempts.push(attempt);
    attempts.sort((a, b) => a.attempt - b.attempt);
  }
  if (observed && attempt.outcome !== "running" && before?.outcome !== attempt.outcome) {
    const report = reportAttempt(r, step, attempt).finally(() => r.reports.delete(report));
    r.reports.add(report);
  }
  r.poke();
}

/** A step Job as the API server has it: its attempt, recorded. */
export function observe(r: Run, job: V1Job, observed: boolean): void {
  const seen = attemptOf(job, r.plan, r.now());
  if (!seen) return;
  r.jobSteps.set(job.metadata!.name!, seen.step);
  record(r, seen.step, seen.attempt, observed);
  enrich(r, job.metadata!.name!);
}

/** The step and the index in its history of the attempt a step Job runs. */
export function attemptAt(r: Run, job: string): { step: string; i: number } | undefined {
  const step = r.jobSteps.get(job);
  const i =
    step === undefined
      ? -1
      : r.history.get(step)!.attempts.findIndex((a) => attemptJobName(r.id, step, a.attempt) === job);
  return step !== undefined && i >= 0 ? { step, i } : undefined;
}

/** A step Job that went away (deleted, cancelled, timed out) while its attempt ran: the attempt failed, `why`. */
export function lost(r: Run, name: string, why: string): void {
  const step = r.jobSteps.get(name);
  const last =
    step === undefined
      ? undefined
      : r.history.get(step)!.attempts.find((a) => attemptJobName(r.id, step, a.attempt) === name);
  if (step !== undefined && last?.outcome === "running")
    record(r, step, { ...last, outcome: "failed", reason: why, finishedAt: r.now() }, true);
}

export function runningJobs(r: Run): string[] {
  return r.plan.steps.flatMap((s) =>
    r.history
      .get(s.name)!
      .attempts.filter((a) => a.outcome === "running")
      .map((a) => attemptJobName(r.id, s.name, a.attempt)),
  );
}

export function allStarted(r: Run): boolean {
  return r.plan.steps.every((s) => r.history.get(s.name)!.attempts.length > 0);
}

export function progressOf(r: Run): string {
  const last = r.plan.steps.map((s) => r.history.get(s.name)!.attempts.at(-1)?.outcome);
  const n = (o: string) => last.filter((x) => x === o).length;
  return `${n("succeeded")}/${r.plan.steps.length} succeeded, ${n("running")} running`;
}
