/**
 * One run of a pipeline: start step Jobs as the scheduler decides, follow them through a watch,
 * and end with an outcome and a summary.
 *
 * Everything the run manager knows lives in the cluster: the step Jobs of a run carry its uid,
 * their step and their attempt in labels. A restarted run manager lists them and carries on.
 *
 * Endings:
 * - all steps succeeded → `succeeded`;
 * - a step failed for good → no new attempts; running attempts finish; then `failed`;
 * - the run timeout (counted from the run-manager Job's creation) → running step Jobs are
 *   deleted with their pods; `timed-out`;
 * - `stop` (SIGTERM: Fargate eviction, pod deletion) → nothing is deleted, no new attempts;
 *   `stopped`. The run-manager Job starts a new pod, which adopts the running Jobs. If the run
 *   itself was deleted, Kubernetes deletes the step Jobs through their ownerReferences.
 *
 * A `Run` (state.ts) is the state of one run, each part named and owned by the module of its concern (the
 * model is Argo Workflows' wfOperationCtx: one struct, its behaviour spread across files):
 * attempts.ts (the history of attempts), pods.ts (early diagnosis, node facts), follow.ts (list,
 * watch, relist after 410), record-writer.ts (the run record, the plan copy, retention),
 * reporting.ts (Events, progress, the summary annotation), intent.ts (parameters, steps taken as
 * done, step env), prewarm.ts, finish.ts (the end), retry.ts (backoff, until stopped). The loop
 * and `startAttempt` are here.
 */
import type { V1Pod } from "@kubernetes/client-node";
import {
  cancelRequest,
  recordName,
  RUN_KEY,
  type CancelRequest,
  type LogPlaces,
  type RunId,
  type RunIntent,
} from "../contract/record.ts";
import { decide, RETRY_DELAY, type History, type Start } from "../contract/scheduler.ts";
import { KubeError } from "../kube/errors.ts";
import { attemptJob } from "./attempt.ts";
import { allStarted, lost, observe, progressOf, record, runningJobs } from "./attempts.ts";
import { finish, finishSkipped } from "./finish.ts";
import { followJobs, followPods, followRunJob } from "./follow.ts";
import { settleIntent, stepEnv } from "./intent.ts";
import { LeaseHolder } from "./lease.ts";
import { prewarm, release } from "./prewarm.ts";
import { copyPlan, writeRecord } from "./record-writer.ts";
import { event, reportProgress } from "./reporting.ts";
import { essential, maxBackoff } from "./retry.ts";
import { Run, type RunOptions, type RunOutcome, type RunResult } from "./state.ts";

/** Step Jobs created at once; the API server's default client limits (QPS 50) leave room for it. */
export const CREATE_BATCH = 10;

export async function runPipeline(options: RunOptions): Promise<RunResult> {
  const r = new Run(options);
  const { plan, api, log, id } = r;
  const owner = await essential(r, "read the run's own Job", () => api.getJob(id.name));
  if (owner.metadata?.uid !== id.uid) {
    throw new KubeError(
      undefined,
      `get job ${id.name}`,
      `its uid is ${owner.metadata?.uid}, not ${id.uid}: step Jobs owned by the wrong uid would be garbage-collected at once`,
    );
  }
  settleIntent(r, owner);

  // One run at a time (concurrency forbid / replace): the pipeline's Lease, taken before anything
  // else. A newcomer that may not run leaves a record saying which run holds the pipeline.
  if (plan.concurrency !== "allow") {
    r.lease = new LeaseHolder({
      api,
      log,
      pipeline: plan.pipeline,
      run: id.name,
      now: r.now,
      seconds: options.leaseSeconds ?? Math.max(1, Math.round(60 * r.scale)),
      stop: r.stop,
      call: (what, call) => essential(r, what, call),
    });
    const got = await r.lease.acquire(plan.concurrency === "replace" ? "replace" : "forbid");
    if (!got.acquired && !(await underWay(r, got.holder))) return finishSkipped(r, got.holder, got.message);
  }
  r.cancel = cancelRequest(owner.metadata?.annotations);
  // Best effort: the run itself does not need its plan copy.
  if (options.planText !== undefined) await copyPlan(r, options.planText);
  const listed = await essential(r, "list the run's step Jobs", () => api.listJobs(r.selector));
  listed.items.forEach((j) => observe(r, j, false));
  await writeRecord(r, "create the run record", "running");
  const adopted = listed.items.length;
  log.info("run.started", {
    pipeline: plan.pipeline,
    run: id.name,
    steps: plan.steps.length,
    maxParallel: plan.maxParallel,
    deadline: new Date(r.deadline).toISOString(),
    adopted,
  });
  if (adopted > 0) await event(r, "Normal", "RunResumed", `resumed with ${adopted} existing step Jobs`);
  else
    await event(r, "Normal", "RunStarted", `running ${plan.steps.length} steps, at most ${plan.maxParallel} at once`);

  void followJobs(r, listed.resourceVersion);
  void followRunJob(r, owner.metadata?.resourceVersion ?? "");
  // Pods: best effort. Without them a run still runs; failures are then named by the Job alone.
  void api
    .listPods(r.selector)
    .then((pods: { items: V1Pod[]; resourceVersion: string }) => followPods(r, pods.resourceVersion, pods.items))
    .catch((err: Error) => log.warn("pods.unavailable", { error: err.message }));
  await prewarm(r, new Set(listed.items.map((j) => j.metadata?.name)));

  let outcome: RunOutcome;
  try {
    outcome = await loop(r);
  } finally {
    r.finished.abort();
    clearTimeout(r.progress.timer);
    for (const t of r.podTimers.values()) clearTimeout(t);
  }
  return finish(r, outcome);
}

/**
 * A pod of this run restarted after its Lease expired (a slow Fargate restart) and another run
 * took it: this run's steps are already running, and skipping would orphan them. It goes on.
 */
async function underWay(r: Run, holder: string): Promise<boolean> {
  const existing = await r.api.getConfigMap(recordName(r.id)).catch(() => undefined);
  let running = false;
  try {
    running = (JSON.parse(existing?.data?.[RUN_KEY] ?? "{}") as { outcome?: string }).outcome === "running";
  } catch {
    running = false;
  }
  if (running)
    r.log.warn("lease.lost", {
      holder,
      message: `run ${holder} took the pipeline's Lease while this run's pod restarted; this run was already under way and goes on`,
    });
  return running;
}

async function loop(r: Run): Promise<RunOutcome> {
  const { plan, api, log, stop } = r;
  // After a create failed transiently, no create before this time, whatever wakes the loop.
  let createsResumeAt = 0;
  let backoffTries = 0; // consecutive creates that failed for reasons worth retrying
  const endAll = async (reason: string) => {
    const running = runningJobs(r);
    for (const name of running) {
      await api
        .deleteJob(name)
        .catch(
          (err: KubeError) => err.status !== 404 && log.error("step.delete-failed", { job: name, error: err.message }),
        );
      lost(r, name, reason);
    }
  };
  for (;;) {
    await r.sleepUntil(createsResumeAt > r.now() ? createsResumeAt : undefined);
    r.awake();
    if (stop.aborted) {
      const running = runningJobs(r);
      log.warn("run.stopping", { reason: "SIGTERM", running });
      await reportProgress(
        r,
        `stopped with ${running.length} steps running; the next run-manager pod of this run adopts them`,
      );
      return "stopped";
    }
    if (r.cancel) {
      r.endMessage = `cancelled by ${r.cancel.by}${r.cancel.reason ? `: ${r.cancel.reason}` : ""}`;
      log.warn("run.cancelled", { by: r.cancel.by, reason: r.cancel.reason, cancelling: runningJobs(r) });
      await endAll("Cancelled");
      return "cancelled";
    }
    if (r.now() >= r.deadline) {
      log.warn("run.timed-out", { runTimeoutSeconds: plan.runTimeoutSeconds, cancelling: runningJobs(r) });
      await endAll("RunTimeout");
      return "timed-out";
    }
    const state = decide(plan, r.history as History, r.now(), r.options.retryDelay ?? RETRY_DELAY);
    if (state.phase === "succeeded") return "succeeded";
    if (state.phase === "failed") return "failed";
    if (state.phase === "running") {
      const paused = createsResumeAt > r.now();
      // Creates go out CREATE_BATCH at a time: a wave of 100 ready steps is not 100 round trips in a row.
      const starts = paused ? [] : [...state.start];
      while (starts.length && !stop.aborted) {
        // SIGTERM while creating: what is not created yet stays so (the next pod decides again).
        const results = await Promise.all(starts.splice(0, CREATE_BATCH).map((s) => startAttempt(r, s)));
        if (results.includes("retry-later")) {
          createsResumeAt = r.now() + Math.min(maxBackoff(r), 1000 * r.scale * 2 ** Math.min(5, backoffTries++));
          break;
        }
      }
      if (!paused && createsResumeAt <= r.now()) backoffTries = 0;
      if (allStarted(r)) await release(r, "every step has started");
      const wakeAt = Math.min(
        r.deadline,
        state.wakeAt ?? Infinity,
        createsResumeAt > r.now() ? createsResumeAt : Infinity,
      );
      await reportProgress(r, progressOf(r));
      if (!r.poked) await r.sleepUntil(wakeAt);
    } else {
      await reportProgress(
        r,
        `failing: ${state.failed.join(", ")} failed; waiting for ${runningJobs(r).length} running steps`,
      );
      await r.sleepUntil(r.deadline);
    }
  }
}

/** Creates one attempt's Job; adopts it after a 409; "retry-later" when the API failed transiently. */
async function startAttempt(r: Run, start: Start): Promise<"ok" | "retry-later"> {
  const step = r.plan.steps.find((s) => s.name === start.step)!;
  const job = attemptJob(r.plan, step, r.id, start, stepEnv(r, step));
  const name = job.metadata!.name!;
  r.jobSteps.set(name, step.name);
  try {
    observe(r, await r.api.createJob(job), false);
    r.log.info("step.started", { step: start.step, attempt: start.attempt, capacity: start.capacity, job: name });
  } catch (err) {
    const e = err as KubeError;
    if (e.status === 409) {
      // Created before a crash or by a racing pod of this run: adopt it.
      observe(r, await essential(r, `read step Job ${name}`, () => r.api.getJob(name)), false);
      r.log.info("step.adopted", { step: start.step, attempt: start.attempt, job: name });
    } else if (e.status !== undefined && e.status >= 400 && e.status < 500 && e.status !== 429) {
      // The API refused the Job itself (invalid, forbidden, quota): retrying will not help.
      record(
        r,
        start.step,
        {
          attempt: start.attempt,
          capacity: start.capacity,
          outcome: "failed",
          reason: `CreateRejected: ${e.message}`,
          startedAt: r.now(),
          finishedAt: r.now(),
        },
        true,
      );
    } else {
      r.log.warn("step.create-failed", { step: start.step, job: name, error: e.message });
      return "retry-later";
    }
  }
  return "ok";
}
