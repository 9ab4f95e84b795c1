/**
 * One sticky pull-request comment: found by a hidden marker, created once, then updated in place.
 * Duplicates (two racing workflow runs) are deleted, so a PR never shows two.
 *
 * GitHub errors become messages that say what to fix. 5xx answers and secondary rate limits are
 * retried with backoff (honouring `retry-after`). The token is never part of any message.
 */
import { Octokit } from "@octokit/rest";
import { whyNoAnswer } from "../cli/no-answer.ts";
import { DagopsError } from "../contract/errors.ts";

export const MARKER = "<!-- dagops:review -->";

export interface Target {
  readonly owner: string;
  readonly repo: string;
  readonly pr: number;
}

/** GitHub refused or did not answer; the message says what to fix (the token, the permissions, the PR). */
export class GitHubError extends DagopsError {
  readonly code = "GITHUB";
}

export interface Options {
  readonly token: string;
  /** `GITHUB_API_URL`: https://api.github.com, or a GitHub Enterprise Server's `/api/v3`. */
  readonly apiUrl: string;
  /** First retry delay; doubled per retry. */
  readonly retryBaseMs?: number;
  readonly retries?: number;
  /** Longest wait for one answer from GitHub. Default: 30 s. */
  readonly timeoutMs?: number;
  readonly log?: (line: string) => void;
}

/** The longest `retry-after` honoured: a longer one fails the job with the time to re-run it, instead of sleeping for hours. */
export const MAX_RETRY_AFTER_SECONDS = 60;

interface RequestError {
  status?: number;
  message?: string;
  response?: { headers?: Record<string, string | undefined>; data?: { message?: string } };
  cause?: unknown;
}

export function client(options: Options): Octokit {
  const quiet = () => {};
  const timeoutMs = options.timeoutMs ?? 30_000;
  // Every request with a deadline: a server that never answers must not hang the job.
  const timedFetch = (url: string | URL | Request, init?: RequestInit) =>
    fetch(url, { ...init, signal: AbortSignal.timeout(timeoutMs) });
  return new Octokit({
    auth: options.token,
    baseUrl: options.apiUrl.replace(/\/+$/, ""),
    userAgent: "dagops-pr-comment",
    log: { debug: quiet, info: quiet, warn: quiet, error: quiet },
    request: { fetch: timedFetch },
  });
}

/** What GitHub returned for a comment, checked: an answer without an id and a URL is no comment. */
function comment(what: string, data: unknown, target: Target): { id: number; url: string } {
  const c = data as { id?: unknown; html_url?: unknown } | null;
  if (!c || typeof c.id !== "number" || typeof c.html_url !== "string") {
    throw new GitHubError(
      `cannot ${what} on ${target.owner}/${target.repo}#${target.pr}: GitHub answered without the comment (no id or URL), so it may not exist. Re-run the job`,
    );
  }
  return { id: c.id, url: c.html_url };
}

export async function upsertComment(
  octokit: Octokit,
  target: Target,
  body: string,
  options: Options,
): Promise<{ action: "created" | "updated" | "unchanged"; id: number; url: string; deleted: number }> {
  const call = <T>(what: string, f: () => Promise<T>) => withRetries(what, f, target, options);
  const where = { owner: target.owner, repo: target.repo };
  const comments = await call("list the pull request's comments", () =>
    octokit.paginate(octokit.rest.issues.listComments, { ...where, issue_number: target.pr, per_page: 100 }),
  );
  if (!Array.isArray(comments))
    throw new GitHubError(
      `cannot list the comments of ${target.owner}/${target.repo}#${target.pr}: GitHub answered with something that is not a list. Re-run the job`,
    );
  // Entries that are not comments (null, no id) are skipped, never taken for ours.
  const ours = comments
    .filter(
      (c) =>
        c && typeof c === "object" && typeof c.id === "number" && typeof c.body === "string" && c.body.includes(MARKER),
    )
    .sort((a, b) => a.id - b.id);
  let deleted = 0;
  for (const extra of ours.slice(1)) {
    await call(`delete duplicate comment ${extra.id}`, () =>
      octokit.rest.issues.deleteComment({ ...where, comment_id: extra.id }),
    );
    deleted++;
  }
  const first = ours[0];
  if (!first) {
    const created = comment(
      "create the comment",
      (
        await call("create the comment", () =>
          octokit.rest.issues.createComment({ ...where, issue_number: target.pr, body }),
        )
      ).data,
      target,
    );
    return { action: "created", ...created, deleted };
  }
  if (first.body === body) return { action: "unchanged", id: first.id, url: first.html_url, deleted };
  const updated = comment(
    "update the comment",
    (
      await call("update the comment", () =>
        octokit.rest.issues.updateComment({ ...where, comment_id: first.id, body }),
      )
    ).data,
    target,
  );
  return { action: "updated", ...updated, deleted };
}

async function withRetries<T>(what: string, f: () => Promise<T>, target: Target, options: Options): Promise<T> {
  const retries = options.retries ?? 4;
  const base = options.retryBaseMs ?? 1000;
  for (let attempt = 0; ; attempt++) {
    try {
      return await f();
    } catch (err) {
      if (err instanceof GitHubError) throw err;
      const e = err as RequestError;
      // Octokit reports a request that got no answer (refused, reset, timed out) as status 500
      // without a response: that is no answer from GitHub, not a 500 from it.
      const answered = e.response !== undefined;
      const status = answered ? e.status : undefined;
      const headers = e.response?.headers ?? {};
      const message = e.response?.data?.message ?? e.message ?? "";
      const secondary =
        (status === 403 || status === 429) &&
        (headers["retry-after"] !== undefined || /secondary rate limit/i.test(message));
      const primary = (status === 403 || status === 429) && headers["x-ratelimit-remaining"] === "0" && !secondary;
      const transient = status === undefined || status >= 500 || secondary;
      const after = Number(headers["retry-after"]);
      if (transient && Number.isFinite(after) && after > MAX_RETRY_AFTER_SECONDS) {
        throw new GitHubError(
          `cannot ${what} on ${target.owner}/${target.repo}#${target.pr}: GitHub asked to wait ${after} s before trying again (${status}${secondary ? ", secondary rate limit" : ""}), longer than the ${MAX_RETRY_AFTER_SECONDS} s this job waits. Re-run the job after ${new Date(Date.now() + after * 1000).toISOString()}`,
        );
      }
      if (transient && !primary && attempt < retries) {
        const wait = Number.isFinite(after) && after >= 0 ? after * 1000 : base * 2 ** attempt;
        options.log?.(
          `dagops pr-comment: ${what}: ${status ?? "network error"}${secondary ? " (secondary rate limit)" : ""}; retrying in ${Math.round(wait / 100) / 10}s\n`,
        );
        await new Promise((r) => setTimeout(r, wait));
        continue;
      }
      const cause = answered ? "" : whyNoAnswer(err);
      throw new GitHubError(explain(what, status, cause || message, headers, target, primary));
    }
  }
}

function explain(
  what: string,
  status: number | undefined,
  message: string,
  headers: Record<string, string | undefined>,
  t: Target,
  primaryRateLimit: boolean,
): string {
  const pr = `${t.owner}/${t.repo}#${t.pr}`;
  const said = message ? ` GitHub said: "${message}".` : "";
  if (primaryRateLimit) {
    const reset = Number(headers["x-ratelimit-reset"]);
    return `cannot ${what} on ${pr}: the API rate limit is used up${Number.isFinite(reset) ? ` until ${new Date(reset * 1000).toISOString()}` : ""}. Re-run the job after that; GITHUB_TOKEN in Actions allows 1,000 requests per hour per repository.`;
  }
  switch (status) {
    case 401:
      return `cannot ${what} on ${pr}: GitHub rejected the token (401).${said} In GitHub Actions pass env GITHUB_TOKEN: \${{ secrets.GITHUB_TOKEN }}; elsewhere use a token that has not expired or been revoked.`;
    case 403:
      return `cannot ${what} on ${pr}: the token is not allowed to (403).${said} Give the workflow "permissions: pull-requests: write". Pull requests from forks get a read-only token: the workflow skips the comment for them and writes the report to the job summary instead.`;
    case 404:
      return `cannot ${what}: ${pr} was not found (404).${said} Check the repository (GITHUB_REPOSITORY or --repo) and the pull request number (--pr); a token without access to a private repository also gets 404.`;
    case 422:
      return `cannot ${what} on ${pr}: GitHub refused the request (422).${said}`;
    case undefined:
      return `cannot ${what} on ${pr}: the GitHub API did not answer (${message || "no response"}). Check GITHUB_API_URL and the network.`;
    default:
      return `cannot ${what} on ${pr}: GitHub answered ${status}.${said}`;
  }
}
