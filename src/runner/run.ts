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
 */
import type { CoreV1Event, V1Job, V1Pod } from "@kubernetes/client-node";
import { ANNOTATION, LABEL, MANAGED_BY } from "../contract/labels.ts";
import type { Plan, PlanStep } from "../contract/plan-format.ts";
import {
  attemptJob,
  attemptJobName,
  attemptOf,
  placeholderJob,
  placeholderJobName,
  runSelector,
  type Run,
} from "./attempt.ts";
import { isTransient, KubeError } from "../kube/errors.ts";
import type { RunApi, WatchEvent } from "../kube/kube.ts";
import {
  cancelRequest,
  inputEnvName,
  leaseName,
  runIntent,
  runUri,
  type CancelRequest,
  beyondRetention,
  DEFAULT_HISTORY_KEEP,
  messageCap,
  OUTCOME_LABEL,
  PLAN_COPY_KEY,
  planCopyName,
  recordLabels,
  recordName,
  recordSelector,
  RUN_KEY,
  runHead,
  SCHEDULED_ANNOTATION,
  stepKey,
  stepRecord,
  type LogPlaces,
  type RecordOutcome,
} from "../contract/record.ts";
import type { Logger } from "./log.ts";
import { decide, RETRY_DELAY, type Attempt, type History, type RetryDelay, type Start } from "../contract/scheduler.ts";
import { CONTAINER_CONFIG_MS, diagnose, IMAGE_PULL_MS, podFacts, type PodFacts, type Verdict } from "./diagnose.ts";
import { formatDuration } from "../contract/duration.ts";
import { emfLines } from "./metrics.ts";
import { sendAlerts } from "./notify.ts";
import { runSummary, type RunSummary } from "./summary.ts";
import { paramEnvName, settleParams } from "../contract/params.ts";
import { LeaseHolder } from "./lease.ts";
import { DagopsError } from "../contract/errors.ts";

export type RunOutcome = "succeeded" | "failed" | "timed-out" | "stopped" | "cancelled" | "skipped";

export interface RunOptions {
  readonly plan: Plan;
  readonly run: Run;
  readonly api: RunApi;
  readonly log: Logger;
  /** Aborted on SIGTERM. */
  readonly stop: AbortSignal;
  readonly now?: () => number;
  /** Identifies this process in Events; the pod name in the cluster. */
  readonly instance?: string;
  /** Backoff before retrying a failed attempt; tests shorten it. */
  readonly retryDelay?: RetryDelay;
  /** Multiplies the API backoffs (1: 250 ms doubling to 30 s, for at most 10 minutes); tests shorten them. */
  readonly backoffScale?: number;
  /** The plan's text, copied to `<run>-plan` so that a pod restarted after a deploy finds it. */
  readonly planText?: string;
  /** The plan ConfigMap the run was started from, and the cluster: for the run record. */
  readonly planRevision?: string;
  readonly cluster?: string;
  /** Where the cluster sends run-manager and step logs, for the record. */
  readonly logs?: LogPlaces;
  /** The cluster's `artifacts` prefix (`s3://bucket/prefix`): steps get their run's URI and their inputs'. */
  readonly artifacts?: string;
  /** How long the pipeline's Lease lasts without renewal (seconds); tests shorten it. Default 60. */
  readonly leaseSeconds?: number;
}

/** The run Job asks for something the plan does not allow (a parameter value, a step taken as done): nothing runs. */
export class IntentError extends DagopsError {
  readonly code = "BAD_INTENT";
}

/** The run manager was stopped (SIGTERM) before the run could begin: exit as stopped. */
export class StoppedError extends DagopsError {
  readonly code = "STOPPED";
}

/** The API server kept answering with transient errors for the whole retry budget: let the pod be retried. */
export class TransientError extends DagopsError {
  readonly code = "API_UNAVAILABLE";
}

export interface RunResult {
  readonly outcome: RunOutcome;
  readonly summary: RunSummary;
}

/** Record patches of finished attempts are at most this often (the first after a quiet spell goes at once). */
const RECORD_FLUSH_MS = 1000;
/** Step Jobs created at once; the API server's default client limits (QPS 50) leave room for it. */
export const CREATE_BATCH = 10;
/** The progress annotation on the run's Job is written at most this often. */
const PROGRESS_MS = 5000;

/** Longest wait between tries when the API server is unreachable or failing. */
const MAX_BACKOFF_MS = 30_000;
/** How long a call that must succeed (the run's own Job, the list of its steps) is retried on transient errors. */
const RETRY_BUDGET_MS = 10 * 60_000;

export async function runPipeline(options: RunOptions): Promise<RunResult> {
  const { plan, run, api, log, stop } = options;
  const now = options.now ?? Date.now;
  const scale = options.backoffScale ?? 1;
  const maxBackoff = MAX_BACKOFF_MS * scale;
  const backoffAfter = (failures: number) => Math.min(maxBackoff, 250 * scale * 2 ** Math.min(7, failures - 1));

  /**
   * A call the run cannot do without, retried on transient errors (no answer, 429, 5xx) with
   * backoff for up to RETRY_BUDGET_MS; a definite answer (401, 403, 404, …) is thrown at once.
   * SIGTERM ends the wait, even for a call that hangs.
   */
  const essential = async <T>(what: string, call: () => Promise<T>): Promise<T> => {
    const giveUpAt = now() + RETRY_BUDGET_MS * scale;
    for (let failures = 1; ; failures++) {
      if (stop.aborted) throw new StoppedError(`stopped while waiting to ${what}`);
      try {
        return await untilStopped(call(), stop, what);
      } catch (err) {
        if (err instanceof StoppedError || !isTransient(err)) throw err;
        if (now() >= giveUpAt)
          throw new TransientError(
            `${(err as Error).message} (still failing after ${Math.round((RETRY_BUDGET_MS * scale) / 1000)} s of retries)`,
          );
        log.warn("api.retry", { call: what, error: (err as Error).message, failures });
        await delay(backoffAfter(failures), stop);
      }
    }
  };
  const history = new Map<string, { attempts: Attempt[] }>(plan.steps.map((s) => [s.name, { attempts: [] }]));
  const jobSteps = new Map<string, string>(); // step Job name → step, for DELETED events
  const finished = new AbortController();
  let backoffTries = 0; // consecutive creates that failed for reasons worth retrying
  const reports = new Set<Promise<void>>(); // step reports in flight, awaited before the run's own
  const dirtySteps = new Set<string>(); // steps whose record key is behind
  let recordTimer: NodeJS.Timeout | undefined;
  let lastRecordFlush = 0;

  // --- wake-ups: watch events, timers and signals all poke the loop; none is lost.
  let dirty = true;
  let wake: (() => void) | undefined;
  const poke = () => {
    dirty = true;
    wake?.();
  };
  const sleepUntil = (at: number | undefined) =>
    new Promise<void>((resolve) => {
      if (dirty) return resolve();
      const timer = at === undefined ? undefined : setTimeout(poke, Math.max(0, at - now()));
      wake = () => {
        clearTimeout(timer);
        wake = undefined;
        resolve();
      };
    });
  stop.addEventListener("abort", poke, { once: true });

  // --- the record of attempts, fed by the list and the watch.
  const record = (step: string, attempt: Attempt, observed: boolean) => {
    const attempts = history.get(step)!.attempts;
    const i = attempts.findIndex((a) => a.attempt === attempt.attempt);
    const before = i >= 0 ? attempts[i] : undefined;
    if (before && before.outcome !== "running") return; // outcomes are final
    if (i >= 0) attempts[i] = attempt;
    else {
      attempts.push(attempt);
      attempts.sort((a, b) => a.attempt - b.attempt);
    }
    if (observed && attempt.outcome !== "running" && before?.outcome !== attempt.outcome) {
      const report = reportAttempt(step, attempt).finally(() => reports.delete(report));
      reports.add(report);
    }
    poke();
  };
  const observe = (job: V1Job, observed: boolean) => {
    const seen = attemptOf(job, plan, now());
    if (!seen) return;
    jobSteps.set(job.metadata!.name!, seen.step);
    record(seen.step, seen.attempt, observed);
    enrich(job.metadata!.name!);
  };
  // --- pods: failures named early, and what a failed container left behind.
  const limits = {
    imagePullMs: IMAGE_PULL_MS * scale,
    configMs: CONTAINER_CONFIG_MS * scale,
    schedulingMs: (plan.schedulingTimeoutSeconds ?? 900) * 1000 * scale,
    schedulingText: formatDuration(plan.schedulingTimeoutSeconds ?? 900),
  };
  const waitingSince = new Map<string, { reason: string; since: number }>();
  const podTimers = new Map<string, NodeJS.Timeout>();
  const podFactsOf = new Map<string, PodFacts>(); // step Job name → what its pod said
  const attemptAt = (job: string): { step: string; i: number } | undefined => {
    const step = jobSteps.get(job);
    const i =
      step === undefined
        ? -1
        : history.get(step)!.attempts.findIndex((a) => attemptJobName(run, step, a.attempt) === job);
    return step !== undefined && i >= 0 ? { step, i } : undefined;
  };
  function seePod(pod: V1Pod): void {
    const job = pod.metadata?.labels?.["batch.kubernetes.io/job-name"] ?? pod.metadata?.labels?.["job-name"];
    if (!job || finished.signal.aborted) return;
    podFactsOf.set(job, podFacts(pod));
    enrich(job);
    const key = pod.metadata?.uid ?? pod.metadata?.name ?? job;
    clearTimeout(podTimers.get(key));
    podTimers.delete(key);
    const { verdict, checkAt } = diagnose(pod, now(), waitingSince, limits);
    if (verdict) void endEarly(job, verdict);
    // No event comes when a waiting state simply lasts: look again when its limit is reached.
    else if (checkAt !== undefined)
      podTimers.set(
        key,
        setTimeout(() => seePod(pod), Math.max(0, checkAt - now()) + 5),
      );
  }
  function forgetPod(pod: V1Pod): void {
    const key = pod.metadata?.uid ?? pod.metadata?.name ?? "";
    clearTimeout(podTimers.get(key));
    podTimers.delete(key);
    waitingSince.delete(key);
  }
  /** A pod that cannot start: fail its attempt now, with the cause, and delete its Job (with the pod). */
  async function endEarly(job: string, verdict: Verdict): Promise<void> {
    const at = attemptAt(job);
    const a = at && history.get(at.step)!.attempts[at.i];
    if (!at || !a || a.outcome !== "running") return;
    log.warn("step.cannot-start", {
      step: at.step,
      attempt: a.attempt,
      job,
      reason: verdict.reason,
      message: verdict.message,
      spendsRetry: !verdict.final,
    });
    record(
      at.step,
      {
        ...a,
        outcome: "failed",
        reason: verdict.reason,
        message: verdict.message,
        ...(verdict.final ? { final: true } : {}),
        finishedAt: now(),
      },
      true,
    );
    await api
      .deleteJob(job)
      .catch((err: KubeError) => err.status !== 404 && log.warn("step.delete-failed", { job, error: err.message }));
  }
  // Nodes: instance type and capacity type, from the node's labels (a ClusterRole allows get on
  // nodes and nothing else). One read per node; without the permission, records just lack them.
  const nodes = new Map<string, { instanceType?: string; capacityType?: string } | "pending">();
  let nodesForbidden = false;
  function nodeOf(name: string): { instanceType?: string; capacityType?: string } | undefined {
    const known = nodes.get(name);
    if (known !== undefined) return known === "pending" ? undefined : known;
    if (nodesForbidden) return undefined;
    nodes.set(name, "pending");
    api.getNode(name).then(
      (node) => {
        const labels = node.metadata?.labels ?? {};
        nodes.set(name, {
          ...(labels["node.kubernetes.io/instance-type"]
            ? { instanceType: labels["node.kubernetes.io/instance-type"] }
            : {}),
          ...(labels[LABEL.capacityType] ? { capacityType: labels[LABEL.capacityType] } : {}),
        });
        for (const [j, f] of podFactsOf) if (f.node === name) enrich(j);
      },
      (err: KubeError) => {
        nodes.set(name, {});
        if (err.status === 403 || err.status === 401) {
          nodesForbidden = true;
          log.warn("nodes.unavailable", {
            error: err.message,
            message: "run records will not name instance types (the run manager's ClusterRole allows get on nodes)",
          });
        }
      },
    );
    return undefined;
  }

  /** Adds what the pod said (node, exit code, out of memory, last log lines) to its attempt. */
  function enrich(job: string, patch = true): void {
    const f = podFactsOf.get(job);
    const at = attemptAt(job);
    if (!f || !at) return;
    const attempts = history.get(at.step)!.attempts as Attempt[];
    const a = attempts[at.i]!;
    const ended = a.outcome !== "running";
    const limit = plan.steps.find((s) => s.name === at.step)?.job.spec?.template?.spec?.containers?.[0]?.resources
      ?.limits?.memory;
    const node = f.node ? nodeOf(f.node) : undefined;
    const details: Partial<Attempt> = {
      ...(f.node && !a.node ? { node: f.node } : {}),
      ...(node?.instanceType && !a.instanceType ? { instanceType: node.instanceType } : {}),
      ...(node?.capacityType && !a.capacityType ? { capacityType: node.capacityType } : {}),
      ...(ended && f.exitCode !== undefined && a.exitCode === undefined ? { exitCode: f.exitCode } : {}),
      ...(a.outcome === "failed" && !a.message
        ? f.oomKilled
          ? {
              reason: "OOMKilled",
              message: `the container was killed for using more memory than its limit (${limit ?? "none set"}); raise resources.limits.memory`,
            }
          : f.tail
            ? { message: f.tail }
            : {}
        : {}),
    };
    if (Object.keys(details).length === 0) return;
    attempts[at.i] = { ...a, ...details };
    if (ended && patch) recordStep(at.step);
  }

  const lost = (name: string, why: string) => {
    const step = jobSteps.get(name);
    const last =
      step === undefined
        ? undefined
        : history.get(step)!.attempts.find((a) => attemptJobName(run, step, a.attempt) === name);
    if (step !== undefined && last?.outcome === "running")
      record(step, { ...last, outcome: "failed", reason: why, finishedAt: now() }, true);
  };

  // --- reporting: JSON logs always; Events and the progress annotation when the API allows.
  const event = async (type: "Normal" | "Warning", reason: string, message: string) => {
    const at = new Date(now());
    const body: CoreV1Event = {
      metadata: { name: `${run.name}.${(at.getTime() * 1000 + ++eventSeq).toString(16)}`, namespace: run.namespace },
      involvedObject: { apiVersion: "batch/v1", kind: "Job", name: run.name, namespace: run.namespace, uid: run.uid },
      type,
      reason,
      message,
      firstTimestamp: at,
      lastTimestamp: at,
      count: 1,
      source: { component: "dagops-run-manager" },
      reportingComponent: "dagops.dev/run-manager",
      reportingInstance: options.instance ?? "run-manager",
    };
    await api.createEvent(body).catch((err: Error) => log.warn("event.failed", { reason, error: err.message }));
  };
  let eventSeq = 0;
  const reportAttempt = async (step: string, a: Attempt) => {
    const fields = {
      step,
      attempt: a.attempt,
      capacity: a.capacity,
      job: attemptJobName(run, step, a.attempt),
      ...(a.reason ? { reason: a.reason } : {}),
    };
    // Successes go to the log and the record; Events are for what needs a look (a 1,000-step run
    // would otherwise write two Events per attempt, and wait on them).
    if (a.outcome === "succeeded") log.info("step.succeeded", { ...fields, seconds: seconds(a) });
    else if (a.outcome === "interrupted") {
      log.warn("step.interrupted", fields);
      await event(
        "Warning",
        "StepInterrupted",
        `step ${step} attempt ${a.attempt} lost its ${a.capacity} node (${a.reason}); it will run again without using a retry`,
      );
    } else {
      log.warn("step.failed", fields);
      await event(
        "Warning",
        "StepFailed",
        `step ${step} attempt ${a.attempt} failed (${a.reason})${a.message ? `: ${a.message.split("\n")[0]!.slice(0, 300)}` : ""}`,
      );
    }
    // The record after the log and the Event: what the run does next never waits on it.
    recordStep(step);
  };
  let progress = "";
  let progressAt = -Infinity;
  let progressTimer: NodeJS.Timeout | undefined;
  const reportProgress = async (text: string) => {
    if (text === progress) return;
    // At most every PROGRESS_MS: a large run changes its progress with every attempt.
    if (now() - progressAt < PROGRESS_MS * scale) {
      progressTimer ??= setTimeout(
        () => ((progressTimer = undefined), poke()),
        progressAt + PROGRESS_MS * scale - now(),
      );
      return;
    }
    progress = text;
    progressAt = now();
    await api
      .annotateJob(run.name, { [ANNOTATION.progress]: text })
      .catch((err: Error) => log.warn("progress.failed", { error: err.message }));
  };

  // --- the run: its owner, its deadline, and what already exists.
  const owner = await essential("read the run's own Job", () => api.getJob(run.name));
  if (owner.metadata?.uid !== run.uid) {
    throw new KubeError(
      undefined,
      `get job ${run.name}`,
      `its uid is ${owner.metadata?.uid}, not ${run.uid}: step Jobs owned by the wrong uid would be garbage-collected at once`,
    );
  }
  const startedAt = owner.metadata?.creationTimestamp ? new Date(owner.metadata.creationTimestamp).getTime() : now();
  const deadline = startedAt + plan.runTimeoutSeconds * 1000;
  const scheduledAt = owner.metadata?.annotations?.[SCHEDULED_ANNOTATION];
  // What the run Job asks: parameter values, steps taken as done (a re-run), who started it.
  const intent = runIntent(owner.metadata?.annotations);
  const settled = settleParams(plan.params ?? {}, intent.params, {
    at: new Date(scheduledAt ?? startedAt),
    timeZone: plan.timeZone ?? "Etc/UTC",
  });
  const unknownDone = Object.keys(intent.doneSteps).filter((step) => !history.has(step));
  const refusals = [
    ...intent.problems,
    ...settled.errors,
    ...unknownDone.map((step) => `step ${step}, taken as done, is not in this plan`),
  ];
  if (refusals.length) throw new IntentError(`run Job ${run.name}: ${refusals.join("; ")}`);
  const uri = options.artifacts ? runUri(options.artifacts, plan.pipeline, run.name) : undefined;
  for (const [step, from] of Object.entries(intent.doneSteps)) {
    history.get(step)!.attempts.push({
      attempt: 0,
      capacity: "spot",
      outcome: "succeeded",
      startedAt,
      finishedAt: startedAt,
      doneIn: from,
      reason: `done in ${from}`,
    });
  }
  /** What every attempt of a step gets besides its template: parameters, and where its data and its inputs' live. */
  const stepEnv = (step: PlanStep) => [
    { name: "DAGOPS_RUN_ID", value: run.name },
    ...Object.entries(settled.values).map(([name, value]) => ({ name: paramEnvName(name), value })),
    ...(options.artifacts
      ? [
          { name: "DAGOPS_RUN_URI", value: uri! },
          ...step.dependsOn.map((dep) => ({
            name: inputEnvName(dep),
            value: `${runUri(options.artifacts!, plan.pipeline, intent.doneSteps[dep] ?? run.name)}${dep}/`,
          })),
        ]
      : []),
  ];
  let endMessage: string | undefined;
  const head = (outcome: RecordOutcome, finishedAt?: number, failedSteps?: readonly string[]) =>
    JSON.stringify(
      runHead({
        plan,
        run,
        cluster: options.cluster,
        planRevision: options.planRevision,
        scheduledAt,
        startedAt,
        outcome,
        intent,
        params: settled.values,
        ...(uri ? { uri } : {}),
        ...(endMessage ? { message: endMessage } : {}),
        ...(options.logs ? { logs: options.logs } : {}),
        ...(finishedAt !== undefined ? { finishedAt } : {}),
        ...(failedSteps ? { failedSteps } : {}),
      }),
    );

  // One run at a time (concurrency forbid / replace): the pipeline's Lease, taken before anything
  // else. A newcomer that may not run leaves a record saying which run holds the pipeline.
  const lease =
    plan.concurrency === "allow"
      ? undefined
      : new LeaseHolder({
          api,
          log,
          pipeline: plan.pipeline,
          run: run.name,
          now,
          seconds: options.leaseSeconds ?? Math.max(1, Math.round(60 * scale)),
          stop,
          call: essential,
        });
  let got = lease ? await lease.acquire(plan.concurrency === "replace" ? "replace" : "forbid") : undefined;
  if (got && !got.acquired) {
    // A pod of this run restarted after its Lease expired (a slow Fargate restart) and another
    // run took it: this run's steps are already running, and skipping would orphan them. Go on.
    const record = await api.getConfigMap(recordName(run)).catch(() => undefined);
    const running = ((): boolean => {
      try {
        return (JSON.parse(record?.data?.[RUN_KEY] ?? "{}") as { outcome?: string }).outcome === "running";
      } catch {
        return false;
      }
    })();
    if (running) {
      log.warn("lease.lost", {
        holder: got.holder,
        message: `run ${got.holder} took the pipeline's Lease while this run's pod restarted; this run was already under way and goes on`,
      });
      got = undefined;
    }
  }
  if (lease && got) {
    if (!got.acquired) {
      endMessage = got.message;
      log.warn("run.skipped", { holder: got.holder, message: got.message });
      await bestEffort("the skipped run's record", () =>
        api
          .createConfigMap({
            metadata: { name: recordName(run), namespace: run.namespace, labels: recordLabels(plan, run, "skipped") },
            data: { [RUN_KEY]: head("skipped", now()) },
          })
          .catch((err: KubeError) => {
            if (err.status !== 409) throw err;
            return api.patchConfigMap(recordName(run), {
              data: { [RUN_KEY]: head("skipped", now()) },
              metadata: { labels: { [OUTCOME_LABEL]: "skipped" } },
            });
          }),
      );
      await api
        .annotateJob(run.name, { [ANNOTATION.progress]: `skipped: ${got.message}` })
        .catch((err: Error) => log.warn("progress.failed", { error: err.message }));
      await event("Normal", "RunSkipped", got.message);
      return {
        outcome: "skipped",
        summary: runSummary(plan, history as History, { startedAt, finishedAt: now(), outcome: "skipped" }),
      };
    }
  }
  // A cancel request: read from the run's own Job as it is now, and as it changes.
  let cancel: CancelRequest | undefined = cancelRequest(owner.metadata?.annotations);

  // The plan copy, owned by the run's Job: a pod of this run restarted after a deploy pruned the
  // plan revision reads it from here. Best effort: the run itself does not need it.
  if (options.planText !== undefined) {
    await bestEffort("plan copy", () =>
      api
        .createConfigMap({
          metadata: {
            name: planCopyName(run),
            namespace: run.namespace,
            labels: { [LABEL.managedBy]: MANAGED_BY, [LABEL.pipeline]: plan.pipeline, [LABEL.run]: run.name },
            ownerReferences: [{ apiVersion: "batch/v1", kind: "Job", name: run.name, uid: run.uid }],
          },
          data: { [PLAN_COPY_KEY]: options.planText! },
        })
        .catch((err: KubeError) => {
          if (err.status !== 409) throw err;
        }),
    );
  }
  const listed = await essential("list the run's step Jobs", () => api.listJobs(runSelector(run)));
  listed.items.forEach((j) => observe(j, false));
  // The run record: created at the start (a restarted pod brings it up to date instead), then
  // one step key patched per finished attempt, and the run's outcome at the end.
  const allSteps = () => Object.fromEntries(plan.steps.map((s) => [stepKey(s.name), stepRecordOf(s.name)]));
  await bestEffort("create the run record", () =>
    api
      .createConfigMap({
        metadata: { name: recordName(run), namespace: run.namespace, labels: recordLabels(plan, run, "running") },
        data: { [RUN_KEY]: head("running"), ...allSteps() },
      })
      .catch((err: KubeError) => {
        if (err.status !== 409) throw err;
        return api.patchConfigMap(recordName(run), { data: { [RUN_KEY]: head("running"), ...allSteps() } });
      }),
  );
  const adopted = listed.items.length;
  log.info("run.started", {
    pipeline: plan.pipeline,
    run: run.name,
    steps: plan.steps.length,
    maxParallel: plan.maxParallel,
    deadline: new Date(deadline).toISOString(),
    adopted,
  });
  if (adopted > 0) await event("Normal", "RunResumed", `resumed with ${adopted} existing step Jobs`);
  else await event("Normal", "RunStarted", `running ${plan.steps.length} steps, at most ${plan.maxParallel} at once`);

  void followJobs(listed.resourceVersion);
  void follow(
    "the run's Job",
    owner.metadata?.resourceVersion ?? "",
    (rv, onEvent) => api.watchRunJob(run.name, rv, onEvent, finished.signal),
    async () => {
      const job = await api.getJob(run.name);
      return { items: [job], resourceVersion: job.metadata?.resourceVersion ?? "" };
    },
    (e) => e.type !== "DELETED" && seeRunJob(e.object),
    (items) => items.forEach(seeRunJob),
  );
  function seeRunJob(job: V1Job): void {
    const asked = cancelRequest(job.metadata?.annotations);
    if (asked && !cancel) {
      cancel = asked;
      poke();
    }
  }
  // Pods: best effort. Without them a run still runs; failures are then named by the Job alone.
  void api
    .listPods(runSelector(run))
    .then((pods) => followPods(pods.resourceVersion, pods.items))
    .catch((err: Error) => log.warn("pods.unavailable", { error: err.message }));

  // Prewarm: placeholders hold the run's peak capacity until every step has started.
  const placeholders = (plan.placeholders ?? []).map((_, i) => placeholderJobName(run, i));
  const listedNames = new Set(listed.items.map((j) => j.metadata?.name));
  const allStarted = () => plan.steps.every((s) => history.get(s.name)!.attempts.length > 0);
  let warm = placeholders.length > 0 && !allStarted();
  if (warm) {
    for (let i = 0; i < placeholders.length; i++) {
      if (listedNames.has(placeholders[i])) continue;
      await api
        .createJob(placeholderJob(plan, run, i))
        .catch(
          (err: KubeError) =>
            err.status !== 409 && log.warn("prewarm.create-failed", { job: placeholders[i], error: err.message }),
        );
    }
    log.info("prewarm.started", { placeholders: placeholders.length });
  }
  const release = async (why: string) => {
    if (!warm) return;
    warm = false;
    for (const name of placeholders)
      await api
        .deleteJob(name)
        .catch(
          (err: KubeError) =>
            err.status !== 404 && log.warn("prewarm.delete-failed", { job: name, error: err.message }),
        );
    log.info("prewarm.released", { placeholders: placeholders.length, reason: why });
  };

  let outcome: RunOutcome;
  try {
    outcome = await loop();
  } finally {
    finished.abort();
    clearTimeout(progressTimer);
    for (const t of podTimers.values()) clearTimeout(t);
  }
  // The pods' last word: a container's end (out of memory, its last log lines) can arrive after
  // its Job's failure, and the watch is over. One list settles it before the record is closed.
  if (
    outcome !== "stopped" &&
    [...history.values()].some((h) => h.attempts.some((a) => a.outcome === "failed" && !a.message))
  ) {
    const pods = await api.listPods(runSelector(run)).catch(() => undefined);
    for (const pod of pods?.items ?? []) {
      const job = pod.metadata?.labels?.["batch.kubernetes.io/job-name"];
      if (job) podFactsOf.set(job, podFacts(pod));
      if (job) enrich(job, false);
    }
  }
  // A stopped run keeps its placeholders and its Lease: the next run-manager pod of this run still needs them.
  if (outcome !== "stopped") await release("run ended");
  if (outcome !== "stopped") await lease?.release();
  else lease?.stopRenewing();
  await Promise.all(reports);
  clearTimeout(recordTimer);
  recordTimer = undefined;
  // A stopped run writes no outcome: what is still pending goes now, for the next pod to build on.
  if (outcome === "stopped" && dirtySteps.size)
    await updateRecord("steps", {
      data: Object.fromEntries([...dirtySteps].map((s) => [stepKey(s), stepRecordOf(s)])),
    });
  const summary = runSummary(plan, history as History, { startedAt, finishedAt: now(), outcome });
  // A stopped run goes on in the next pod: its record stays "running".
  if (outcome !== "stopped") {
    const failed = summary.steps.filter((s) => s.outcome === "failed").map((s) => s.name);
    await updateRecord("the run's outcome", {
      data: { [RUN_KEY]: head(outcome, now(), failed), ...allSteps() },
      metadata: { labels: { [OUTCOME_LABEL]: outcome } },
    });
    await bestEffort("retention", async () => {
      const records = await api.listConfigMaps(recordSelector(plan.pipeline));
      const old = beyondRetention(
        records.map((r) => ({
          name: r.metadata?.name ?? "",
          createdAt: r.metadata?.creationTimestamp ? new Date(r.metadata.creationTimestamp).toISOString() : "",
        })),
        plan.historyKeep ?? DEFAULT_HISTORY_KEEP,
        recordName(run),
      );
      for (const name of old)
        await api
          .deleteConfigMap(name)
          .catch(
            (err: KubeError) =>
              err.status !== 404 && log.warn("record.delete-failed", { record: name, error: err.message }),
          );
      if (old.length)
        log.info("records.pruned", { deleted: old.length, keep: plan.historyKeep ?? DEFAULT_HISTORY_KEEP });
    });
  }
  log.info("run.summary", summary as unknown as Record<string, unknown>);
  // Metrics for CloudWatch, as log lines it reads by itself (Embedded Metric Format).
  if (outcome !== "stopped")
    for (const m of emfLines(summary, options.cluster ?? "unknown", now()))
      log.info("Step" in m ? "step.metrics" : "run.metrics", m);
  await api
    .annotateJob(run.name, {
      [ANNOTATION.progress]: progressText(outcome),
      [ANNOTATION.summary]: JSON.stringify(compact(summary)),
    })
    .catch((err: Error) => log.warn("summary.failed", { error: err.message }));
  const failedSteps = summary.steps.filter((s) => s.outcome === "failed").map((s) => s.name);
  const message = `run ${outcome} after ${summary.seconds}s${failedSteps.length ? `; failed: ${failedSteps.join(", ")}` : ""}`;
  await event(
    outcome === "succeeded" ? "Normal" : "Warning",
    `Run${outcome === "timed-out" ? "TimedOut" : outcome[0]!.toUpperCase() + outcome.slice(1)}`,
    message,
  );
  if (outcome !== "stopped" && plan.notify?.length) {
    const failed = summary.steps.find((s) => s.outcome === "failed");
    const reason = failed?.attempts.at(-1)?.reason;
    const logTail = failed ? history.get(failed.name)?.attempts.at(-1)?.message : undefined;
    // Alerts never change the outcome: every failure inside is logged and swallowed.
    await sendAlerts(
      plan,
      {
        pipeline: plan.pipeline,
        cluster: options.cluster ?? "unknown",
        namespace: run.namespace,
        run: run.name,
        outcome,
        seconds: summary.seconds,
        startedAt: new Date(startedAt).toISOString(),
        finishedAt: new Date(now()).toISOString(),
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
      { scale },
    ).catch((err: Error) => log.warn("alert.failed", { error: err.message }));
  }
  return { outcome, summary };

  function stepRecordOf(step: string): string {
    return stepRecord(
      step,
      history.get(step)!.attempts,
      (attempt) => attemptJobName(run, step, attempt),
      messageCap(plan.steps.length),
    );
  }
  async function bestEffort(what: string, f: () => Promise<unknown>): Promise<void> {
    try {
      await f();
    } catch (err) {
      log.warn("record.failed", { what, error: (err as Error).message });
    }
  }
  async function updateRecord(what: string, patch: Parameters<RunApi["patchConfigMap"]>[1]): Promise<void> {
    await bestEffort(what, () => api.patchConfigMap(recordName(run), patch));
  }

  /**
   * A finished attempt reaches the record in one merge patch of the steps that changed: at once
   * after a quiet second, otherwise with the others of the same second. A run of 1,000 steps
   * then writes its record about once a second, not once per attempt; the run's end writes
   * every step anyway.
   */
  function recordStep(step: string): void {
    dirtySteps.add(step);
    if (recordTimer !== undefined) return;
    const wait = Math.max(0, lastRecordFlush + RECORD_FLUSH_MS - now());
    recordTimer = setTimeout(() => {
      recordTimer = undefined;
      lastRecordFlush = now();
      const steps = [...dirtySteps];
      dirtySteps.clear();
      const flush = updateRecord(`steps ${steps.join(", ").slice(0, 200)}`, {
        data: Object.fromEntries(steps.map((s) => [stepKey(s), stepRecordOf(s)])),
      }).finally(() => reports.delete(flush));
      reports.add(flush);
    }, wait);
  }

  async function loop(): Promise<RunOutcome> {
    // After a create failed transiently, no create before this time, whatever wakes the loop.
    let createsResumeAt = 0;
    for (;;) {
      await sleepUntil(createsResumeAt > now() ? createsResumeAt : undefined);
      dirty = false;
      if (stop.aborted) {
        const running = runningJobs();
        log.warn("run.stopping", { reason: "SIGTERM", running });
        await reportProgress(
          `stopped with ${running.length} steps running; the next run-manager pod of this run adopts them`,
        );
        return "stopped";
      }
      if (cancel) {
        const running = runningJobs();
        endMessage = `cancelled by ${cancel.by}${cancel.reason ? `: ${cancel.reason}` : ""}`;
        log.warn("run.cancelled", { by: cancel.by, reason: cancel.reason, cancelling: running });
        for (const name of running) {
          await api
            .deleteJob(name)
            .catch(
              (err: KubeError) =>
                err.status !== 404 && log.error("step.delete-failed", { job: name, error: err.message }),
            );
          lost(name, "Cancelled");
        }
        return "cancelled";
      }
      if (now() >= deadline) {
        const running = runningJobs();
        log.warn("run.timed-out", { runTimeoutSeconds: plan.runTimeoutSeconds, cancelling: running });
        for (const name of running) {
          await api
            .deleteJob(name)
            .catch(
              (err: KubeError) =>
                err.status !== 404 && log.error("step.delete-failed", { job: name, error: err.message }),
            );
          lost(name, "RunTimeout");
        }
        return "timed-out";
      }
      const state = decide(plan, history as History, now(), options.retryDelay ?? RETRY_DELAY);
      if (state.phase === "succeeded") return "succeeded";
      if (state.phase === "failed") return "failed";
      if (state.phase === "running") {
        const paused = createsResumeAt > now();
        // Creates go out CREATE_BATCH at a time: a wave of 100 ready steps is not 100 round trips in a row.
        const starts = paused ? [] : [...state.start];
        while (starts.length && !stop.aborted) {
          // SIGTERM while creating: what is not created yet stays so (the next pod decides again).
          const results = await Promise.all(starts.splice(0, CREATE_BATCH).map(startAttempt));
          if (results.includes("retry-later")) {
            createsResumeAt = now() + Math.min(maxBackoff, 1000 * scale * 2 ** Math.min(5, backoffTries++));
            break;
          }
        }
        if (!paused && createsResumeAt <= now()) backoffTries = 0;
        if (allStarted()) await release("every step has started");
        const wakeAt = Math.min(
          deadline,
          state.wakeAt ?? Infinity,
          createsResumeAt > now() ? createsResumeAt : Infinity,
        );
        await reportProgress(progressOf());
        if (!dirty) await sleepUntil(wakeAt);
      } else {
        await reportProgress(
          `failing: ${state.failed.join(", ")} failed; waiting for ${runningJobs().length} running steps`,
        );
        await sleepUntil(deadline);
      }
    }
  }
  /** Creates one attempt's Job; adopts it after a 409; "retry-later" when the API failed transiently. */
  async function startAttempt(start: Start): Promise<"ok" | "retry-later"> {
    const step = plan.steps.find((s) => s.name === start.step)!;
    const job = attemptJob(plan, step, run, start, stepEnv(step));
    const name = job.metadata!.name!;
    jobSteps.set(name, step.name);
    try {
      observe(await api.createJob(job), false);
      log.info("step.started", { step: start.step, attempt: start.attempt, capacity: start.capacity, job: name });
    } catch (err) {
      const e = err as KubeError;
      if (e.status === 409) {
        // Created before a crash or by a racing pod of this run: adopt it.
        observe(await essential(`read step Job ${name}`, () => api.getJob(name)), false);
        log.info("step.adopted", { step: start.step, attempt: start.attempt, job: name });
      } else if (e.status !== undefined && e.status >= 400 && e.status < 500 && e.status !== 429) {
        // The API refused the Job itself (invalid, forbidden, quota): retrying will not help.
        record(
          start.step,
          {
            attempt: start.attempt,
            capacity: start.capacity,
            outcome: "failed",
            reason: `CreateRejected: ${e.message}`,
            startedAt: now(),
            finishedAt: now(),
          },
          true,
        );
      } else {
        log.warn("step.create-failed", { step: start.step, job: name, error: e.message });
        return "retry-later";
      }
    }
    return "ok";
  }

  function runningJobs(): string[] {
    return plan.steps.flatMap((s) =>
      history
        .get(s.name)!
        .attempts.filter((a) => a.outcome === "running")
        .map((a) => attemptJobName(run, s.name, a.attempt)),
    );
  }

  function progressOf(): string {
    const last = plan.steps.map((s) => history.get(s.name)!.attempts.at(-1)?.outcome);
    const n = (o: string) => last.filter((x) => x === o).length;
    return `${n("succeeded")}/${plan.steps.length} succeeded, ${n("running")} running`;
  }

  /**
   * A list, then a watch from its resourceVersion, for as long as the run goes on: resumes after
   * disconnects, lists again after 410 Gone (`relisted` gets the new list), backs off on errors.
   * One mechanism for the step Jobs and their pods.
   */
  async function follow<T extends { metadata?: { resourceVersion?: string } }>(
    what: string,
    resourceVersion: string,
    watch: (rv: string, onEvent: (e: WatchEvent<T>) => void) => Promise<void>,
    list: () => Promise<{ items: T[]; resourceVersion: string }>,
    onEvent: (e: WatchEvent<T>) => void,
    relisted: (items: T[]) => void,
  ): Promise<void> {
    let rv = resourceVersion;
    let failures = 0;
    while (!finished.signal.aborted) {
      let gone = false;
      const began = now();
      try {
        await watch(rv, (e) => {
          if (e.type === "ERROR") {
            gone ||= e.object.code === 410;
            return;
          }
          rv = e.object.metadata?.resourceVersion ?? rv;
          if (e.type !== "BOOKMARK") onEvent(e);
        });
        failures = now() - began < 1000 ? failures + 1 : 0;
      } catch (err) {
        gone ||= (err as KubeError).status === 410;
        failures += 1;
        log.warn("watch.failed", { watch: what, error: (err as Error).message, failures });
      }
      if (finished.signal.aborted) return;
      if (gone) {
        // The resourceVersion is too old: list again, then watch from the list.
        try {
          const fresh = await list();
          relisted(fresh.items);
          rv = fresh.resourceVersion;
          log.info("watch.relisted", { watch: what, resourceVersion: rv });
          poke();
        } catch (err) {
          failures += 1;
          log.warn("watch.relist-failed", { watch: what, error: (err as Error).message });
        }
      }
      if (failures > 0) await delay(backoffAfter(failures), finished.signal);
      if (!finished.signal.aborted) log.info("watch.resumed", { watch: what, resourceVersion: rv });
    }
  }

  function followJobs(resourceVersion: string): Promise<void> {
    // The running Jobs as they were before a relist: one created while the list was in flight
    // may be missing from it, and must not be taken for deleted.
    let before: string[] = [];
    return follow(
      "jobs",
      resourceVersion,
      (rv, onEvent) => api.watchJobs(runSelector(run), rv, onEvent, finished.signal),
      () => ((before = runningJobs()), api.listJobs(runSelector(run))),
      (e) => (e.type === "DELETED" ? lost(e.object.metadata?.name ?? "", "JobDeleted") : observe(e.object, true)),
      (items) => {
        const names = new Set(items.map((j) => j.metadata?.name));
        items.forEach((j) => observe(j, true));
        before.filter((n) => !names.has(n)).forEach((n) => lost(n, "JobDeleted"));
      },
    );
  }

  function followPods(resourceVersion: string, first: readonly V1Pod[]): Promise<void> {
    first.forEach(seePod);
    return follow(
      "pods",
      resourceVersion,
      (rv, onEvent) => api.watchPods(runSelector(run), rv, onEvent, finished.signal),
      () => api.listPods(runSelector(run)),
      (e) => (e.type === "DELETED" ? forgetPod(e.object) : seePod(e.object)),
      (items) => items.forEach(seePod),
    );
  }
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

/** `p`, or a StoppedError as soon as `stop` fires: a call that never answers cannot hold up a SIGTERM. */
function untilStopped<T>(p: Promise<T>, stop: AbortSignal, what: string): Promise<T> {
  if (stop.aborted) return Promise.reject(new StoppedError(`stopped while waiting to ${what}`));
  return new Promise<T>((resolve, reject) => {
    const onStop = () => reject(new StoppedError(`stopped while waiting to ${what}`));
    stop.addEventListener("abort", onStop, { once: true });
    p.then(
      (v) => (stop.removeEventListener("abort", onStop), resolve(v)),
      (e: unknown) => (stop.removeEventListener("abort", onStop), reject(e)),
    );
  });
}

/**
 * Waits `ms`, or until `signal` aborts. The abort listener goes when the wait ends either way: a
 * run that waits thousands of times on one signal (a long watch loop) must not pile them up
 * (Node.js warns past ten, on stderr, into a log that is one JSON object per line).
 */
export function delay(ms: number, signal: AbortSignal): Promise<void> {
  return new Promise((resolve) => {
    if (signal.aborted) return resolve();
    const done = () => {
      clearTimeout(timer);
      signal.removeEventListener("abort", done);
      resolve();
    };
    const timer = setTimeout(done, ms);
    signal.addEventListener("abort", done, { once: true });
  });
}
