/**
 * Following the cluster: a list, then a watch from its resourceVersion, for as long as the run
 * goes on; one mechanism for the step Jobs, their pods and the run's own Job.
 */
import type { V1Job, V1Pod } from "@kubernetes/client-node";
import { cancelRequest } from "../contract/record.ts";
import type { KubeError } from "../kube/errors.ts";
import type { WatchEvent } from "../kube/kube.ts";
import { lost, observe, runningJobs } from "./attempts.ts";
import { forgetPod, seePod } from "./pods.ts";
import { backoffAfter, delay } from "./retry.ts";
import type { Run } from "./state.ts";

/**
 * Resumes after disconnects, lists again after 410 Gone (`relisted` gets the new list), backs
 * off on errors.
 */
async function follow<T extends { metadata?: { resourceVersion?: string } }>(
  r: Run,
  what: string,
  resourceVersion: string,
  watch: (rv: string, onEvent: (e: WatchEvent<T>) => void) => Promise<void>,
  list: () => Promise<{ items: T[]; resourceVersion: string }>,
  onEvent: (e: WatchEvent<T>) => void,
  relisted: (items: T[]) => void,
): Promise<void> {
  const finished = r.finished.signal;
  let rv = resourceVersion;
  let failures = 0;
  while (!finished.aborted) {
    let gone = false;
    const began = r.now();
    try {
      await watch(rv, (e) => {
        if (e.type === "ERROR") {
          gone ||= e.object.code === 410;
          return;
        }
        rv = e.object.metadata?.resourceVersion ?? rv;
        if (e.type !== "BOOKMARK") onEvent(e);
      });
      failures = r.now() - began < 1000 ? failures + 1 : 0;
    } catch (err) {
      gone ||= (err as KubeError).status === 410;
      failures += 1;
      r.log.warn("watch.failed", { watch: what, error: (err as Error).message, failures });
    }
    if (finished.aborted) return;
    if (gone) {
      // The resourceVersion is too old: list again, then watch from the list.
      try {
        const fresh = await list();
        relisted(fresh.items);
        rv = fresh.resourceVersion;
        r.log.info("watch.relisted", { watch: what, resourceVersion: rv });
        r.poke();
      } catch (err) {
        failures += 1;
        r.log.warn("watch.relist-failed", { watch: what, error: (err as Error).message });
      }
    }
    if (failures > 0) await delay(backoffAfter(r, failures), finished);
    if (!finished.aborted) r.log.info("watch.resumed", { watch: what, resourceVersion: rv });
  }
}

export function followJobs(r: Run, resourceVersion: string): Promise<void> {
  // The running Jobs as they were before a relist: one created while the list was in flight
  // may be missing from it, and must not be taken for deleted.
  let before: string[] = [];
  return follow<V1Job>(
    r,
    "jobs",
    resourceVersion,
    (rv, onEvent) => r.api.watchJobs(r.selector, rv, onEvent, r.finished.signal),
    () => ((before = runningJobs(r)), r.api.listJobs(r.selector)),
    (e) => (e.type === "DELETED" ? lost(r, e.object.metadata?.name ?? "", "JobDeleted") : observe(r, e.object, true)),
    (items) => {
      const names = new Set(items.map((j) => j.metadata?.name));
      items.forEach((j) => observe(r, j, true));
      before.filter((n) => !names.has(n)).forEach((n) => lost(r, n, "JobDeleted"));
    },
  );
}

export function followPods(r: Run, resourceVersion: string, first: readonly V1Pod[]): Promise<void> {
  first.forEach((p) => seePod(r, p));
  return follow<V1Pod>(
    r,
    "pods",
    resourceVersion,
    (rv, onEvent) => r.api.watchPods(r.selector, rv, onEvent, r.finished.signal),
    () => r.api.listPods(r.selector),
    (e) => (e.type === "DELETED" ? forgetPod(r, e.object) : seePod(r, e.object)),
    (items) => items.forEach((p) => seePod(r, p)),
  );
}

/** The run's own Job: a cancel request (`dagops cancel`) arrives as its annotation. */
export function followRunJob(r: Run, resourceVersion: string): Promise<void> {
  const seeRunJob = (job: V1Job) => {
    const asked = cancelRequest(job.metadata?.annotations);
    if (asked && !r.cancel) {
      r.cancel = asked;
      r.poke();
    }
  };
  return follow<V1Job>(
    r,
    "the run's Job",
    resourceVersion,
    (rv, onEvent) => r.api.watchRunJob(r.id.name, rv, onEvent, r.finished.signal),
    async () => {
      const job = await r.api.getJob(r.id.name);
      return { items: [job], resourceVersion: job.metadata?.resourceVersion ?? "" };
    },
    (e) => e.type !== "DELETED" && seeRunJob(e.object),
    (items) => items.forEach(seeRunJob),
  );
}
