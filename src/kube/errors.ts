/**
 * The errors of the one Kubernetes client layer, shared by the run manager and the `dagops`
 * command: a failed API call (`KubeError`) and a kubeconfig that cannot be used
 * (`KubeConfigError`).
 */
import { DagopsError } from "../contract/errors.ts";

/** A failed API call: what was being done (`get cronjob dagops-x/x`), the HTTP status (none when no answer came), the server's message. */
export class KubeError extends DagopsError {
  readonly code = "KUBE_API";

  constructor(
    readonly status: number | undefined,
    readonly what: string,
    readonly detail: string,
  ) {
    super(`${what}: ${status !== undefined ? `HTTP ${status}: ` : ""}${detail}`);
  }
}

/** A kubeconfig or context that cannot be used (missing, empty, not YAML, no cluster or user): said before any request is made. */
export class KubeConfigError extends DagopsError {
  readonly code = "KUBECONFIG";
}

/**
 * What a failed call of @kubernetes/client-node comes down to: the HTTP status and the API
 * server's own message (its Status body), first line only. Never the request options: they may
 * carry the bearer token.
 */
export function asKubeError(what: string, err: unknown): KubeError {
  const e = err as { code?: unknown; statusCode?: unknown; body?: unknown; message?: string };
  const status = typeof e.code === "number" ? e.code : typeof e.statusCode === "number" ? e.statusCode : undefined;
  let detail = e.message ?? String(err);
  if (typeof e.body === "string") {
    try {
      detail = (JSON.parse(e.body) as { message?: string }).message ?? detail;
    } catch {
      // not JSON: keep the client's message
    }
  }
  return new KubeError(status, what, detail.split("\n")[0]!);
}

/**
 * Worth trying again: no answer at all (connection refused or reset, DNS, TLS, timeout), 429
 * (throttled) and 5xx. Anything else (401, 403, 404, 409, 422) is a definite answer.
 */
export function isTransient(err: unknown): boolean {
  if (!(err instanceof KubeError)) return false;
  return err.status === undefined || err.status === 429 || err.status >= 500;
}
