/** The run summary: per step its attempts, durations and outcome, and the critical path. */
import type { Plan } from "../contract/plan-format.ts";
import { criticalPath } from "../contract/graph.ts";
import type { Attempt, History } from "../contract/scheduler.ts";

export interface StepSummary {
  readonly name: string;
  /** `not-run`: a dependency failed or the run ended first. */
  readonly outcome: "succeeded" | "failed" | "running" | "not-run";
  /** From the first attempt's start to the last attempt's end, in seconds. */
  readonly seconds: number;
  readonly attempts: readonly {
    attempt: number;
    capacity: string;
    outcome: string;
    reason?: string;
    message?: string;
    seconds: number;
  }[];
}

export interface RunSummary {
  readonly pipeline: string;
  readonly outcome: string;
  readonly seconds: number;
  readonly steps: readonly StepSummary[];
  /** The chain of dependencies that took longest, by the steps' actual durations. */
  readonly criticalPath: { readonly steps: readonly string[]; readonly seconds: number };
}

const secs = (ms: number) => Math.round(ms / 1000);

export function runSummary(
  plan: Plan,
  history: History,
  run: { startedAt: number; finishedAt: number; outcome: string },
): RunSummary {
  const steps = plan.steps.map((s): StepSummary => {
    const attempts: readonly Attempt[] = history.get(s.name)?.attempts ?? [];
    const last = attempts.at(-1);
    const first = attempts[0];
    const outcome = !last ? "not-run" : last.outcome === "interrupted" ? "failed" : last.outcome;
    return {
      name: s.name,
      outcome,
      seconds: first ? secs((last!.finishedAt ?? run.finishedAt) - first.startedAt) : 0,
      attempts: attempts.map((a) => ({
        attempt: a.attempt,
        capacity: a.capacity,
        outcome: a.outcome,
        ...(a.reason ? { reason: a.reason } : {}),
        ...(a.message ? { message: a.message.slice(-512) } : {}),
        seconds: secs((a.finishedAt ?? run.finishedAt) - a.startedAt),
      })),
    };
  });
  const byName = new Map(steps.map((s) => [s.name, s]));
  const ran = plan.steps.filter((s) => byName.get(s.name)!.outcome !== "not-run");
  const elapsed = (n: string) => {
    const attempts = history.get(n)!.attempts;
    return (attempts.at(-1)!.finishedAt ?? run.finishedAt) - attempts[0]!.startedAt;
  };
  const path = criticalPath(ran, elapsed);
  return {
    pipeline: plan.pipeline,
    outcome: run.outcome,
    seconds: secs(run.finishedAt - run.startedAt),
    steps,
    criticalPath: { steps: path.path, seconds: secs(path.total) },
  };
}
