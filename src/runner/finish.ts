/**
 * The end of a run: the pods' last word, the placeholders and the Lease released, the record's
 * outcome and retention, the summary (log, metrics, annotation, Event) and the alerts. A stopped
 * run (SIGTERM) keeps its placeholders, its Lease and a "running" record: the next run-manager
 * pod of this run carries on from them.
 */
import { ANNOTATION } from "../contract/labels.ts";
import type { History } from "../contract/scheduler.ts";
import { emfLines } from "./metrics.ts";
import { sendAlerts } from "./notify.ts";
import { lastWord } from "./pods.ts";
import { release } from "./prewarm.ts";
import { flushSteps, retain, writeOutcome, writeRecord } from "./record-writer.ts";
import { event, reportSummary } from "./reporting.ts";
import type { Run, RunOutcome, RunResult } from "./state.ts";
import { runSummary } from "./summary.ts";

export async function finish(r: Run, outcome: RunOutcome): Promise<RunResult> {
  const { plan, id, api, log } = r;
  const stopped = outcome === "stopped";
  if (stopped) r.lease?.stopRenewing();
  else {
    await lastWord(r);
    await release(r, "run ended");
    await r.lease?.release();
  }
  await Promise.all(r.reports);
  // Pending step keys: a stopped run writes them now (the next pod builds on them); otherwise the outcome writes every step.
  await flushSteps(r, stopped);
  const summary = runSummary(plan, r.history as History, { startedAt: r.startedAt, finishedAt: r.now(), outcome });
  // A stopped run goes on in the next pod: its record stays "running".
  if (outcome !== "stopped") {
    await writeOutcome(
      r,
      outcome,
      summary.steps.filter((s) => s.outcome === "failed").map((s) => s.name),
    );
    await retain(r);
  }
  log.info("run.summary", summary as unknown as Record<string, unknown>);
  // Metrics for CloudWatch, as log lines it reads by itself (Embedded Metric Format).
  if (outcome !== "stopped")
    for (const m of emfLines(summary, r.options.cluster ?? "unknown", r.now()))
      log.info("Step" in m ? "step.metrics" : "run.metrics", m);
  await reportSummary(r, outcome, summary);
  const failedSteps = summary.steps.filter((s) => s.outcome === "failed").map((s) => s.name);
  const message = `run ${outcome} after ${summary.seconds}s${failedSteps.length ? `; failed: ${failedSteps.join(", ")}` : ""}`;
  await event(
    r,
    outcome === "succeeded" ? "Normal" : "Warning",
    `Run${outcome === "timed-out" ? "TimedOut" : outcome[0]!.toUpperCase() + outcome.slice(1)}`,
    message,
  );
  if (outcome !== "stopped" && plan.notify?.length) {
    const failed = summary.steps.find((s) => s.outcome === "failed");
    const reason = failed?.attempts.at(-1)?.reason;
    const logTail = failed ? r.history.get(failed.name)?.attempts.at(-1)?.message : undefined;
    // Alerts never change the outcome: every failure inside is logged and swallowed.
    await sendAlerts(
      plan,
      {
        pipeline: plan.pipeline,
        cluster: r.options.cluster ?? "unknown",
        namespace: id.namespace,
        run: id.name,
        outcome,
        seconds: summary.seconds,
        startedAt: new Date(r.startedAt).toISOString(),
        finishedAt: new Date(r.now()).toISOString(),
        ...(failed
          ? {
              failedStep: {
                name: failed.name,
                ...(reason ? { reason } : {}),
                ...(logTail ? { logTail: logTail.slice(-2048) } : {}),
              },
            }
          : {}),
      },
      api,
      log,
      { scale: r.scale },
    ).catch((err: Error) => log.warn("alert.failed", { error: err.message }));
  }
  return { outcome, summary };
}

/** A newcomer that may not run (concurrency forbid): a record, the progress and an Event say which run holds the pipeline. */
export async function finishSkipped(r: Run, holder: string, message: string): Promise<RunResult> {
  r.endMessage = message;
  r.log.warn("run.skipped", { holder, message });
  await writeRecord(r, "the skipped run's record", "skipped");
  await r.api
    .annotateJob(r.id.name, { [ANNOTATION.progress]: `skipped: ${message}` })
    .catch((err: Error) => r.log.warn("progress.failed", { error: err.message }));
  await event(r, "Normal", "RunSkipped", message);
  return {
    outcome: "skipped",
    summary: runSummary(r.plan, r.history as History, {
      startedAt: r.startedAt,
      finishedAt: r.now(),
      outcome: "skipped",
    }),
  };
}
