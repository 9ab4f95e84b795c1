/**
 * One run at a time: the pipeline's `coordination.k8s.io` Lease (`<pipeline>-run`), held by the
 * run going on, whoever started it (the schedule, `dagops start`, a backfill). The holder renews
 * it every third of its duration; a holder that crashed stops renewing and the Lease expires, so a
 * later run proceeds. Holder identity is the run's name: a restarted pod of the same run (after an
 * eviction) takes it back at once.
 *
 * Every write is a replace guarded by resourceVersion: two newcomers racing for a free Lease get
 * one 200 and one 409, and the loser reads it again.
 */
import type { V1Lease } from "@kubernetes/client-node";
import { outcomeOf } from "./attempt.ts";
import { KubeError } from "../kube/errors.ts";
import type { RunApi } from "../kube/kube.ts";
import { leaseName, RUN_ANNOTATION } from "../contract/record.ts";
import { LABEL, MANAGED_BY } from "../contract/labels.ts";
import { leaseLapsed } from "../contract/status.ts";
import type { Logger } from "./log.ts";

export type Acquired =
  | { readonly acquired: true }
  | { readonly acquired: false; readonly holder: string; readonly message: string };

/** MicroTime as the API server parses it (RFC 3339 with exactly six fractional digits); client-node would send milliseconds. */
export function microTime(ms: number): Date {
  return new Date(ms).toISOString().replace(/\.(\d{3})Z$/, ".$1000Z") as unknown as Date;
}

export class LeaseHolder {
  private renewTimer: NodeJS.Timeout | undefined;
  readonly name: string;

  constructor(
    private readonly o: {
      readonly api: RunApi;
      readonly log: Logger;
      readonly pipeline: string;
      readonly run: string;
      readonly now: () => number;
      /** leaseDurationSeconds. */
      readonly seconds: number;
      readonly stop: AbortSignal;
      /** Wraps each call: the run manager's retries on transient errors. */
      readonly call: <T>(what: string, f: () => Promise<T>) => Promise<T>;
    },
  ) {
    this.name = leaseName(o.pipeline);
  }

  /**
   * Takes the Lease, or says who holds it. `forbid`: a live holder wins and this run is skipped.
   * `replace`: the holder is asked to cancel (the cancel annotation on its Job), then this run
   * waits for the Lease to be released or to expire.
   */
  async acquire(policy: "forbid" | "replace"): Promise<Acquired> {
    const { api, log, run, now, seconds } = this.o;
    let askedToCancel: string | undefined;
    const giveUpAt = now() + seconds * 3 * 1000;
    for (;;) {
      if (this.o.stop.aborted)
        return { acquired: false, holder: "", message: "stopped before the pipeline's Lease was taken" };
      const current = await this.o
        .call(`read lease ${this.name}`, () => api.getLease(this.name))
        .catch((err: unknown) => {
          if (err instanceof KubeError && err.status === 404) return undefined;
          throw err;
        });
      if (!current) {
        const created = await this.o
          .call(`create lease ${this.name}`, () => api.createLease(this.lease(undefined, 0)))
          .catch((err: unknown) => {
            if (err instanceof KubeError && err.status === 409) return undefined; // another run created it first: read it again
            throw err;
          });
        if (created) return this.took(undefined);
        continue;
      }
      const holder = current.spec?.holderIdentity ?? "";
      const free = holder === "" || holder === run || this.expired(current) || (await this.ended(holder));
      if (free) {
        const taken = await this.o
          .call(`update lease ${this.name}`, () =>
            api.replaceLease(this.name, this.lease(current, holder === run || holder === "" ? 0 : 1)),
          )
          .catch((err: unknown) => {
            if (err instanceof KubeError && err.status === 409) return undefined; // raced: read it again
            throw err;
          });
        if (taken) return this.took(holder);
        continue;
      }
      if (policy === "forbid")
        return {
          acquired: false,
          holder,
          message: `run ${holder} of ${this.o.pipeline} is going on, and the pipeline's concurrency is forbid: this run did nothing`,
        };
      if (askedToCancel !== holder) {
        askedToCancel = holder;
        const request = JSON.stringify({
          by: `run ${run}`,
          reason: "replaced by a newer run (concurrency: replace)",
          at: new Date(now()).toISOString(),
        });
        await api
          .annotateJob(holder, { [RUN_ANNOTATION.cancel]: request })
          .catch((err: Error) => log.warn("lease.cancel-failed", { holder, error: err.message }));
        log.info("lease.replacing", { holder, message: `asked run ${holder} to cancel; waiting for it to end` });
      }
      if (now() >= giveUpAt)
        return {
          acquired: false,
          holder,
          message: `run ${holder} of ${this.o.pipeline} was asked to cancel (concurrency: replace) but still holds the pipeline after ${seconds * 3}s: this run did nothing`,
        };
      await new Promise((r) => setTimeout(r, Math.min(1000, (seconds * 1000) / 4)));
    }
  }

  /** Gives the Lease up at the end of a run: the next run need not wait for it to expire. */
  async release(): Promise<void> {
    this.stopRenewing();
    const { api, log, run } = this.o;
    try {
      const current = await api.getLease(this.name);
      if (current.spec?.holderIdentity !== run) return;
      await api.replaceLease(this.name, {
        ...current,
        spec: { ...current.spec, holderIdentity: "", leaseDurationSeconds: 1 },
      });
      log.info("lease.released", { lease: this.name });
    } catch (err) {
      log.warn("lease.release-failed", {
        lease: this.name,
        error: (err as Error).message,
        message: "the next run waits for the Lease to expire",
      });
    }
  }

  stopRenewing(): void {
    clearInterval(this.renewTimer);
    this.renewTimer = undefined;
  }

  private took(from: string | undefined): Acquired {
    this.o.log.info("lease.acquired", {
      lease: this.name,
      ...(from && from !== this.o.run ? { from } : {}),
      seconds: this.o.seconds,
    });
    this.renewTimer = setInterval(() => void this.renew(), (this.o.seconds * 1000) / 3);
    this.renewTimer.unref();
    return { acquired: true };
  }

  private async renew(): Promise<void> {
    const { api, log, run } = this.o;
    try {
      const current = await api.getLease(this.name);
      if (current.spec?.holderIdentity !== run) {
        log.warn("lease.lost", {
          lease: this.name,
          holder: current.spec?.holderIdentity,
          message: "another run took the pipeline's Lease after it expired (was the API server unreachable?)",
        });
        return this.stopRenewing();
      }
      await api.replaceLease(this.name, { ...current, spec: { ...current.spec, renewTime: microTime(this.o.now()) } });
    } catch (err) {
      log.warn("lease.renew-failed", { lease: this.name, error: (err as Error).message });
    }
  }

  private expired(lease: V1Lease): boolean {
    return leaseLapsed(lease.spec, this.o.now(), this.o.seconds);
  }

  /** The holder's Job is gone or finished: its Lease is stale even before it expires. */
  private async ended(holder: string): Promise<boolean> {
    try {
      return outcomeOf(await this.o.api.getJob(holder)).outcome !== "running";
    } catch (err) {
      return err instanceof KubeError && err.status === 404;
    }
  }

  private lease(current: V1Lease | undefined, transitions: number): V1Lease {
    const at = microTime(this.o.now());
    return {
      apiVersion: "coordination.k8s.io/v1",
      kind: "Lease",
      metadata: current?.metadata ?? {
        name: this.name,
        labels: { [LABEL.managedBy]: MANAGED_BY, [LABEL.pipeline]: this.o.pipeline },
      },
      spec: {
        holderIdentity: this.o.run,
        leaseDurationSeconds: this.o.seconds,
        acquireTime: at,
        renewTime: at,
        leaseTransitions: (current?.spec?.leaseTransitions ?? 0) + transitions,
      },
    };
  }
}
