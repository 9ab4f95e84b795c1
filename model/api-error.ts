/**
 * What a failed Kubernetes API call comes down to, from @kubernetes/client-node's errors: the
 * HTTP status (none when no answer came) and the API server's own message (its Status body),
 * first line only. Shared by the run manager and the `dagops` command. Never the request options:
 * they may carry the bearer token.
 */
export function apiErrorParts(err: unknown): { status: number | undefined; detail: string } {
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
  return { status, detail: detail.split("\n")[0]! };
}
