/** `npm run pr-comment -- --base <ref>`: the review, as one sticky comment on the pull request. */
import { readFile } from "node:fs/promises";
import type { Target } from "../review/github.ts";
import { GITHUB_COMMENT_LIMIT, renderMarkdown, type ReviewDocument } from "../review/markdown.ts";
import { GitError } from "../review/git.ts";
import { review } from "./diff.ts";
import { EXIT, parseCommand, runIfMain, type Io } from "../cli/kit.ts";
import { openRepository } from "../write/tree.ts";

const HELP = `Usage: npm run pr-comment -- (--base <ref> | --report <file>) [--repo <owner/name>] [--pr <number>]

Renders the same report as \`npm run diff\` (or reads one made earlier with --report, the JSON of
\`npm run diff -- --json\`) and creates or updates exactly one comment on the pull request, found
by a hidden marker. Reports longer than GitHub's 65,536 characters keep the summary and cut the
raw diff, with a note on how to get the rest.

The token comes from the environment only (GITHUB_TOKEN, or GH_TOKEN), never from a flag:
flags end up in shell history and process listings. The repository and the pull request come
from GitHub Actions (GITHUB_REPOSITORY, GITHUB_EVENT_PATH) or from the flags. GITHUB_API_URL
selects a GitHub Enterprise Server.

Options:
  --base <ref>          compare generated/ at <ref> with the working tree
  --report <file>       use this JSON report instead of computing one
  --check-report <file> with --base: use this \`npm run check -- --json\` result
  --repo <owner/name>   default: GITHUB_REPOSITORY
  --pr <number>         default: the pull request of GITHUB_EVENT_PATH
  --root <dir>          repository root (default: the current directory)
  -h, --help            show this help

Exit codes:
  0  the comment was created, updated, or already current
  1  GitHub refused (the message says what to fix)
  2  usage, configuration or git error
`;

export interface PrCommentOptions {
  readonly retryBaseMs?: number;
  /** Longest wait for one answer from GitHub (default 30 s); tests shorten it. */
  readonly timeoutMs?: number;
}

export async function main(argv: string[], io: Io, options: PrCommentOptions = {}): Promise<number> {
  const parsed = parseCommand(
    "pr-comment",
    argv,
    io,
    {
      base: { type: "string" },
      report: { type: "string" },
      "check-report": { type: "string" },
      repo: { type: "string" },
      pr: { type: "string" },
      root: { type: "string" },
    } as const,
    HELP,
  );
  if (parsed.kind === "exit") return parsed.exit;
  const { values } = parsed;
  const env = io.env;
  const token = env.GITHUB_TOKEN || env.GH_TOKEN;
  const say = (stream: (t: string) => void, text: string) => stream(token ? text.split(token).join("***") : text);
  const fail = (code: number, message: string) => (say(io.stderr, `dagops pr-comment: ${message}\n`), code);

  if (!values.base === !values.report) return fail(EXIT.usage, "give exactly one of --base <ref> or --report <file>");
  if (!token)
    return fail(
      EXIT.usage,
      "no token: set GITHUB_TOKEN (in GitHub Actions: env: GITHUB_TOKEN: ${{ secrets.GITHUB_TOKEN }})",
    );
  const target = await resolveTarget(values.repo, values.pr, env);
  if (typeof target === "string") return fail(EXIT.usage, target);

  let doc: ReviewDocument;
  try {
    if (values.report) doc = JSON.parse(await readFile(values.report, "utf8")) as ReviewDocument;
    else
      doc = await review(
        await openRepository("pr-comment", values.root, io),
        values.base!,
        undefined,
        values["check-report"],
      );
  } catch (err) {
    if (err instanceof GitError || (err as NodeJS.ErrnoException).code === "ENOENT" || err instanceof SyntaxError)
      return fail(EXIT.usage, (err as Error).message);
    throw err;
  }
  // Octokit is loaded only now: `--help` and usage errors do not need it.
  const { client, GitHubError, MARKER, upsertComment } = await import("../review/github.ts");
  const body = `${MARKER}\n${renderMarkdown(doc, GITHUB_COMMENT_LIMIT - MARKER.length - 1)}`;
  const github = {
    token,
    apiUrl: env.GITHUB_API_URL || "https://api.github.com",
    ...(options.retryBaseMs !== undefined ? { retryBaseMs: options.retryBaseMs } : {}),
    ...(options.timeoutMs !== undefined ? { timeoutMs: options.timeoutMs } : {}),
    log: (t: string) => say(io.stderr, t),
  };
  try {
    const result = await upsertComment(client(github), target, body, github);
    say(
      io.stdout,
      `dagops pr-comment: ${result.action} ${result.url} (${body.length} characters${result.deleted ? `; deleted ${result.deleted} duplicate${result.deleted === 1 ? "" : "s"}` : ""})\n`,
    );
    return EXIT.ok;
  } catch (err) {
    if (err instanceof GitHubError) return fail(EXIT.problems, err.message);
    throw err;
  }
}

async function resolveTarget(
  repoFlag: string | undefined,
  prFlag: string | undefined,
  env: Io["env"],
): Promise<Target | string> {
  const repo = repoFlag ?? env.GITHUB_REPOSITORY;
  const m = repo ? /^([\w.-]+)\/([\w.-]+)$/.exec(repo) : null;
  if (!m)
    return `no repository: pass --repo <owner/name> or set GITHUB_REPOSITORY (found ${JSON.stringify(repo ?? null)})`;
  let pr = prFlag !== undefined ? Number(prFlag) : undefined;
  if (pr === undefined && env.GITHUB_EVENT_PATH) {
    try {
      const event = JSON.parse(await readFile(env.GITHUB_EVENT_PATH, "utf8")) as {
        pull_request?: { number?: number };
        number?: number;
      };
      pr = event.pull_request?.number ?? event.number;
    } catch (err) {
      return `cannot read the GitHub event at GITHUB_EVENT_PATH=${env.GITHUB_EVENT_PATH}: ${(err as Error).message}`;
    }
  }
  if (pr === undefined)
    return "no pull request: pass --pr <number>, or run on a pull_request event (GITHUB_EVENT_PATH)";
  if (!Number.isInteger(pr) || pr < 1)
    return `the pull request number must be a positive integer, found ${JSON.stringify(prFlag ?? pr)}`;
  return { owner: m[1]!, repo: m[2]!, pr };
}

runIfMain(import.meta, main);
