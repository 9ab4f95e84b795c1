/**
 * Reporting: JSON logs always; Kubernetes Events on the run's Job for what needs a look, and the
 * progress annotation, when the API allows (a failure to report never changes the run).
 */
import type { CoreV1Event } from "@kubernetes/client-node";
import { ANNOTATION } from "../contract/labels.ts";
import type { Attempt } from "../contract/scheduler.ts";
import { attemptJobName } from "./attempt.ts";
import { recordStep } from "./record-writer.ts";
import type { Run, RunOutcome } from "./state.ts";
import type { RunSummary } from "./summary.ts";

/** The progress annotation on the run's Job is written at most this often. */
const PROGRESS_MS = 5000;

export async function event(r: Run, type: "Normal" | "Warning", reason: string, message: string): Promise<void> {
  const at = new Date(r.now());
  const body: CoreV1Event = {
    metadata: { name: `${r.id.name}.${(at.getTime() * 1000 + ++r.eventSeq).toString(16)}`, namespace: r.id.namespace },
    involvedObject: { apiVersion: "batch/v1", kind: "Job", name: r.id.name, namespace: r.id.namespace, uid: r.id.uid },
    type,
    reason,
    message,
    firstTimestamp: at,
    lastTimestamp: at,
    count: 1,
    source: { component: "dagops-run-manager" },
    reportingComponent: "dagops.dev/run-manager",
    reportingInstance: r.options.instance ?? "run-manager",
  };
  await r.api.createEvent(body).catch((err: Error) => r.log.warn("event.failed", { reason, error: err.message }));
}

export async function reportAttempt(r: Run, step: string, a: Attempt): Promise<void> {
  const fields = {
    step,
    attempt: a.attempt,
    capacity: a.capacity,
    job: attemptJobName(r.id, step, a.attempt),
    ...(a.reason ? { reason: a.reason } : {}),
  };
  // Successes go to the log and the record; Events are for what needs a look (a 1,000-step run
  // would otherwise write two Events per attempt, and wait on them).
  if (a.outcome === "succeeded") r.log.info("step.succeeded", { ...fields, seconds: seconds(a) });
  else if (a.outcome === "interrupted") {
    r.log.warn("step.interrupted", fields);
    await event(
      r,
      "Warning",
      "StepInterrupted",
      `step ${step} attempt ${a.attempt} lost its ${a.capacity} node (${a.reason}); it will run again without using a retry`,
    );
  } else {
    r.log.warn("step.failed", fields);
    await event(
      r,
      "Warning",
      "StepFailed",
      `step ${step} attempt ${a.attempt} failed (${a.reason})${a.message ? `: ${a.message.split("\n")[0]!.slice(0, 300)}` : ""}`,
    );
  }
  // The record after the log and the Event: what the run does next never waits on it.
  recordStep(r, step);
}

/** The progress annotation, at most every PROGRESS_MS: a large run changes its progress with every attempt. */
export async function reportProgress(r: Run, text: string): Promise<void> {
  const p = r.progress;
  if (text === p.text) return;
  if (r.now() - p.at < PROGRESS_MS * r.scale) {
    p.timer ??= setTimeout(() => ((p.timer = undefined), r.poke()), p.at + PROGRESS_MS * r.scale - r.now());
    return;
  }
  p.text = text;
  p.at = r.now();
  await r.api
    .annotateJob(r.id.name, { [ANNOTATION.progress]: text })
    .catch((err: Error) => r.log.warn("progress.failed", { error: err.message }));
}

/** The run's end on its Job: the progress annotation says the outcome, the summary annotation holds the summary. */
export async function reportSummary(r: Run, outcome: RunOutcome, summary: RunSummary): Promise<void> {
  await r.api
    .annotateJob(r.id.name, {
      [ANNOTATION.progress]: progressText(outcome),
      [ANNOTATION.summary]: JSON.stringify(compact(summary)),
    })
    .catch((err: Error) => r.log.warn("summary.failed", { error: err.message }));
}

function seconds(a: Attempt): number {
  return Math.round(((a.finishedAt ?? a.startedAt) - a.startedAt) / 1000);
}

function progressText(outcome: RunOutcome): string {
  return outcome === "stopped" ? "stopped; the next run-manager pod of this run adopts its running steps" : outcome;
}

/** The summary without per-attempt detail when it would make a large annotation. */
function compact(summary: RunSummary): unknown {
  const full = JSON.stringify(summary);
  return full.length <= 32 * 1024
    ? summary
    : { ...summary, steps: summary.steps.map(({ attempts, ...rest }) => ({ ...rest, attempts: attempts.length })) };
}
