/**
 * How Kubernetes objects report what became of them, read the same way by the run manager and
 * the `dagops` command: a Job's terminal condition, and whether a Lease has lapsed. Pure, and
 * typed structurally so that both client-node's models and plain JSON fit.
 */

export interface JobCondition {
  readonly type: string;
  readonly status: string;
  readonly reason?: string;
  readonly message?: string;
  readonly lastTransitionTime?: string | Date;
}

/** The Job's `Complete` or `Failed` condition when it has ended, else undefined. */
export function finishedCondition(
  job: { readonly status?: { readonly conditions?: readonly JobCondition[] } } | undefined,
): JobCondition | undefined {
  return job?.status?.conditions?.find((c) => (c.type === "Complete" || c.type === "Failed") && c.status === "True");
}

/** A Lease nobody renewed within its duration (`fallbackSeconds` when it names none): free to take. */
export function leaseLapsed(
  spec:
    | {
        readonly renewTime?: string | Date;
        readonly acquireTime?: string | Date;
        readonly leaseDurationSeconds?: number;
      }
    | undefined,
  now: number,
  fallbackSeconds: number,
): boolean {
  const renewed = spec?.renewTime ?? spec?.acquireTime;
  return (
    renewed === undefined || new Date(renewed).getTime() + (spec?.leaseDurationSeconds ?? fallbackSeconds) * 1000 < now
  );
}
