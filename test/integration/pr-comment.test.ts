/**
 * `npm run pr-comment` through @octokit/rest against a local server that speaks the GitHub REST
 * shapes (test/support/fake-github.ts): pagination, create, update, delete, errors and rate limits.
 */
import assert from "node:assert/strict";
import { mkdtemp, rm, writeFile } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { after, before, beforeEach, describe, test } from "node:test";
import { MARKER } from "../../src/review/github.ts";
import type { ReviewDocument } from "../../src/review/markdown.ts";
import { buildReport } from "../../src/review/report.ts";
import { readTreeEntries } from "../../src/write/tree.ts";
import { main } from "../../src/commands/pr-comment.ts";
import { FakeGitHub } from "../support/fake-github.ts";
import { captureIo, REPO, exampleTree } from "../support/helpers.ts";

/** The tests' own example repository, synthesized (test/support/helpers.ts). */
const EXAMPLE_ROOT = await exampleTree();

let gh: FakeGitHub;
let dir: string;
let small: string;
let large: string;
let eventPath: string;
const outputs: string[] = [];

async function document(
  edit: (tree: Map<string, string>) => void,
  files: ReviewDocument["files"],
): Promise<ReviewDocument> {
  const base = (await readTreeEntries(join(EXAMPLE_ROOT, "generated"))).files;
  const head = new Map(base);
  edit(head);
  return {
    base: { ref: "main", commit: "a".repeat(40) },
    head: { ref: "working tree" },
    ...buildReport(base, head),
    checks: { ran: true, ok: true, problems: [] },
    files,
  };
}

async function run(args: string[], env: Record<string, string | undefined> = {}) {
  const io = captureIo(EXAMPLE_ROOT, {
    GITHUB_TOKEN: gh.token,
    GITHUB_API_URL: gh.url,
    GITHUB_REPOSITORY: `${gh.owner}/${gh.repo}`,
    GITHUB_EVENT_PATH: eventPath,
    ...env,
  });
  const code = await main(args, io, { retryBaseMs: 5 });
  outputs.push(io.text());
  return { code, out: io.out.join(""), err: io.err.join("") };
}

const ours = () => gh.comments.filter((c) => c.body.includes(MARKER));

after(() => rm(dir, { recursive: true, force: true }));

describe("npm run pr-comment", () => {
  before(async () => {
    dir = await mkdtemp(join(tmpdir(), "pr-comment-"));
    const cronjob = "prod/pipelines/customer-classification/cronjob-customer-classification.yaml";
    const doc = await document(
      (t) => t.set(cronjob, t.get(cronjob)!.replace("schedule: 15 */6 * * *", "schedule: 0 * * * *")),
      [{ path: cronjob, diff: "diff --git a/x b/x\n-schedule: 15 */6 * * *\n+schedule: 0 * * * *" }],
    );
    small = join(dir, "small.json");
    await writeFile(small, JSON.stringify(doc));
    const big = Array.from({ length: 40 }, (_, i) => ({
      path: `prod/pipelines/p${i}/configmap-plan.yaml`,
      diff: `diff --git a/p${i} b/p${i}\n${"+    a line of a very long plan\n".repeat(200)}`,
    }));
    large = join(dir, "large.json");
    await writeFile(large, JSON.stringify({ ...doc, files: big }));
    eventPath = join(dir, "event.json");
    await writeFile(eventPath, JSON.stringify({ action: "synchronize", number: 42, pull_request: { number: 42 } }));
  });
  beforeEach(async () => {
    gh = new FakeGitHub();
    await gh.start();
  });
  after(() => {
    for (const o of outputs) assert.ok(!o.includes(gh.token), "the token never appears in any output");
  });

  test("the first run creates the comment; the next updates it; an identical one changes nothing", async () => {
    gh.perPage = 100;
    gh.addOthers(150); // our comment lands on page 2: the lookup must paginate
    try {
      const first = await run(["--report", small]);
      assert.equal(first.code, 0, first.err);
      assert.match(first.out, /created https:\/\/github.com\/example-org\/data-platform-gitops\/pull\/42/);
      assert.equal(ours().length, 1);
      assert.match(ours()[0]!.body, /^<!-- dagops:review -->\n## dagops: what this change does to the clusters/);
      assert.match(ours()[0]!.body, /\| schedule \| `15 \*\/6 \* \* \*` \| `0 \* \* \* \*` \|/);

      const again = await run(["--report", large]);
      assert.equal(again.code, 0, again.err);
      assert.match(again.out, /updated/);
      assert.equal(ours().length, 1, "still one comment");
      assert.equal(gh.comments.length, 151, "other comments untouched");
      assert.ok(
        gh.requests.some((r) => r.method === "GET" && r.path.endsWith("/comments")) &&
          gh.requests.filter((r) => r.method === "GET").length >= 4,
        "listed both pages, twice",
      );

      const same = await run(["--report", large]);
      assert.match(same.out, /unchanged/);
      assert.equal(gh.requests.filter((r) => r.method === "PATCH").length, 1);
    } finally {
      await gh.stop();
    }
  });

  test("duplicates from racing runs are folded into one", async () => {
    try {
      await run(["--report", small]);
      gh.comments.push({ ...ours()[0]!, id: 99999 });
      const result = await run(["--report", large]);
      assert.equal(result.code, 0);
      assert.match(result.out, /deleted 1 duplicate/);
      assert.equal(ours().length, 1);
    } finally {
      await gh.stop();
    }
  });

  test("an oversize report keeps the summary and cuts the raw diff with a note", async () => {
    try {
      const result = await run(["--report", large]);
      assert.equal(result.code, 0, result.err);
      const body = ours()[0]!.body;
      assert.ok(body.length <= 65536, `${body.length} characters`);
      assert.match(body, /\| cluster \| create \| update \| prune \|/);
      assert.match(
        body,
        /The raw diff of \d+ more files did not fit in this comment\. Run `npm run diff -- --base aaaaaaaaaaaa` locally/,
      );
    } finally {
      await gh.stop();
    }
  });

  const errors: [string, () => void, string[], RegExp][] = [
    ["401: a bad token", () => {}, ["--report", "SMALL"], /GitHub rejected the token \(401\)/],
    [
      "403: no write permission",
      () =>
        gh.faults.push({
          method: "POST",
          path: /comments$/,
          status: 403,
          message: "Resource not accessible by integration",
        }),
      ["--report", "SMALL"],
      /permissions: pull-requests: write.*forks get a read-only token/,
    ],
    [
      "404: wrong repository",
      () => {},
      ["--report", "SMALL", "--repo", "example-org/missing"],
      /example-org\/missing#42 was not found \(404\)/,
    ],
    [
      "422: refused",
      () => gh.faults.push({ method: "POST", path: /comments$/, status: 422, message: "Validation Failed" }),
      ["--report", "SMALL"],
      /refused the request \(422\)\. GitHub said: "Validation Failed"/,
    ],
    [
      "rate limit used up",
      () =>
        gh.faults.push({
          method: "GET",
          path: /comments$/,
          status: 403,
          message: "API rate limit exceeded",
          headers: { "x-ratelimit-remaining": "0", "x-ratelimit-reset": "1795000000" },
        }),
      ["--report", "SMALL"],
      /rate limit is used up until 2026-11-18T11:06:40.000Z/,
    ],
  ];
  for (const [name, arrange, args, message] of errors) {
    test(`error: ${name}`, async () => {
      try {
        arrange();
        const env = name.startsWith("401") ? { GITHUB_TOKEN: "ghs_wrongtoken" } : {};
        const result = await run(
          args.map((a) => (a === "SMALL" ? small : a)),
          env,
        );
        assert.equal(result.code, 1, result.out + result.err);
        assert.match(result.err, message);
        assert.ok(!result.err.includes("ghs_wrongtoken"));
      } finally {
        await gh.stop();
      }
    });
  }

  test("5xx answers and secondary rate limits are retried with backoff", async () => {
    try {
      gh.faults.push({ method: "GET", path: /comments$/, status: 502, message: "Bad Gateway", times: 2 });
      gh.faults.push({
        method: "POST",
        path: /comments$/,
        status: 403,
        message: "You have exceeded a secondary rate limit",
        headers: { "retry-after": "0" },
      });
      const result = await run(["--report", small]);
      assert.equal(result.code, 0, result.err);
      assert.equal((result.err.match(/retrying/g) ?? []).length, 3);
      assert.match(result.err, /secondary rate limit/);
      assert.equal(ours().length, 1);
    } finally {
      await gh.stop();
    }
  });

  test("configuration errors are usage errors (exit 2) that say what to set", async () => {
    try {
      const noToken = await run(["--report", small], { GITHUB_TOKEN: undefined });
      assert.equal(noToken.code, 2);
      assert.match(noToken.err, /no token: set GITHUB_TOKEN/);
      const noPr = await run(["--report", small], { GITHUB_EVENT_PATH: undefined });
      assert.equal(noPr.code, 2);
      assert.match(noPr.err, /no pull request: pass --pr <number>/);
      const both = await run(["--report", small, "--base", "main"]);
      assert.equal(both.code, 2);
      assert.deepEqual(gh.requests, []);
    } finally {
      await gh.stop();
    }
  });
});

describe("npm run pr-comment against a misbehaving GitHub", () => {
  beforeEach(async () => {
    gh = new FakeGitHub();
    await gh.start();
  });
  const runWith = async (args: string[], env: Record<string, string> = {}, timeoutMs = 300) => {
    const io = captureIo(EXAMPLE_ROOT, {
      GITHUB_TOKEN: gh.token,
      GITHUB_API_URL: gh.url,
      GITHUB_REPOSITORY: `${gh.owner}/${gh.repo}`,
      GITHUB_EVENT_PATH: eventPath,
      ...env,
    });
    const code = await main(args, io, { retryBaseMs: 5, timeoutMs });
    assert.ok(!io.text().includes(gh.token), "the token is never printed");
    return { code, err: io.err.join(""), out: io.out.join("") };
  };
  test("a server that never answers: each request times out, and the job fails saying so", async () => {
    gh.faults.push({ method: "GET", path: /comments$/, status: 200, message: "", hang: true, times: 10 });
    try {
      const r = await runWith(["--report", small]);
      assert.equal(r.code, 1, r.err);
      assert.match(r.err, /the GitHub API did not answer \(no answer in time\)/);
    } finally {
      await gh.stop();
    }
  });
  test("a Retry-After of 100000 s is not slept: the job fails with the time to re-run it", async () => {
    gh.faults.push({
      method: "GET",
      path: /comments$/,
      status: 403,
      message: "You have exceeded a secondary rate limit",
      headers: { "retry-after": "100000" },
    });
    try {
      const started = Date.now();
      const r = await runWith(["--report", small]);
      assert.equal(r.code, 1, r.err);
      assert.match(
        r.err,
        /GitHub asked to wait 100000 s before trying again .*longer than the 60 s this job waits\. Re-run the job after /,
      );
      assert.ok(Date.now() - started < 20_000);
    } finally {
      await gh.stop();
    }
  });
  test("a refused connection is reported as no answer, not as a 500 from GitHub", async () => {
    await gh.stop();
    const r = await runWith(["--report", small], { GITHUB_API_URL: gh.url });
    assert.equal(r.code, 1, r.err);
    assert.match(r.err, /did not answer \(connection refused\)/);
    assert.doesNotMatch(r.err, /answered 500/);
  });
  test("a comment list holding null is read without crashing; a create answered with {} is not success", async () => {
    gh.faults.push({
      method: "GET",
      path: /comments$/,
      status: 200,
      message: "",
      body: [null, { id: 5, body: "hello", html_url: "" }],
    });
    gh.faults.push({ method: "POST", path: /comments$/, status: 201, message: "", body: {} });
    try {
      const r = await runWith(["--report", small]);
      assert.equal(r.code, 1, r.err + r.out);
      assert.match(r.err, /GitHub answered without the comment \(no id or URL\), so it may not exist/);
      assert.doesNotMatch(r.out, /created/);
    } finally {
      await gh.stop();
    }
  });
});

describe("the GitHub Actions workflow", () => {
  test("minimal permissions, fork-safe, and check → diff → comment in order", async () => {
    const { parse } = await import("yaml");
    const { readFile } = await import("node:fs/promises");
    const wf = parse(await readFile(join(REPO, ".github/workflows/dagops-review.yml"), "utf8"));
    assert.deepEqual(
      Object.keys(wf.on),
      ["pull_request"],
      "never pull_request_target: it would run fork code with a write token",
    );
    assert.deepEqual(wf.permissions, { contents: "read", "pull-requests": "write" });
    const steps = wf.jobs.review.steps as {
      name?: string;
      run?: string;
      if?: string;
      uses?: string;
      with?: Record<string, unknown>;
    }[];
    const at = (pattern: RegExp) => steps.findIndex((s) => pattern.test(s.run ?? ""));
    assert.ok(
      at(/^npm ci/) < at(/npm run -s check/) &&
        at(/npm run -s check/) < at(/npm run -s diff/) &&
        at(/npm run -s diff/) < at(/pr-comment/),
    );
    const comment = steps[at(/pr-comment/)]!;
    assert.equal(comment.if, "github.event.pull_request.head.repo.full_name == github.repository");
    assert.equal(steps.find((s) => s.uses?.startsWith("actions/checkout"))!.with?.["persist-credentials"], false);
    // The summary and the artifact run even when the diff failed.
    assert.equal(steps.find((s) => s.name === "Job summary")!.if, "always()");
    assert.equal(steps.find((s) => s.uses?.startsWith("actions/upload-artifact"))!.if, "always()");
  });

  test("the base fetch authenticates on a private repository, with the token in git's environment only", async () => {
    const { parse } = await import("yaml");
    const { readFile, mkdtemp, writeFile, chmod, rm } = await import("node:fs/promises");
    const { tmpdir } = await import("node:os");
    const { spawnSync } = await import("node:child_process");
    const wf = parse(await readFile(join(REPO, ".github/workflows/dagops-review.yml"), "utf8"));
    const step = (wf.jobs.review.steps as { name?: string; run: string }[]).find(
      (s) => s.name === "Fetch the base commit",
    )!;
    // A stand-in for git on PATH records what it was run with: the real fetch needs GitHub.
    const dir = await mkdtemp(join(tmpdir(), "dagops-fetch-"));
    try {
      await writeFile(
        join(dir, "git"),
        `#!/bin/sh\n{ printf 'ARGS %s\\n' "$*"; env | grep '^GIT_CONFIG_' ; } > "${dir}/record"\n`,
      );
      await chmod(join(dir, "git"), 0o755);
      const token = "ghs_0123456789abcdefghijklmnopqrstuvwxyz";
      const run = spawnSync("bash", ["--noprofile", "--norc", "-eo", "pipefail", "-c", step.run], {
        encoding: "utf8",
        env: {
          PATH: `${dir}:${process.env.PATH}`,
          GITHUB_TOKEN: token,
          GITHUB_SERVER_URL: "https://github.com",
          BASE_SHA: "0123abcd",
        },
      });
      assert.equal(run.status, 0, run.stderr);
      const record = await readFile(join(dir, "record"), "utf8");
      assert.match(record, /^ARGS fetch --no-tags --depth=1 origin 0123abcd$/m);
      assert.doesNotMatch(record.split("\n")[0]!, new RegExp(token), "the token is not on the command line");
      assert.match(record, /^GIT_CONFIG_COUNT=1$/m);
      assert.match(record, /^GIT_CONFIG_KEY_0=http\.https:\/\/github\.com\/\.extraheader$/m);
      const header = /^GIT_CONFIG_VALUE_0=AUTHORIZATION: basic (\S+)$/m.exec(record)![1]!;
      assert.equal(Buffer.from(header, "base64").toString(), `x-access-token:${token}`);
      assert.equal(run.stdout + run.stderr, "", "nothing printed, the token least of all");
    } finally {
      await rm(dir, { recursive: true, force: true });
    }
  });
});
