/**
 * Pods: failures named early (an image that cannot be pulled, a container that cannot be
 * created, a pod that stays unschedulable), and what a pod says about its attempt: the node, its
 * instance and capacity type, the exit code, out of memory, the last log lines.
 */
import type { V1Pod } from "@kubernetes/client-node";
import { LABEL } from "../contract/labels.ts";
import type { Attempt } from "../contract/scheduler.ts";
import type { KubeError } from "../kube/errors.ts";
import { attemptAt, record } from "./attempts.ts";
import { diagnose, podFacts, type Verdict } from "./diagnose.ts";
import { recordStep } from "./record-writer.ts";
import type { Run } from "./state.ts";

export function seePod(r: Run, pod: V1Pod): void {
  const job = pod.metadata?.labels?.["batch.kubernetes.io/job-name"] ?? pod.metadata?.labels?.["job-name"];
  if (!job || r.finished.signal.aborted) return;
  r.podFactsOf.set(job, podFacts(pod));
  enrich(r, job);
  const key = pod.metadata?.uid ?? pod.metadata?.name ?? job;
  clearTimeout(r.podTimers.get(key));
  r.podTimers.delete(key);
  const { verdict, checkAt } = diagnose(pod, r.now(), r.waitingSince, r.podLimits);
  if (verdict) void endEarly(r, job, verdict);
  // No event comes when a waiting state simply lasts: look again when its limit is reached.
  else if (checkAt !== undefined)
    r.podTimers.set(
      key,
      setTimeout(() => seePod(r, pod), Math.max(0, checkAt - r.now()) + 5),
    );
}

export function forgetPod(r: Run, pod: V1Pod): void {
  const key = pod.metadata?.uid ?? pod.metadata?.name ?? "";
  clearTimeout(r.podTimers.get(key));
  r.podTimers.delete(key);
  r.waitingSince.delete(key);
}

/** A pod that cannot start: fail its attempt now, with the cause, and delete its Job (with the pod). */
async function endEarly(r: Run, job: string, verdict: Verdict): Promise<void> {
  const at = attemptAt(r, job);
  const a = at && r.history.get(at.step)!.attempts[at.i];
  if (!at || !a || a.outcome !== "running") return;
  r.log.warn("step.cannot-start", {
    step: at.step,
    attempt: a.attempt,
    job,
    reason: verdict.reason,
    message: verdict.message,
    spendsRetry: !verdict.final,
  });
  record(
    r,
    at.step,
    {
      ...a,
      outcome: "failed",
      reason: verdict.reason,
      message: verdict.message,
      ...(verdict.final ? { final: true } : {}),
      finishedAt: r.now(),
    },
    true,
  );
  await r.api
    .deleteJob(job)
    .catch((err: KubeError) => err.status !== 404 && r.log.warn("step.delete-failed", { job, error: err.message }));
}

/**
 * A node's instance type and capacity type, from its labels (a ClusterRole allows get on nodes
 * and nothing else). One read per node; without the permission, records just lack them.
 */
function nodeOf(r: Run, name: string): { instanceType?: string; capacityType?: string } | undefined {
  const known = r.nodes.get(name);
  if (known !== undefined) return known === "pending" ? undefined : known;
  if (r.nodesForbidden) return undefined;
  r.nodes.set(name, "pending");
  r.api.getNode(name).then(
    (node) => {
      const labels = node.metadata?.labels ?? {};
      r.nodes.set(name, {
        ...(labels["node.kubernetes.io/instance-type"]
          ? { instanceType: labels["node.kubernetes.io/instance-type"] }
          : {}),
        ...(labels[LABEL.capacityType] ? { capacityType: labels[LABEL.capacityType] } : {}),
      });
      for (const [j, f] of r.podFactsOf) if (f.node === name) enrich(r, j);
    },
    (err: KubeError) => {
      r.nodes.set(name, {});
      if (err.status === 403 || err.status === 401) {
        r.nodesForbidden = true;
        r.log.warn("nodes.unavailable", {
          error: err.message,
          message: "run records will not name instance types (the run manager's ClusterRole allows get on nodes)",
        });
      }
    },
  );
  return undefined;
}

/** Adds what the pod said (node, exit code, out of memory, last log lines) to its attempt. */
export function enrich(r: Run, job: string, patch = true): void {
  const f = r.podFactsOf.get(job);
  const at = attemptAt(r, job);
  if (!f || !at) return;
  const attempts = r.history.get(at.step)!.attempts as Attempt[];
  const a = attempts[at.i]!;
  const ended = a.outcome !== "running";
  const limit = r.plan.steps.find((s) => s.name === at.step)?.job.spec?.template?.spec?.containers?.[0]?.resources
    ?.limits?.memory;
  const node = f.node ? nodeOf(r, f.node) : undefined;
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
  if (ended && patch) recordStep(r, at.step);
}

/**
 * The pods' last word: a container's end (out of memory, its last log lines) can arrive after
 * its Job's failure, and the watch is over. One list settles it before the record is closed.
 */
export async function lastWord(r: Run): Promise<void> {
  if (![...r.history.values()].some((h) => h.attempts.some((a) => a.outcome === "failed" && !a.message))) return;
  const pods = await r.api.listPods(r.selector).catch(() => undefined);
  for (const pod of pods?.items ?? []) {
    const job = pod.metadata?.labels?.["batch.kubernetes.io/job-name"];
    if (job) r.podFactsOf.set(job, podFacts(pod));
    if (job) enrich(r, job, false);
  }
}
