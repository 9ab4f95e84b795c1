/**
 * The state of one run (`Run`): what it is, what it knows, and what is in flight, each part with
 * the module that owns it (run.ts lists them). Behaviour lives in those modules; this is data,
 * and the loop's wake-ups.
 */
import type { Plan } from "../contract/plan-format.ts";
import type { CancelRequest, LogPlaces, RunId, RunIntent } from "../contract/record.ts";
import type { Attempt, RetryDelay } from "../contract/scheduler.ts";
import { formatDuration } from "../contract/duration.ts";
import type { RunApi } from "../kube/kube.ts";
import { runSelector } from "./attempt.ts";
import { CONTAINER_CONFIG_MS, IMAGE_PULL_MS, type PodFacts } from "./diagnose.ts";
import type { LeaseHolder } from "./lease.ts";
import type { Logger } from "./log.ts";
import type { RunSummary } from "./summary.ts";

export type RunOutcome = "succeeded" | "failed" | "timed-out" | "stopped" | "cancelled" | "skipped";

export interface RunOptions {
  readonly plan: Plan;
  readonly run: RunId;
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

export interface RunResult {
  readonly outcome: RunOutcome;
  readonly summary: RunSummary;
}

/** The state of one run: what it is, what it knows, and what is in flight, each part with its owner. */
export class Run {
  readonly plan: Plan;
  readonly id: RunId;
  readonly api: RunApi;
  readonly log: Logger;
  readonly stop: AbortSignal;
  readonly options: RunOptions;
  readonly now: () => number;
  /** Multiplies every backoff and limit of time (tests shorten them). */
  readonly scale: number;
  /** The label selector of the run's step Jobs (and their pods). */
  readonly selector: string;

  // attempts.ts: the history of attempts, the scheduler's input and the record's content.
  readonly history: Map<string, { attempts: Attempt[] }>;
  /** Step Job name → step, for DELETED events. */
  readonly jobSteps = new Map<string, string>();
  /** Aborted when the loop ends: the watches and the pods' timers stop. */
  readonly finished = new AbortController();

  // intent.ts: set when the run begins, from its own Job.
  startedAt = 0;
  deadline = 0;
  scheduledAt: string | undefined;
  intent!: RunIntent;
  params: Readonly<Record<string, string>> = {};
  /** The run's folder under the cluster's `artifacts`, when it has them. */
  uri: string | undefined;

  // pods.ts
  readonly podLimits: { imagePullMs: number; configMs: number; schedulingMs: number; schedulingText: string };
  readonly waitingSince = new Map<string, { reason: string; since: number }>();
  readonly podTimers = new Map<string, NodeJS.Timeout>();
  /** Step Job name → what its pod said. */
  readonly podFactsOf = new Map<string, PodFacts>();
  readonly nodes = new Map<string, { instanceType?: string; capacityType?: string } | "pending">();
  nodesForbidden = false;

  // record-writer.ts: step keys behind the record, and the next flush.
  readonly records: { readonly dirty: Set<string>; timer: NodeJS.Timeout | undefined; lastFlush: number } = {
    dirty: new Set(),
    timer: undefined,
    lastFlush: 0,
  };
  /** Reports and record patches in flight, awaited before the run's own end. */
  readonly reports = new Set<Promise<void>>();
  /** The record's message at the end: why the run was cancelled or skipped. */
  endMessage: string | undefined;

  // reporting.ts
  eventSeq = 0;
  readonly progress: { text: string; at: number; timer: NodeJS.Timeout | undefined } = {
    text: "",
    at: -Infinity,
    timer: undefined,
  };

  // the cancel request (follow.ts), the Lease (lease.ts), the placeholders (prewarm.ts)
  cancel: CancelRequest | undefined;
  lease: LeaseHolder | undefined;
  placeholders: string[] = [];
  warm = false;

  // wake-ups: watch events, timers and signals all poke the loop; none is lost.
  private dirty = true;
  private wake: (() => void) | undefined;

  constructor(options: RunOptions) {
    this.options = options;
    ({ plan: this.plan, run: this.id, api: this.api, log: this.log, stop: this.stop } = options);
    this.now = options.now ?? Date.now;
    this.scale = options.backoffScale ?? 1;
    this.selector = runSelector(this.id);
    this.history = new Map(this.plan.steps.map((s) => [s.name, { attempts: [] }]));
    const scheduling = this.plan.schedulingTimeoutSeconds ?? 900;
    this.podLimits = {
      imagePullMs: IMAGE_PULL_MS * this.scale,
      configMs: CONTAINER_CONFIG_MS * this.scale,
      schedulingMs: scheduling * 1000 * this.scale,
      schedulingText: formatDuration(scheduling),
    };
    this.stop.addEventListener("abort", () => this.poke(), { once: true });
  }

  /** Something changed: the loop looks again. */
  poke(): void {
    this.dirty = true;
    this.wake?.();
  }

  /** Until poked, or until `at`. */
  sleepUntil(at: number | undefined): Promise<void> {
    return new Promise<void>((resolve) => {
      if (this.dirty) return resolve();
      const timer = at === undefined ? undefined : setTimeout(() => this.poke(), Math.max(0, at - this.now()));
      this.wake = () => {
        clearTimeout(timer);
        this.wake = undefined;
        resolve();
      };
    });
  }

  /** Takes the wake-up the loop is about to act on. */
  awake(): void {
    this.dirty = false;
  }

  get poked(): boolean {
    return this.dirty;
  }
}
