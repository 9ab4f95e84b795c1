/**
 * The run record (`<run>-record`) and the plan copy (`<run>-plan`): created at the start (a
 * restarted pod brings the record up to date instead), then one merge patch of the steps that
 * changed about once a second, the run's outcome at the end, and retention. Best effort
 * throughout: the run itself does not need its record.
 */
import type { RunApi } from "../kube/kube.ts";
import type { KubeError } from "../kube/errors.ts";
import { LABEL, MANAGED_BY } from "../contract/labels.ts";
import {
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
  stepKey,
  stepRecord,
  type RecordOutcome,
} from "../contract/record.ts";
import { attemptJobName } from "./attempt.ts";
import type { Run } from "./state.ts";

/** Record patches of finished attempts are at most this often (the first after a quiet spell goes at once). */
const RECORD_FLUSH_MS = 1000;

export function stepRecordOf(r: Run, step: string): string {
  return stepRecord(
    step,
    r.history.get(step)!.attempts,
    (attempt) => attemptJobName(r.id, step, attempt),
    messageCap(r.plan.steps.length),
  );
}

const allSteps = (r: Run) => Object.fromEntries(r.plan.steps.map((s) => [stepKey(s.name), stepRecordOf(r, s.name)]));

/** The run's own key of its record: what it ran, with what, and (at the end) how it ended. */
export function head(r: Run, outcome: RecordOutcome, finishedAt?: number, failedSteps?: readonly string[]): string {
  return JSON.stringify(
    runHead({
      plan: r.plan,
      run: r.id,
      cluster: r.options.cluster,
      planRevision: r.options.planRevision,
      scheduledAt: r.scheduledAt,
      startedAt: r.startedAt,
      outcome,
      intent: r.intent,
      params: r.params,
      ...(r.uri ? { uri: r.uri } : {}),
      ...(r.endMessage ? { message: r.endMessage } : {}),
      ...(r.options.logs ? { logs: r.options.logs } : {}),
      ...(finishedAt !== undefined ? { finishedAt } : {}),
      ...(failedSteps ? { failedSteps } : {}),
    }),
  );
}

export async function bestEffort(r: Run, what: string, f: () => Promise<unknown>): Promise<void> {
  try {
    await f();
  } catch (err) {
    r.log.warn("record.failed", { what, error: (err as Error).message });
  }
}

export async function updateRecord(
  r: Run,
  what: string,
  patch: Parameters<RunApi["patchConfigMap"]>[1],
): Promise<void> {
  await bestEffort(r, what, () => r.api.patchConfigMap(recordName(r.id), patch));
}

/** Creates the record with `outcome` and every step (or, when it exists, patches it to that). */
export async function writeRecord(r: Run, what: string, outcome: "running" | "skipped"): Promise<void> {
  const data = () => ({
    [RUN_KEY]: head(r, outcome, outcome === "skipped" ? r.now() : undefined),
    ...(outcome === "running" ? allSteps(r) : {}),
  });
  await bestEffort(r, what, () =>
    r.api
      .createConfigMap({
        metadata: { name: recordName(r.id), namespace: r.id.namespace, labels: recordLabels(r.plan, r.id, outcome) },
        data: data(),
      })
      .catch((err: KubeError) => {
        if (err.status !== 409) throw err;
        return r.api.patchConfigMap(recordName(r.id), {
          data: data(),
          ...(outcome === "skipped" ? { metadata: { labels: { [OUTCOME_LABEL]: "skipped" } } } : {}),
        });
      }),
  );
}

/** The plan copy, owned by the run's Job: a pod of this run restarted after a deploy pruned the plan revision reads it from here. */
export async function copyPlan(r: Run, text: string): Promise<void> {
  await bestEffort(r, "plan copy", () =>
    r.api
      .createConfigMap({
        metadata: {
          name: planCopyName(r.id),
          namespace: r.id.namespace,
          labels: { [LABEL.managedBy]: MANAGED_BY, [LABEL.pipeline]: r.plan.pipeline, [LABEL.run]: r.id.name },
          ownerReferences: [{ apiVersion: "batch/v1", kind: "Job", name: r.id.name, uid: r.id.uid }],
        },
        data: { [PLAN_COPY_KEY]: text },
      })
      .catch((err: KubeError) => {
        if (err.status !== 409) throw err;
      }),
  );
}

/**
 * A finished attempt reaches the record in one merge patch of the steps that changed: at once
 * after a quiet second, otherwise with the others of the same second. A run of 1,000 steps
 * then writes its record about once a second, not once per attempt; the run's end writes
 * every step anyway.
 */
export function recordStep(r: Run, step: string): void {
  const w = r.records;
  w.dirty.add(step);
  if (w.timer !== undefined) return;
  const wait = Math.max(0, w.lastFlush + RECORD_FLUSH_MS - r.now());
  w.timer = setTimeout(() => {
    w.timer = undefined;
    w.lastFlush = r.now();
    const steps = [...w.dirty];
    w.dirty.clear();
    const flush = updateRecord(r, `steps ${steps.join(", ").slice(0, 200)}`, {
      data: Object.fromEntries(steps.map((s) => [stepKey(s), stepRecordOf(r, s)])),
    }).finally(() => r.reports.delete(flush));
    r.reports.add(flush);
  }, wait);
}

/** Ends the pending flush; with `write`, what is still pending goes now. */
export async function flushSteps(r: Run, write: boolean): Promise<void> {
  clearTimeout(r.records.timer);
  r.records.timer = undefined;
  if (write && r.records.dirty.size)
    await updateRecord(r, "steps", {
      data: Object.fromEntries([...r.records.dirty].map((s) => [stepKey(s), stepRecordOf(r, s)])),
    });
}

/** The run's outcome, every step, and the outcome label. */
export async function writeOutcome(r: Run, outcome: RecordOutcome, failed: readonly string[]): Promise<void> {
  await updateRecord(r, "the run's outcome", {
    data: { [RUN_KEY]: head(r, outcome, r.now(), failed), ...allSteps(r) },
    metadata: { labels: { [OUTCOME_LABEL]: outcome } },
  });
}

/** Records of the pipeline beyond `history.keep`, oldest first, deleted (never this run's). */
export async function retain(r: Run): Promise<void> {
  const keep = r.plan.historyKeep ?? DEFAULT_HISTORY_KEEP;
  await bestEffort(r, "retention", async () => {
    const records = await r.api.listConfigMaps(recordSelector(r.plan.pipeline));
    const old = beyondRetention(
      records.map((c) => ({
        name: c.metadata?.name ?? "",
        createdAt: c.metadata?.creationTimestamp ? new Date(c.metadata.creationTimestamp).toISOString() : "",
      })),
      keep,
      recordName(r.id),
    );
    for (const name of old)
      await r.api
        .deleteConfigMap(name)
        .catch(
          (err: KubeError) =>
            err.status !== 404 && r.log.warn("record.delete-failed", { record: name, error: err.message }),
        );
    if (old.length) r.log.info("records.pruned", { deleted: old.length, keep });
  });
}
