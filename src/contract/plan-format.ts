/**
 * The plan document: the contract between `synth`, which writes it into the plan ConfigMap, and
 * the run manager, which reads it. Types and one constant only, so the run-manager image carries
 * none of the synth code.
 */
import type { IJob } from "kubernetes-models/batch/v1/Job";
import type { ParamDeclaration } from "./params.ts";

export const PLAN_API_VERSION = "dagops.dev/v1alpha1";

export interface PlanStep {
  readonly name: string;
  readonly dependsOn: readonly string[];
  readonly capacity: "spot" | "on-demand";
  /** Failed attempts (exit code, timeout) retried after the first; interruptions do not count. */
  readonly retries: number;
  /** Spot interruptions after which the next attempts run on `onDemandNodePool`; null: never. */
  readonly onDemandAfterInterruptions: number | null;
  /** How long the step usually runs, for the cost model; null when the definition gives none. */
  readonly estimateSeconds: number | null;
  /** The Job of one attempt, without name: the run manager names it per run and attempt. */
  readonly job: IJob;
}

export interface Plan {
  readonly apiVersion: typeof PLAN_API_VERSION;
  readonly kind: "Plan";
  readonly pipeline: string;
  readonly namespace: string;
  readonly source: string;
  readonly maxParallel: number;
  /** Longest the whole run may take; the run manager then cancels it. */
  readonly runTimeoutSeconds: number;
  /** Run records of this pipeline kept in the cluster (`history.keep`); older ones are deleted at the end of a run. Absent in older plans: 50. */
  readonly historyKeep?: number;
  /** An attempt whose pod stays unschedulable this long fails (spending a retry). Absent in older plans: 900. */
  readonly schedulingTimeoutSeconds?: number;
  /** Alerts at the end of a run. Absent in older plans: none. */
  readonly notify?: readonly {
    readonly on: readonly string[];
    readonly secret: { readonly name: string; readonly key: string };
    readonly format: "slack" | "json";
  }[];
  /** Overlapping runs: `forbid`, `allow` or `replace`, enforced with a Lease per pipeline. Absent in older plans: forbid. */
  readonly concurrency?: "forbid" | "allow" | "replace";
  /** The schedule's time zone: the day of `scheduled-date`. Absent in older plans: Etc/UTC. */
  readonly timeZone?: string;
  /** Declared run parameters. Absent: none. */
  readonly params?: Readonly<Record<string, ParamDeclaration>>;
  /** The NodePool a step falls back to after repeated Spot interruptions. */
  readonly onDemandNodePool: string;
  readonly steps: readonly PlanStep[];
  /** With `prewarm: true`: placeholder Jobs the run manager creates at run start. */
  readonly placeholders?: readonly IJob[];
}
