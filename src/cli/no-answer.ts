/**
 * Why an HTTP request got no answer, in words that carry no part of its URL (a webhook URL or
 * an API token may be in it): timed out, refused, reset, host not found. Walks the `cause`
 * chain, where Node's fetch (undici) and Octokit put the system error. Shared by the pull-request
 * comment and the run manager's alerts.
 */
export function whyNoAnswer(err: unknown, fallback = "no response"): string {
  let e: unknown = err;
  for (let i = 0; i < 4 && e && typeof e === "object"; i++) {
    const x = e as { code?: string; name?: string; cause?: unknown };
    if (
      x.name === "TimeoutError" ||
      x.name === "AbortError" ||
      x.code === "UND_ERR_CONNECT_TIMEOUT" ||
      x.code === "ETIMEDOUT"
    )
      return "no answer in time";
    if (x.code === "ECONNREFUSED") return "connection refused";
    if (x.code === "ECONNRESET" || x.code === "UND_ERR_SOCKET") return "connection reset";
    if (x.code === "ENOTFOUND" || x.code === "EAI_AGAIN") return "host not found";
    e = x.cause;
  }
  return fallback;
}
