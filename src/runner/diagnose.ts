/**
 * What a step's pod says that its Job does not: why it cannot start (an image that cannot be
 * pulled, a missing Secret or ConfigMap, no node for it), and how its container ended (killed
 * for memory, exit code, the last log lines kept by `FallbackToLogsOnError`). Pure functions of
 * the pod and the clock; run.ts acts on them.
 */
import type { V1ContainerStatus, V1Pod } from "@kubernetes/client-node";

export const IMAGE_PULL_MS = 3 * 60_000;
export const CONTAINER_CONFIG_MS = 2 * 60_000;
/** A kept log tail is cut to this many characters (the kubelet keeps at most 2 KiB or 80 lines). */
export const MAX_TAIL = 2048;

const IMAGE_REASONS = new Set(["ErrImagePull", "ImagePullBackOff", "InvalidImageName"]);

export interface Verdict {
  /** A short, stable cause: `ImagePullFailed`, `ContainerConfigError`, `Unschedulable`. */
  readonly reason: string;
  /** What happened, in the kubelet's or scheduler's words. */
  readonly message: string;
  /** Retrying cannot help: the step fails without spending retries. */
  readonly final: boolean;
}

export interface PodFacts {
  readonly node?: string;
  readonly exitCode?: number;
  readonly oomKilled: boolean;
  /** The container's last log lines, when it failed. */
  readonly tail?: string;
}

function statuses(pod: V1Pod): V1ContainerStatus[] {
  return [...(pod.status?.initContainerStatuses ?? []), ...(pod.status?.containerStatuses ?? [])];
}

export function podFacts(pod: V1Pod): PodFacts {
  const ended = statuses(pod)
    .map((s) => s.state?.terminated ?? s.lastState?.terminated)
    .filter((t) => t !== undefined);
  const failed = ended.find((t) => (t!.exitCode ?? 0) !== 0) ?? ended[0];
  const tail = failed && (failed.exitCode ?? 0) !== 0 && failed.message ? failed.message.slice(-MAX_TAIL) : undefined;
  return {
    ...(pod.spec?.nodeName ? { node: pod.spec.nodeName } : {}),
    ...(failed?.exitCode !== undefined ? { exitCode: failed.exitCode } : {}),
    oomKilled: ended.some((t) => t!.reason === "OOMKilled"),
    ...(tail ? { tail } : {}),
  };
}

/**
 * A verdict when a waiting state has lasted its limit, else when to look again. `seen` keeps,
 * per pod, since when the current waiting reason has been observed (the API gives no time for
 * it); the scheduler's condition carries its own.
 */
export function diagnose(
  pod: V1Pod,
  now: number,
  seen: Map<string, { reason: string; since: number }>,
  limits: { imagePullMs: number; configMs: number; schedulingMs: number; schedulingText: string },
): { verdict?: Verdict; checkAt?: number } {
  const key = pod.metadata?.uid ?? pod.metadata?.name ?? "";
  const waiting = statuses(pod)
    .map((s) => ({ image: s.image, w: s.state?.waiting }))
    .find((x) => x.w?.reason && (IMAGE_REASONS.has(x.w.reason) || x.w.reason === "CreateContainerConfigError"));
  if (waiting) {
    const reason = waiting.w!.reason!;
    const kind = IMAGE_REASONS.has(reason) ? "image" : "config";
    const before = seen.get(key);
    const since =
      before && (before.reason === reason || (IMAGE_REASONS.has(before.reason) && kind === "image"))
        ? before.since
        : now;
    seen.set(key, { reason, since });
    const limit = kind === "image" ? limits.imagePullMs : limits.configMs;
    if (now - since < limit) return { checkAt: since + limit };
    return {
      verdict:
        kind === "image"
          ? {
              reason: "ImagePullFailed",
              message: `image ${waiting.image ?? "(unknown)"} cannot be pulled: ${waiting.w!.message ?? reason}`,
              final: true,
            }
          : {
              reason: "ContainerConfigError",
              message: `the container cannot be created: ${waiting.w!.message ?? reason}`,
              final: true,
            },
    };
  }
  seen.delete(key);
  const scheduled = pod.status?.conditions?.find((c) => c.type === "PodScheduled");
  if (pod.status?.phase === "Pending" && scheduled?.status === "False" && scheduled.reason === "Unschedulable") {
    const since = scheduled.lastTransitionTime ? new Date(scheduled.lastTransitionTime).getTime() : now;
    if (now - since < limits.schedulingMs) return { checkAt: since + limits.schedulingMs };
    return {
      verdict: {
        reason: "Unschedulable",
        message: `no node could take the pod within schedulingTimeout (${limits.schedulingText}): ${scheduled.message ?? "unschedulable"}`,
        final: false,
      },
    };
  }
  return {};
}
