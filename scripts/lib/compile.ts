/**
 * The check tiers (docs: checks, in the order they run) up to, but not including, drift: load →
 * validate → render → check output, for the definitions a survey (survey.ts) could not prove
 * unchanged, or for all of them. Each definition is compiled apart from the others, and its
 * pipelines' stamps record what it became; what needs every pipeline at once (duplicate names,
 * the limits of pipelines that start together) is checked here from the new results and the
 * kept stamps.
 */
import { capacity, poolLimits, sharedLimitProblems, type CapacityFacts } from "../../checks/capacity.ts";
import { checkOutput, checkSizes } from "../../checks/cross-object.ts";
import type { PriceData } from "../../cost/data.ts";
import { clusterPools } from "../../cost/estimate.ts";
import { GENERATED_DIR, STAMP_FILE } from "../../model/files.ts";
import { timed, type Timings } from "./timings.ts";
import type { ResolvedCluster } from "../../model/platform.ts";
import { hasErrors, problem, type Problem } from "../../model/problems.ts";
import type { ResolvedPipeline } from "../../model/resolve.ts";
import { renderPipelines, renderShared, toFiles, type OutputFile, type RenderedObject } from "../../render/render.ts";
import { Blobs, blobId } from "./blobs.ts";
import { orphanTenantsFiles, pipelineFiles, tenantsFiles } from "./definitions.ts";
import { duplicateNames, loadPipeline, loadPlatform, pipelineWarnings, TsLoader, type Project } from "./load.ts";
import { loadPrices } from "./prices.ts";
import { clusterStampPath, pipelineStampPath, platformKey, problemsOf, stampText, type ClusterStamp, type Ids, type PipelineStamp } from "./stamps.ts";
import { clusterOf, survey, type Survey } from "./survey.ts";
import { commitTree, irregularMessage, irregularTree, listTree, stagingDir, TreeSink, UnsafeTreeError, type Irregular } from "./tree.ts";
import { rmSync } from "node:fs";
import { join } from "node:path";


export interface Compiled {
  readonly project: Project;
  readonly problems: readonly Problem[];
  /** With output `memory`, when no tier before output found an error: every object rendered, and every file (stamps included). */
  readonly objects?: readonly RenderedObject[];
  readonly files?: readonly OutputFile[];
  /** Each cluster's price snapshot, when it loaded. */
  readonly prices?: ReadonlyMap<string, PriceData>;
  /** Every pipeline, and every file of generated/ (stamps included), rendered or kept. */
  readonly counts?: { readonly pipelines: number; readonly files: number };
  /**
   * With output `compare` or `stage`, when nothing failed: how generated/ differs from the
   * output (paths relative to it). `extra` holds regular files; `irregular` the rest (never wanted).
   */
  readonly tree?: { readonly stale: readonly string[]; readonly missing: readonly string[]; readonly extra: readonly string[]; readonly irregular: readonly Irregular[] };
  /** With output `stage`: moves the staged files in and removes the unwanted ones (tree.ts, steps 2 and 3). */
  readonly commit?: () => Promise<void>;
}

export interface CompileOptions {
  /** Compile only what the stamps do not prove unchanged (synth and check). Either way the files and problems are the same. */
  readonly incremental?: boolean;
  /** The survey the caller already made (nothing is surveyed twice). */
  readonly survey?: Survey;
  /**
   * Where the files go: kept in `files` (default), compared with generated/ (`tree`), or also
   * staged for `commit` where they differ. Compare and stage hold no file contents.
   */
  readonly output?: "memory" | "compare" | "stage";
  /** Definition files to leave out, as if they were not there (plan and cost of one pipeline beside a broken one). */
  readonly without?: ReadonlySet<string>;
}

/** A template's pipelines rendered at once: few, so that a template of thousands is never held whole. */
const CHUNK = 10;

export async function compile(root: string, timings?: Timings, options: CompileOptions = {}): Promise<Compiled> {
  const s = options.survey ?? (options.incremental ? await timed(timings, "survey the stamps", () => survey(root)) : undefined);
  const loader = new TsLoader();
  try {
    return await compileFrom(root, timings, options.output ?? "memory", s, loader, options.without);
  } finally {
    loader.close();
  }
}

async function compileFrom(root: string, timings: Timings | undefined, output: NonNullable<CompileOptions["output"]>, s: Survey | undefined, loader: TsLoader, without?: ReadonlySet<string>): Promise<Compiled> {
  // 1. The platform: as its stamps recorded it, or loaded.
  const start = await timed(timings, "load the platform", () => platformOf(root, s, loader));
  if ("failed" in start) return { project: { clusters: [], pipelines: [], problems: start.problems }, problems: start.problems };
  const { clusters, inputs, key, blobs } = start;
  const clusterNames = clusters.map((c) => c.name);
  const files = (s?.files ?? (await pipelineFiles(root))).filter((f) => !without?.has(f));
  const tenants = s?.tenants ?? (await tenantsFiles(root));
  const kept = s?.platform ? s.kept : new Map<string, readonly PipelineStamp[]>();
  const changed = s?.platform ? s.changed : files;
  const problems: Problem[] = [...start.problems];
  for (const t of orphanTenantsFiles(files, tenants)) {
    problems.push(problem("INVALID_VALUE", t, "", `a tenants file without its template: expected ${t.replace(/\.tenants\.ya?ml$/, "")}.yaml (or .ts) with template: true`));
  }
  const prices = loadPrices(root, clusters, s?.platform !== undefined);
  const platform = renderShared(clusters);

  // 2. Load every changed definition (a template's proved tenants are not resolved again).
  const loadOne = async (file: string, keep: boolean): Promise<Loaded> => {
    const proved = keep && s?.platform ? s.keptTenants.get(file) : undefined;
    const r = await loadPipeline(root, file, clusterNames, loader, tenants, proved && ((instance) => (proved.has(instance.name) ? [...proved.get(instance.name)![0]!.clusters] : undefined)));
    const names = r.listed?.map((p) => p.name) ?? r.pipelines.map((p) => p.name);
    const keptTenants = (r.listed ?? []).filter((p) => p.kept).flatMap((p) => proved!.get(p.name)!);
    return { file, inputs: r.inputs, pipelines: r.pipelines, names, kept: keptTenants, ...(r.tenants ? { tenants: r.tenants } : {}), problems: [...r.problems, ...pipelineWarnings(r.pipelines, clusters, new Date())] };
  };
  const loads = await timed(timings, `load ${changed.length} definitions`, async () => {
    const out: Loaded[] = [];
    for (const file of changed) out.push(await loadOne(file, true));
    return out;
  });
  // Every stamp of a definition keeps all its problems, and a kept tenant's stamp has none: a
  // template that reports one now is compiled whole, as a full synth compiles it.
  for (const [i, l] of loads.entries()) if (l.kept.length && l.problems.length) loads[i] = await loadOne(l.file, false);
  const byFile = new Map(loads.map((l) => [l.file, l]));
  // Every pipeline, in file order, as a full load lists them (duplicate names are told in that order).
  const all = files.flatMap((f) => (byFile.get(f)?.names ?? [...new Set(kept.get(f)?.map((p) => p.pipeline))]).map((name) => ({ name, source: f })));
  const loadTier = [...problems, ...loads.flatMap((l) => l.problems), ...duplicateNames(all)];
  const resolvedOf = () => loads.flatMap((l) => l.pipelines).sort((a, b) => (a.name < b.name ? -1 : a.name > b.name ? 1 : 0));
  let project: Project = { clusters, pipelines: resolvedOf(), problems: loadTier };
  // Every pipeline is counted, kept or loaded, as a full compile counts those that loaded; the
  // kept ones' warnings of loading are told too, as a full compile tells them.
  const keptLoad = [...(s?.platform ? s.platform.stamps.flatMap((c) => c.loadProblems) : []), ...[...kept.values()].flat().flatMap((p) => p.loadProblems)];
  if (hasErrors(loadTier)) return { project, problems: unique([...loadTier, ...keptLoad]), counts: { pipelines: all.length, files: 0 } };

  // 3. Render and check each definition's pipelines; each becomes a stamp per cluster.
  const withShared = !s?.platform?.intact;
  const sharedProblems = withShared ? [...prices.problems, ...checkOutput(platform)] : [];
  let rendered = await timed(timings, "render and check", () => renderAll(loads, clusters, platform, prices.byCluster, output === "memory"));
  // The same for a problem of the output.
  const whole = loads.filter((l) => l.kept.length && rendered.pipelines.some((r) => r.source === l.file && r.outputProblems.length));
  if (whole.length) {
    for (const l of whole) loads[loads.indexOf(l)] = await loadOne(l.file, false);
    rendered = renderAll(loads, clusters, platform, prices.byCluster, output === "memory");
    project = { ...project, pipelines: resolvedOf() };
  }
  const outputTier = [...sharedProblems, ...rendered.problems];
  const kepts = [...[...kept.values()].flat(), ...loads.flatMap((l) => l.kept)];
  const facts: CapacityFacts[] = [...kepts.flatMap((p) => (p.facts ? [p.facts] : [])), ...rendered.facts];
  clusters.forEach((c, i) => {
    const data = prices.byCluster.get(c.name);
    if (data) outputTier.push(...sharedLimitProblems(c.name, i, facts.filter((f) => f.cluster === c.name), poolLimitsOf(platform, c.name, data)));
  });
  const keptProblems = [...(s?.platform && !withShared ? s.platform.stamps.flatMap(problemsOf) : []), ...kepts.flatMap(problemsOf)];
  const all_ = unique([...loadTier, ...outputTier, ...keptProblems]);
  if (hasErrors(all_)) return { project, problems: all_, counts: { pipelines: all.length, files: 0 } };

  // 4. The files: the pipelines' and their stamps; the clusters' own and theirs, when rendered.
  const out: OutputFile[] = [];
  for (const r of rendered.pipelines) {
    const warnings = (ps: readonly Problem[]) => ps.filter((p) => p.severity !== "error");
    for (const cluster of r.clusters) {
      const mine = r.files.filter((f) => f.path.startsWith(`${cluster}/`));
      out.push(...mine);
      const stamp: Omit<PipelineStamp, "format" | "about"> = {
        platform: key,
        pipeline: r.name,
        clusters: r.clusters,
        source: r.source,
        inputs: idsOf(blobs, r.inputs),
        ...(r.tenant ? { tenant: r.tenant } : {}),
        outputs: Object.fromEntries(mine.map((f) => [f.path.slice(cluster.length + 1), blobId(f.content)])),
        loadProblems: warnings(r.loadProblems),
        outputProblems: warnings(r.outputProblems),
        facts: rendered.facts.find((f) => f.cluster === cluster && f.pipeline === r.name) ?? null,
      };
      out.push({ path: pipelineStampPath(cluster, r.name), content: stampText(stamp) });
    }
  }
  if (withShared) {
    const sharedFiles = toFiles(platform);
    out.push(...sharedFiles);
    const warnings = (ps: readonly Problem[]) => ps.filter((p) => p.severity !== "error");
    clusters.forEach((cluster, index) => {
      const mine = sharedFiles.filter((f) => f.path.startsWith(`${cluster.name}/`));
      const data = prices.byCluster.get(cluster.name);
      const stamp: Omit<ClusterStamp, "format" | "about"> = {
        platform: key,
        index,
        inputs: idsOf(blobs, inputs),
        cluster,
        pools: data ? poolLimitsOf(platform, cluster.name, data) : {},
        outputs: Object.fromEntries(mine.map((f) => [f.path.slice(cluster.name.length + 1), blobId(f.content)])),
        loadProblems: warnings(start.problems),
        outputProblems: warnings(sharedProblems),
      };
      out.push({ path: clusterStampPath(cluster.name), content: stampText(stamp) });
    });
  }
  const keptPaths = [
    ...kepts.flatMap((p) => [`${clusterOf(p)}/pipelines/${p.pipeline}/${STAMP_FILE}`, ...Object.keys(p.outputs).map((o) => `${clusterOf(p)}/${o}`)]),
    ...(withShared ? [] : s!.platform!.stamps.flatMap((c) => [clusterStampPath(c.cluster.name), ...Object.keys(c.outputs).map((o) => `${c.cluster.name}/${o}`)])),
  ];
  const counts = { pipelines: all.length, files: out.length + keptPaths.length };
  const base = { project, problems: all_, prices: prices.byCluster, counts };
  if (output === "memory") return { ...base, objects: [...(withShared ? platform : []), ...rendered.objects], files: out.sort((a, b) => (a.path < b.path ? -1 : a.path > b.path ? 1 : 0)) };

  // 5. Compared with generated/, and staged where it differs.
  const target = join(root, GENERATED_DIR);
  const self = irregularTree(root, GENERATED_DIR);
  if (self && output === "stage") throw new UnsafeTreeError(irregularMessage(GENERATED_DIR, self));
  const staging = stagingDir(root);
  if (output === "stage") rmSync(staging, { recursive: true, force: true });
  const tree = timed(timings, output === "stage" ? "compare and stage" : "compare with generated/", () => {
    const sink = new TreeSink(self ? null : target, output === "stage" ? staging : undefined);
    const wanted = new Set(keptPaths);
    for (const f of out) {
      if (wanted.has(f.path)) throw new Error(`two objects were rendered to ${GENERATED_DIR}/${f.path}`);
      wanted.add(f.path);
      sink.put(f.path, f.content);
    }
    const listing = self ? { files: [], irregular: [self] } : s ? s.listing : listTree(target);
    return { stale: sink.stale, missing: sink.missing, extra: listing.files.filter((f) => !wanted.has(f)), irregular: listing.irregular };
  });
  const commit = async () => commitTree(root, GENERATED_DIR, [...tree.stale, ...tree.missing], [...tree.extra, ...tree.irregular.map((i) => i.path)]);
  return { ...base, tree, ...(output === "stage" ? { commit } : {}) };
}

/** The platform as the survey proved it, or loaded: its clusters, its input files, today's key. */
async function platformOf(
  root: string,
  s: Survey | undefined,
  loader: TsLoader,
): Promise<{ clusters: readonly ResolvedCluster[]; inputs: readonly string[]; key: string; blobs: Blobs; problems: Problem[] } | { failed: true; problems: Problem[] }> {
  if (s?.platform) return { clusters: s.platform.clusters, inputs: Object.keys(s.platform.stamps[0]!.inputs), key: s.platform.key, blobs: s.blobs, problems: [] };
  const loaded = await loadPlatform(root, loader);
  if (hasErrors(loaded.problems)) return { failed: true, problems: loaded.problems };
  const inputs = [...new Set([...loaded.inputs, ...loaded.clusters.map((c) => c.prices)])].sort();
  const blobs = s?.blobs ?? Blobs.open(root);
  return { clusters: loaded.clusters, inputs, key: platformKey(root, blobs, inputs), blobs, problems: loaded.problems };
}

/** A changed definition, loaded. */
interface Loaded {
  readonly file: string;
  readonly inputs: readonly string[];
  readonly pipelines: readonly ResolvedPipeline[];
  /** Every pipeline's name, in order, kept tenants included. */
  readonly names: readonly string[];
  /** The stamps of a template's tenants kept without being resolved. */
  readonly kept: readonly PipelineStamp[];
  readonly tenants?: ReadonlyMap<string, NonNullable<PipelineStamp["tenant"]>>;
  readonly problems: readonly Problem[];
}

/** What one definition's pipeline became, per cluster. */
interface RenderedPipeline {
  readonly name: string;
  readonly source: string;
  readonly clusters: readonly string[];
  readonly inputs: readonly string[];
  readonly tenant?: PipelineStamp["tenant"];
  readonly files: readonly OutputFile[];
  /** The definition's problems, of loading it and of its output (each of its pipelines' stamps keeps its warnings). */
  readonly loadProblems: readonly Problem[];
  readonly outputProblems: readonly Problem[];
}

function renderAll(
  loads: readonly Loaded[],
  clusters: readonly ResolvedCluster[],
  platform: readonly RenderedObject[],
  prices: ReadonlyMap<string, PriceData>,
  keepObjects: boolean,
): { pipelines: RenderedPipeline[]; problems: Problem[]; facts: CapacityFacts[]; objects: RenderedObject[] } {
  const clusterNames = clusters.map((c) => c.name);
  const pipelines: RenderedPipeline[] = [];
  const problems: Problem[] = [];
  const facts: CapacityFacts[] = [];
  const objects: RenderedObject[] = [];
  for (const l of loads) {
    const mine: { p: ResolvedPipeline; files: OutputFile[] }[] = [];
    const own: Problem[] = [...l.problems];
    for (let i = 0; i < l.pipelines.length; i += CHUNK) {
      const chunk = l.pipelines.slice(i, i + CHUNK);
      const rendered = renderPipelines(clusters, chunk);
      const found = checkOutput(rendered, new Set(), platform);
      const cap = capacity([...platform, ...rendered], prices, clusterNames, [], { shared: false });
      found.push(...cap.problems);
      facts.push(...cap.facts);
      const ok = !hasErrors(found);
      for (const p of chunk) {
        const files = ok ? toFiles(rendered.filter((o) => o.pipeline === p.name)) : [];
        found.push(...checkSizes(files, new Map(rendered.map((o) => [o.path, o.source]))));
        mine.push({ p, files });
      }
      own.push(...found);
      if (keepObjects) objects.push(...rendered);
    }
    problems.push(...own.slice(l.problems.length));
    for (const { p, files } of mine) {
      const tenant = l.tenants?.get(p.name);
      pipelines.push({ name: p.name, source: l.file, clusters: [...p.clusters].sort(), inputs: l.inputs, ...(tenant ? { tenant } : {}), files, loadProblems: l.problems, outputProblems: own.slice(l.problems.length) });
    }
  }
  return { pipelines, problems, facts, objects };
}

const poolLimitsOf = (platform: readonly RenderedObject[], cluster: string, data: PriceData) =>
  poolLimits(clusterPools(platform.filter((o) => o.cluster === cluster).map((o) => o.manifest as never), data).pools);

const idsOf = (blobs: Blobs, paths: readonly string[]): Ids => Object.fromEntries(paths.map((p) => [p, blobs.id(p) ?? "(missing)"]));

/** Each problem once (a template's tenants and several clusters may report the same one). */
function unique(problems: readonly Problem[]): Problem[] {
  const seen = new Set<string>();
  return problems.filter((p) => {
    const key = JSON.stringify(p);
    return !seen.has(key) && seen.add(key);
  });
}

