/** `npm run diff -- --base <ref>`: what a change to generated/ does to each cluster, for review. */
import { readFile, writeFile } from "node:fs/promises";
import { join } from "node:path";
import { GENERATED_DIR, isStamp } from "../model/files.ts";
import { changedPaths, GitError, namesAt, readTreeAt, resolveCommit, unifiedDiff, untracked } from "../review/git.ts";
import { renderMarkdown, type CheckSummary, type ReviewDocument } from "../review/markdown.ts";
import { costSection } from "../review/cost.ts";
import { buildReport } from "../review/report.ts";
import type { PriceData } from "../cost/data.ts";
import { DEFAULT_PRICES_FILE } from "../model/files.ts";
import { runCheck } from "./check.ts";
import { EXIT, parseCommand, runIfMain, type Io } from "../cli/kit.ts";
import { irregularMessage, openRepository, readTreeEntries } from "../write/tree.ts";
import { byKey } from "../contract/order.ts";

const HELP = `Usage: npm run diff -- --base <ref> [--head <ref>] [--out <file>] [--json]

Compares generated/ at <base> with <head> (default: the working tree), object by object, and
reports per cluster what Argo CD will create, update and prune; per pipeline and per step what
changed, from what to what; platform changes with their operational consequence; the head's
checks; and the raw diff. The base is read from git objects: no checkout is needed.

Options:
  --base <ref>          the commit to compare against (a branch, tag or sha)
  --head <ref>          compare with this commit instead of the working tree (checks are
                        then not run: they need a checkout)
  --out <file>          write the Markdown report to <file> instead of stdout
  --json                print the report as JSON on stdout
  --check-report <file> use this \`npm run check -- --json\` result instead of running check
  --root <dir>          repository root (default: the current directory)
  -h, --help            show this help

Examples:
  npm run diff -- --base origin/main
  npm run -s diff -- --base origin/main --out review.md --json > review.json

Exit codes:
  0  the report was produced (a difference is not a failure)
  2  usage or git error (an unknown ref is named)
`;

export async function main(argv: string[], io: Io): Promise<number> {
  const parsed = parseCommand(
    "diff",
    argv,
    io,
    {
      base: { type: "string" },
      head: { type: "string" },
      out: { type: "string" },
      json: { type: "boolean" },
      "check-report": { type: "string" },
      root: { type: "string" },
    } as const,
    HELP,
  );
  if (parsed.kind === "exit") return parsed.exit;
  const { values } = parsed;
  if (!values.base) {
    io.stderr(`dagops diff: --base <ref> is required\n\n${HELP}`);
    return EXIT.usage;
  }
  const root = await openRepository("diff", values.root, io);
  try {
    const doc = await review(root, values.base, values.head, values["check-report"]);
    if (values.out) await writeFile(values.out, renderMarkdown(doc));
    if (values.json) io.stdout(`${JSON.stringify(doc, null, 2)}\n`);
    else if (!values.out) io.stdout(renderMarkdown(doc));
    return EXIT.ok;
  } catch (err) {
    if (!(err instanceof GitError)) throw err;
    io.stderr(`dagops diff: ${err.message}\n`);
    return EXIT.usage;
  }
}

export async function review(
  root: string,
  base: string,
  head: string | undefined,
  checkReport?: string,
): Promise<ReviewDocument> {
  const baseCommit = await resolveCommit(root, base);
  const headCommit = head === undefined ? undefined : await resolveCommit(root, head);
  // Only what the change touched is read: its files, every file of the pipelines it touched, and
  // the node pools (for the cost). A change to a node pool reprices every pipeline: all is read.
  const scope = await reviewScope(root, baseCommit, headCommit);
  const wanted = scope?.wanted;
  // The base is read only where the change is; the head is listed whole, to find its links.
  const baseTree = (await readTreeAt(root, baseCommit, GENERATED_DIR, wanted, scope?.paths)).files;
  const head_ = headCommit
    ? await readTreeAt(root, headCommit, GENERATED_DIR, wanted)
    : await readTreeEntries(join(root, GENERATED_DIR), new Set(), wanted);
  const headTree = head_.files;
  for (const path of headTree.keys()) if (isStamp(path)) headTree.delete(path); // bookkeeping, synced by no Application
  const built = buildReport(baseTree, headTree);
  // Links and other non-files in the head: Argo CD would apply what they point to, unseen.
  const unsafe = head_.irregular.map((i) => ({
    level: "high" as const,
    cluster: i.path.split("/")[0] || "(all)",
    message: irregularMessage(GENERATED_DIR, i),
  }));
  const report = unsafe.length ? { ...built, risks: [...unsafe, ...built.risks] } : built;
  const diffs = await unifiedDiff(root, baseCommit, headCommit, GENERATED_DIR);
  if (!headCommit) {
    // New files git does not track yet appear in no git diff.
    for (const path of await untracked(root, GENERATED_DIR)) {
      const rel = path.slice(GENERATED_DIR.length + 1);
      if (isStamp(rel)) continue;
      const text = headTree.get(rel) ?? "";
      const lines = text.split("\n");
      if (lines.at(-1) === "") lines.pop();
      diffs.set(
        rel,
        `diff --git a/${path} b/${path}\nnew file (not yet tracked by git)\n--- /dev/null\n+++ b/${path}\n@@ -0,0 +1,${lines.length} @@\n${lines.map((l) => `+${l}`).join("\n")}`,
      );
    }
  }
  const files = [...diffs].sort(byKey).map(([path, diff]) => ({ path, diff }));
  // Cost: the changed pipelines, and every pipeline of a cluster whose node pools changed.
  // A pipeline whose clusters changed differently appears once per group of clusters: merge them.
  const targets = new Map<string, string[]>();
  for (const p of report.pipelines)
    targets.set(p.pipeline, [...new Set([...(targets.get(p.pipeline) ?? []), ...p.clusters])]);
  for (const change of report.platform.filter((c) => c.kind === "NodePool" || c.kind === "EC2NodeClass")) {
    for (const path of headTree.keys()) {
      const [cluster, area, pipeline] = path.split("/");
      if (cluster === change.cluster && area === "pipelines" && pipeline)
        targets.set(pipeline, [...new Set([...(targets.get(pipeline) ?? []), cluster])]);
    }
  }
  const prices = await clusterPrices(root);
  const cost = costSection(baseTree, headTree, targets, prices);
  return {
    base: { ref: base, commit: baseCommit },
    head: { ref: head ?? "working tree", ...(headCommit ? { commit: headCommit } : {}) },
    ...report,
    ...(cost ? { cost } : {}),
    checks: await checks(root, headCommit, checkReport),
    files,
  };
}

/**
 * What a review needs to read: the changed files, every file of the pipelines they belong to,
 * and the node pools (for the cost), as a test and as the paths that hold them (relative to
 * generated/); undefined: everything (a node pool changed, which reprices every pipeline).
 */
export async function reviewScope(
  root: string,
  base: string,
  head: string | undefined,
): Promise<{ wanted: (path: string) => boolean; paths?: string[] } | undefined> {
  const rel = (p: string) => p.slice(GENERATED_DIR.length + 1);
  const changed = new Set(
    [
      ...(await changedPaths(root, base, head, GENERATED_DIR)),
      ...(head ? [] : await untracked(root, GENERATED_DIR)),
    ].map(rel),
  );
  if ([...changed].some((p) => /^[^/]+\/platform\/(nodepool|ec2nodeclass)-/.test(p))) return undefined;
  // A pipeline's folder, "<cluster>/pipelines/<name>/", of a path in it.
  const folderOf = (p: string) => /^[^/]+\/pipelines\/[^/]+\//.exec(p)?.[0] ?? "";
  const folders = new Set([...changed].map(folderOf).filter((f) => f !== ""));
  const wanted = (p: string) => changed.has(p) || folders.has(folderOf(p)) || /^[^/]+\/platform\/nodepool-/.test(p);
  const loose = [...changed].filter((p) => !folders.has(folderOf(p)));
  const platforms = (await namesAt(root, base, GENERATED_DIR)).map((cluster) => `${cluster}/platform/`);
  const paths = [...folders, ...loose, ...platforms].sort();
  // A change to thousands of files: git lists the whole tree faster than thousands of paths.
  return paths.length <= 2000 ? { wanted, paths } : { wanted };
}

/** Each cluster's price snapshot, as the working tree's platform configuration names it. */
async function clusterPrices(root: string): Promise<(cluster: string) => PriceData | undefined> {
  // The platform configuration alone: loading every pipeline here would only be thrown away.
  // The cluster stamps hold it resolved, when they prove it unchanged: loading platform.config.ts
  // through the TypeScript loader takes longer.
  // Loaded only now: `--help` and usage errors need none of ajv or the schemas.
  const { provedPlatform } = await import("../incremental/survey.ts");
  const { loadPrices } = await import("../cost/prices.ts");
  const { loadPriceData } = await import("../cost/data.ts");
  const clusters =
    (await provedPlatform(root))?.clusters ?? (await (await import("../load/load.ts")).loadPlatform(root)).clusters;
  const byCluster = loadPrices(root, clusters).byCluster;
  let fallback: PriceData | undefined;
  try {
    fallback = loadPriceData(join(root, DEFAULT_PRICES_FILE));
  } catch {
    fallback = undefined;
  }
  return (cluster) => byCluster.get(cluster) ?? fallback;
}

async function checks(
  root: string,
  headCommit: string | undefined,
  checkReport: string | undefined,
): Promise<CheckSummary> {
  if (checkReport) {
    // An empty or broken report (check crashed, or was killed) is itself a failed check, not a crash here.
    const text = await readFile(checkReport, "utf8");
    let r: { ok?: unknown; problems?: unknown } | undefined;
    try {
      r = JSON.parse(text) as typeof r;
    } catch {
      r = undefined;
    }
    if (!r || typeof r !== "object" || typeof r.ok !== "boolean" || !Array.isArray(r.problems)) {
      const what = text.trim() === "" ? "is empty" : "is not the JSON that `npm run check -- --json` writes";
      return {
        ran: true,
        ok: false,
        problems: [
          {
            severity: "error",
            code: "CHECK_REPORT",
            file: checkReport,
            path: "",
            message: `the check report ${what}: the checks did not finish. Run \`npm run check\` to see why`,
          },
        ],
      };
    }
    return { ran: true, ok: r.ok, problems: r.problems as NonNullable<CheckSummary["problems"]> };
  }
  if (headCommit) return { ran: false };
  const r = await runCheck(root);
  return {
    ran: true,
    ok: r.ok,
    problems: r.problems.map(({ severity, code, file, path, message }) => ({ severity, code, file, path, message })),
  };
}

runIfMain(import.meta, main);
