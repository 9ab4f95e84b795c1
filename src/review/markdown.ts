/**
 * The review as GitHub-flavoured Markdown: the summary first, then pipelines, platform, checks
 * and the raw diff. Given a size limit (a PR comment holds 65,536 characters), the summary is
 * always kept; later sections are dropped and the raw diff is cut, each with a note that says
 * how to get the rest.
 */
import { formatUsd } from "../cost/estimate.ts";
import type { CostSection } from "./cost.ts";
import type { FieldChange, PipelineChange, PlatformChange, Report } from "./report.ts";
import { byKey, getOrSet } from "../contract/order.ts";

export interface CheckSummary {
  /** False when the checks could not run on the head (a git ref rather than a checkout). */
  readonly ran: boolean;
  readonly ok?: boolean;
  readonly problems?: readonly { severity: string; code: string; file: string; path: string; message: string }[];
}

export interface ReviewDocument extends Report {
  readonly base: { readonly ref: string; readonly commit: string };
  readonly head: { readonly ref: string; readonly commit?: string };
  readonly checks: CheckSummary;
  readonly cost?: CostSection;
  /** Unified diff per file under generated/. */
  readonly files: readonly { readonly path: string; readonly diff: string }[];
}

/** GitHub's limit on a comment body. */
export const GITHUB_COMMENT_LIMIT = 65_536;

const esc = (s: string) => s.replace(/\|/g, "\\|").replace(/\n/g, " ");
const code = (s: string | undefined) =>
  s === undefined ? "—" : s === "" ? '`""`' : `\`${esc(s).replace(/`/g, "'")}\``;
const short = (c: string | undefined) => (c ? c.slice(0, 7) : "working tree");

export function renderMarkdown(doc: ReviewDocument, limit = Infinity): string {
  const rest = `npm run diff -- --base ${doc.base.commit.slice(0, 12)}`;
  const head = headerSection(doc);
  const sections = [
    ...doc.pipelines.map(pipelineSection),
    platformSection(doc.platform),
    checksSection(doc.checks),
  ].filter(Boolean) as string[];
  let out = head;
  const budget = (extra = 0) => limit - out.length - extra - 400; // room for the notes
  let dropped = 0;
  for (const s of sections) {
    if (s.length <= budget()) out += s;
    else dropped++;
  }
  if (dropped)
    out += `\n> ${dropped} section${dropped === 1 ? "" : "s"} left out to fit GitHub's comment limit. The full report: \`${rest}\`, or the workflow's \`dagops-review\` artifact.\n`;
  out += rawDiffSection(doc.files, budget(), rest);
  return out;
}

function headerSection(doc: ReviewDocument): string {
  const lines: string[] = ["## dagops: what this change does to the clusters", ""];
  const checks = !doc.checks.ran
    ? "not run (head is a git ref, not a checkout)"
    : doc.checks.ok
      ? "✅ pass"
      : `❌ fail (${(doc.checks.problems ?? []).filter((p) => p.severity === "error").length} errors)`;
  lines.push(
    `base \`${short(doc.base.commit)}\` → head \`${doc.head.commit ? short(doc.head.commit) : doc.head.ref}\` · checks: ${checks}`,
    "",
  );
  if (doc.clusters.length === 0) {
    lines.push("No change to `generated/`: nothing changes in any cluster.", "");
    return lines.join("\n") + "\n";
  }
  lines.push("| cluster | create | update | prune | Argo CD applications |", "|---|--:|--:|--:|---|");
  for (const c of doc.clusters)
    lines.push(`| ${c.cluster} | ${c.create} | ${c.update} | ${c.prune} | ${c.applications.map(code).join(", ")} |`);
  lines.push("");
  if (doc.risks.length) {
    lines.push("### ⚠️ Operational risk", "");
    for (const r of doc.risks) lines.push(`- **${r.level}** · ${r.cluster}: ${r.message}`);
    lines.push("");
  }
  if (doc.pipelines.length) {
    lines.push(
      `Pipelines: ${doc.pipelines.map((p) => `\`${p.pipeline}\` (${p.status}, ${p.clusters.join(", ")})`).join(" · ")}`,
      "",
    );
  }
  lines.push(...tenantLines(doc.pipelines));
  if (doc.cost) lines.push(...costLines(doc.cost));
  return lines.join("\n") + "\n";
}

/** Per template, the tenants added and removed (a tenant is a pipeline `<template>-<tenant>`). */
function tenantLines(pipelines: readonly PipelineChange[]): string[] {
  const byTemplate = new Map<string, { added: string[]; removed: string[] }>();
  for (const p of pipelines) {
    if (!p.template || p.status === "changed") continue;
    const entry = getOrSet(byTemplate, p.template, () => ({ added: [], removed: [] }));
    const tenant = p.pipeline.slice(p.template.length + 1);
    const list = p.status === "added" ? entry.added : entry.removed;
    if (!list.includes(tenant)) list.push(tenant);
  }
  const names = (list: string[]) =>
    list.length > 50 ? `${list.slice(0, 50).join(", ")} and ${list.length - 50} more` : list.join(", ");
  return [...byTemplate]
    .sort(byKey)
    .map(
      ([template, { added, removed }]) =>
        `Tenants of template \`${template}\`: ${[added.length ? `added ${names(added.sort())}` : "", removed.length ? `removed ${names(removed.sort())}` : ""].filter(Boolean).join("; ")}\n`,
    );
}

const money = (n: number | null | undefined, per: "run" | "month") =>
  n === null || n === undefined ? "—" : formatUsd(n, per);

function delta(before: number | null | undefined, after: number | null | undefined): string {
  if (before == null || after == null) return "";
  if (before === 0) return "";
  const pct = ((after - before) / before) * 100;
  return Math.abs(pct) < 0.05 ? " (±0%)" : ` (${pct > 0 ? "+" : ""}${pct.toFixed(1)}%)`;
}

function costLines(cost: CostSection): string[] {
  const lines = [
    `### Cost (prices: ${cost.snapshot} snapshot, USD)`,
    "",
    "| pipeline | clusters | per run | per month | Spot saves on step nodes |",
    "|---|---|---|---|---|",
  ];
  for (const c of cost.changes) {
    if (c.error) {
      lines.push(`| \`${c.pipeline}\` | ${c.clusters.join(", ")} | cannot be priced: ${esc(c.error)} | | |`);
      continue;
    }
    const run = `${money(c.before?.perRun, "run")} → ${money(c.after?.perRun, "run")}${delta(c.before?.perRun, c.after?.perRun)}`;
    const month = `${money(c.before?.perMonth, "month")} → ${money(c.after?.perMonth, "month")}${delta(c.before?.perMonth, c.after?.perMonth)}`;
    const saving = `${c.before ? `${c.before.savingPct.toFixed(1)}%` : "—"} → ${c.after ? `${c.after.savingPct.toFixed(1)}%` : "—"}`;
    lines.push(`| \`${c.pipeline}\` | ${c.clusters.join(", ")} | ${run} | ${month} | ${saving} |`);
  }
  const assumed = cost.changes.some(
    (c) => c.after?.estimated === "none" || c.after?.estimated === "some" || c.before?.estimated === "none",
  );
  lines.push(
    "",
    `Per run: step nodes on the generated pools plus the run manager on Fargate, simulated from the steps' estimates${assumed ? " (steps without one count 1 h)" : ""}. \`npm run cost\` explains the figures.`,
    "",
  );
  return lines;
}

function fieldTable(rows: readonly (FieldChange & { step?: string })[], withStep: boolean): string[] {
  const lines = [
    withStep ? "| step | field | before | after |" : "| field | before | after |",
    withStep ? "|---|---|---|---|" : "|---|---|---|",
  ];
  for (const r of rows)
    lines.push(`| ${withStep ? `${code(r.step)} | ` : ""}${esc(r.field)} | ${code(r.before)} | ${code(r.after)} |`);
  return lines;
}

/** An added pipeline's steps, one row each: what a reviewer weighs before it runs (image, command, requests, limits, retries, capacity). */
function stepsTable(steps: PipelineChange["steps"]): string[] {
  const get = (s: PipelineChange["steps"][number], field: string) => s.fields.find((f) => f.field === field)?.after;
  const pair = (a: string | undefined, b: string | undefined) =>
    a === undefined && b === undefined ? "-" : `${a ?? "-"} / ${b ?? "-"}`;
  const lines = [
    "Steps:",
    "",
    "| step | image | command | requests (cpu / memory) | limits (cpu / memory) | retries | capacity |",
    "|---|---|---|---|---|---|---|",
  ];
  for (const s of steps) {
    const command = [get(s, "command"), get(s, "args")].filter((x) => x !== undefined).join(" ");
    lines.push(
      `| ${code(s.step)} | ${code(get(s, "image"))} | ${command ? code(command) : "-"} | ${code(pair(get(s, "cpu request"), get(s, "memory request")))} | ${code(pair(get(s, "cpu limit"), get(s, "memory limit")))} | ${esc(get(s, "retries") ?? "-")} | ${esc(get(s, "capacity") ?? "-")} |`,
    );
  }
  return lines;
}

function pipelineSection(p: PipelineChange): string {
  const lines = [`### Pipeline \`${p.pipeline}\` — ${p.status} · ${p.clusters.join(", ")}`, ""];
  const names = (status: string) => p.steps.filter((s) => s.status === status);
  const list: string[] = [];
  if (names("added").length)
    list.push(
      `- steps added: ${names("added")
        .map((s) => code(s.step))
        .join(", ")}`,
    );
  if (names("removed").length)
    list.push(
      `- steps removed: ${names("removed")
        .map((s) => code(s.step))
        .join(", ")}`,
    );
  if (names("renamed").length)
    list.push(
      `- steps renamed: ${names("renamed")
        .map((s) => `${code(s.renamedFrom)} → ${code(s.step)}`)
        .join(", ")}`,
    );
  if (list.length) lines.push(...list, "");
  if (p.settings.length) lines.push(...fieldTable(p.settings, false), "");
  const rows = (status: string) =>
    p.steps.filter((s) => s.status === status).flatMap((s) => s.fields.map((f) => ({ ...f, step: s.step })));
  if (rows("changed").length) lines.push("Changed steps:", "", ...fieldTable(rows("changed"), true), "");
  if (p.status === "added") lines.push(...stepsTable(p.steps), "");
  else if (rows("added").length) lines.push("New steps:", "", ...fieldTable(rows("added"), true), "");
  if (p.status !== "removed") lines.push("```mermaid", p.mermaid, "```", "");
  return lines.join("\n") + "\n";
}

function platformSection(changes: readonly PlatformChange[]): string | undefined {
  if (changes.length === 0) return undefined;
  const lines = ["### Platform", ""];
  for (const c of changes) {
    lines.push(
      `- **${c.kind} \`${c.name}\`** (${c.cluster}, ${c.op})${c.risk ? ` · risk: **${c.risk}**` : ""}: ${c.consequence}`,
    );
    if (c.fields.length) lines.push("", ...fieldTable(c.fields.slice(0, 40), false).map((l) => `  ${l}`), "");
  }
  return lines.join("\n") + "\n\n";
}

function checksSection(checks: CheckSummary): string | undefined {
  if (!checks.ran || !checks.problems?.length) return undefined;
  const lines = ["### Checks", ""];
  for (const p of checks.problems.slice(0, 50))
    lines.push(
      `- ${p.severity === "error" ? "❌" : "⚠️"} \`${p.code}\` ${p.file}${p.path ? ` · \`${p.path}\`` : ""}: ${esc(p.message)}`,
    );
  if (checks.problems.length > 50) lines.push(`- … and ${checks.problems.length - 50} more: run \`npm run check\``);
  return lines.join("\n") + "\n\n";
}

function rawDiffSection(files: ReviewDocument["files"], budget: number, rest: string): string {
  if (files.length === 0) return "";
  const open = `<details><summary>Raw diff: ${files.length} file${files.length === 1 ? "" : "s"} under <code>generated/</code></summary>\n\n`;
  const close = "</details>\n";
  let body = "";
  let shown = 0;
  for (const f of files) {
    const block = `\`\`\`diff\n${f.diff.replace(/```/g, "ˋˋˋ")}\n\`\`\`\n\n`;
    if (open.length + body.length + block.length + close.length + 300 > budget) break;
    body += block;
    shown++;
  }
  const left = files.length - shown;
  const note = left
    ? `> The raw diff of ${left} more file${left === 1 ? "" : "s"} did not fit in this comment. Run \`${rest}\` locally, or download the workflow's \`dagops-review\` artifact.\n\n`
    : "";
  return open + body + note + close;
}
