/**
 * Waiting and retrying: the calls a run cannot do without are retried on transient errors with
 * backoff; every wait ends at SIGTERM.
 */
import { isTransient } from "../kube/errors.ts";
import { DagopsError } from "../contract/errors.ts";
import type { Logger } from "./log.ts";

/** The run manager was stopped (SIGTERM) before the run could begin: exit as stopped. */
export class StoppedError extends DagopsError {
  readonly code = "STOPPED";
}

/** The API server kept answering with transient errors for the whole retry budget: let the pod be retried. */
export class TransientError extends DagopsError {
  readonly code = "API_UNAVAILABLE";
}

/** Longest wait between tries when the API server is unreachable or failing. */
const MAX_BACKOFF_MS = 30_000;
/** How long a call that must succeed (the run's own Job, the list of its steps) is retried on transient errors. */
const RETRY_BUDGET_MS = 10 * 60_000;

/** What retrying needs of a run: its clock, its stop signal, its log, and the backoffs' scale (tests shorten them). */
export interface Retrier {
  readonly now: () => number;
  readonly stop: AbortSignal;
  readonly log: Logger;
  readonly scale: number;
}

export const maxBackoff = (r: Retrier) => MAX_BACKOFF_MS * r.scale;

/** The wait after `failures` failures in a row: 250 ms doubling, at most MAX_BACKOFF_MS (scaled). */
export const backoffAfter = (r: Retrier, failures: number) =>
  Math.min(maxBackoff(r), 250 * r.scale * 2 ** Math.min(7, failures - 1));

/**
 * A call the run cannot do without, retried on transient errors (no answer, 429, 5xx) with
 * backoff for up to RETRY_BUDGET_MS; a definite answer (401, 403, 404, …) is thrown at once.
 * SIGTERM ends the wait, even for a call that hangs.
 */
export async function essential<T>(r: Retrier, what: string, call: () => Promise<T>): Promise<T> {
  const giveUpAt = r.now() + RETRY_BUDGET_MS * r.scale;
  for (let failures = 1; ; failures++) {
    if (r.stop.aborted) throw new StoppedError(`stopped while waiting to ${what}`);
    try {
      return await untilStopped(call(), r.stop, what);
    } catch (err) {
      if (err instanceof StoppedError || !isTransient(err)) throw err;
      if (r.now() >= giveUpAt)
        throw new TransientError(
          `${(err as Error).message} (still failing after ${Math.round((RETRY_BUDGET_MS * r.scale) / 1000)} s of retries)`,
        );
      r.log.warn("api.retry", { call: what, error: (err as Error).message, failures });
      await delay(backoffAfter(r, failures), r.stop);
    }
  }
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
