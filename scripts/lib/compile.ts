/** The check tiers (README, "Checks, in the order they run") up to, but not including, drift: load → validate → render → check output. */
import { lstatSync } from "node:fs";
import { join } from "node:path";
import { capacity, type CapacityFacts } from "../../checks/capacity.ts";
import { checkOutput, checkSizes } from "../../checks/cross-object.ts";
import type { PriceData } from "../../cost/data.ts";
import type { ResolvedCluster } from "../../model/platform.ts";
import { duplicateNames, loadPipeline, loadProject, pipelineFiles, pipelineWarnings, tenantsFiles, TsLoader, type Project } from "./load.ts";
import { CACHE_FILE, cacheText, filesHash, inputsKey, isSharedPath, sharedFolders, survey, unitFolders, unitInput, type Cache, type CacheUnit, type DiskHashes, type Survey } from "./cache.ts";
import { tenantsFileOf } from "./definitions.ts";
import type { ResolvedPipeline } from "../../model/resolve.ts";
import { GENERATED_DIR } from "../../model/files.ts";
import { hasErrors, type Problem } from "../../model/problems.ts";
export { schemaFileContent, schemaFiles } from "./schemas.ts";
import { loadPrices } from "./prices.ts";
export { loadPrices };
import { render, toFiles, type OutputFile, type RenderedObject } from "../../render/render.ts";

export { SCHEMA_FILE } from "../../model/files.ts";

export interface Compiled {
  readonly project: Project;
  readonly problems: readonly Problem[];
  /** Present when no tier before output found an error. */
  readonly objects?: readonly RenderedObject[];
  readonly files?: readonly OutputFile[];
  /** Each cluster's price snapshot, when it loaded. */
  readonly prices?: ReadonlyMap<string, PriceData>;
  /** Every pipeline and every output file (without the cache file), rendered or not. */
  readonly counts?: { readonly pipelines: number; readonly files: number };
  /**
   * An incremental compile: `files` holds only what was rendered (and the cache file); these
   * folders of generated/ were proved unchanged and are left as they are.
   */
  readonly keep?: readonly string[];
  /** The on-disk hashes this compile used, to be saved once the tree is written. */
  readonly disk?: DiskHashes;
}

/** Phase name → milliseconds, filled in when the caller asks for timings. */
export type Timings = Map<string, number>;

export function timed<T>(timings: Timings | undefined, phase: string, fn: () => T): T {
  const start = performance.now();
  const result = fn();
  if (result instanceof Promise) {
    return result.finally(() => timings?.set(phase, performance.now() - start)) as T;
  }
  timings?.set(phase, performance.now() - start);
  return result;
}

/**
 * `incremental`: use generated/.dagops-cache.json to load and render only the definitions that
 * changed (synth and check); without a usable cache, or when anything besides definitions
 * changed, everything is compiled. Either way the files and problems are the same.
 */
export async function compile(root: string, timings?: Timings, options: { incremental?: boolean; survey?: Survey } = {}): Promise<Compiled> {
  if (options.incremental) {
    const s = options.survey ?? (await timed(timings, "hash definitions and output", () => survey(root)));
    const fast = s && (await compileIncremental(root, timings, s));
    if (fast) return fast;
  }
  const project = await timed(timings, "load and validate definitions", () => loadProject(root));
  if (hasErrors(project.problems)) return { project, problems: project.problems };
  const objects = timed(timings, "render (cdk8s)", () => render(project.clusters, project.pipelines));
  const prices = loadPrices(root, project.clusters);
  const problems = [
    ...project.problems,
    ...prices.problems,
    ...timed(timings, "validate output", () => checkOutput(objects)),
  ];
  const cap = timed(timings, "capacity", () => capacity(objects, prices.byCluster, project.clusters.map((c) => c.name)));
  problems.push(...cap.problems);
  if (hasErrors(problems)) return { project, problems };
  const files = timed(timings, "serialize YAML", () => toFiles(objects));
  const sized = [...problems, ...checkSizes(files, new Map(objects.map((o) => [o.path, o.source])))];
  if (hasErrors(sized)) return { project, problems: sized };
  const units = await unitsOf(root, project.pipelines.map((p) => ({ source: p.source, name: p.name, clusters: p.clusters })), files, sized, cap.facts);
  const shared = files.filter((f) => isSharedPath(f.path));
  const cache = cacheFile({ inputs: inputsKey(root, project.clusters), clusters: project.clusters, problems: globalProblems(sized, units), shared: filesHash(shared), sharedFiles: shared.length, units });
  return { project, problems: sized, objects, files: [...files, cache], prices: prices.byCluster, counts: { pipelines: project.pipelines.length, files: files.length } };
}

const cacheFile = (cache: Omit<Cache, "format" | "about">) => ({ path: CACHE_FILE, content: cacheText(cache) });

/** The cache entry of every definition file: its pipelines, output hash, warnings and capacity facts. */
async function unitsOf(root: string, pipelines: readonly { source: string; name: string; clusters: readonly string[] }[], files: readonly OutputFile[], problems: readonly Problem[], facts: readonly CapacityFacts[], only?: readonly string[]): Promise<Record<string, CacheUnit>> {
  const tenants = await tenantsFiles(root);
  // Indexes, so that 2,000 definitions cost 2,000 lookups, not 2,000 scans of 32,000 files.
  const group = <T>(items: readonly T[], key: (t: T) => string | undefined) => {
    const m = new Map<string, T[]>();
    for (const i of items) {
      const k = key(i);
      if (k !== undefined) (m.get(k) ?? m.set(k, []).get(k)!).push(i);
    }
    return m;
  };
  const bySource = group(pipelines, (p) => p.source);
  const byFolder = group(files, (f) => /^[^/]+\/pipelines\/[^/]+(?=\/)/.exec(f.path)?.[0]);
  const byFile = group(problems, (p) => (p.severity === "error" ? undefined : /^generated\/[^/]+\/pipelines\/[^/]+(?=\/)/.exec(p.file)?.[0]?.slice(GENERATED_DIR.length + 1) ?? p.file));
  const factsOf = group(facts, (f) => f.pipeline);
  const units: Record<string, CacheUnit> = {};
  for (const file of only ?? (await pipelineFiles(root))) {
    const own = (bySource.get(file) ?? []).map((p) => ({ name: p.name, clusters: [...p.clusters].sort() }));
    const tenantsFile = tenantsFileOf(file, tenants);
    const folders = unitFolders({ pipelines: own });
    const mine = folders.flatMap((d) => byFolder.get(d) ?? []);
    units[file] = {
      input: unitInput(root, file, tenantsFile),
      pipelines: own,
      output: filesHash(mine),
      files: mine.length,
      problems: [...(byFile.get(file) ?? []), ...(tenantsFile ? (byFile.get(tenantsFile) ?? []) : []), ...folders.flatMap((d) => byFile.get(d) ?? [])],
      facts: own.flatMap((p) => factsOf.get(p.name) ?? []),
    };
  }
  return units;
}


/** Warnings of no one definition: the platform's, and the shared-limit ones (recomputed whenever anything is rendered). */
function globalProblems(problems: readonly Problem[], units: Readonly<Record<string, CacheUnit>>): Problem[] {
  const owned = new Set(Object.values(units).flatMap((u) => u.problems.map((p) => JSON.stringify(p))));
  return problems.filter((p) => p.severity !== "error" && !owned.has(JSON.stringify(p)));
}

/** The incremental compile from a survey (see lib/cache.ts): only the changed definitions are loaded and rendered. */
async function compileIncremental(root: string, timings: Timings | undefined, s: Survey): Promise<Compiled | undefined> {
  const { cache, files, tenants, kept, changed, disk } = s;
  const clusters = cache.clusters as ResolvedCluster[];
  const clusterNames = clusters.map((c) => c.name);
  const platformProblems = cache.problems.filter((p) => p.code !== "POOL_LIMIT_SHARED");
  const problems: Problem[] = [...platformProblems];
  const loaded: ResolvedPipeline[] = [];
  const loader = changed.some((f) => f.endsWith(".ts")) ? new TsLoader() : undefined;
  await timed(timings, "load and validate definitions", async () => {
    for (const f of changed) {
      const r = await loadPipeline(root, f, clusterNames, loader, tenants);
      problems.push(...r.problems);
      loaded.push(...r.pipelines);
    }
  });
  // Names across all definitions, in file order, as a full load checks them.
  const all: { name: string; source: string; clusters: readonly string[] }[] = [];
  for (const f of files) {
    const unit = kept.get(f);
    if (unit) all.push(...unit.pipelines.map((p) => ({ ...p, source: f })));
    else all.push(...loaded.filter((p) => p.source === f));
  }
  problems.push(...duplicateNames(all));
  loaded.sort((a, b) => (a.name < b.name ? -1 : a.name > b.name ? 1 : 0));
  problems.push(...pipelineWarnings(loaded, clusters, new Date()));
  for (const unit of kept.values()) problems.push(...unit.problems);
  const project: Project = { clusters, pipelines: loaded, problems };
  if (hasErrors(problems)) return { project, problems };

  // The shared files (Applications, namespaces, the node reader's binding) change only with the
  // set of pipelines; otherwise the shared charts are rendered without them, for the checks.
  const namesIn = (set: readonly { name: string; clusters: readonly string[] }[], cluster: string) => set.filter((p) => p.clusters.includes(cluster)).map((p) => p.name).sort();
  const before = Object.values(cache.units).flatMap((u) => u.pipelines);
  const renderShared = clusters.some((c) => namesIn(before, c.name).join("\n") !== namesIn(all, c.name).join("\n")) || !s.sharedIntact;
  const objects = timed(timings, "render (cdk8s)", () => render(clusters, loaded, (cluster) => (renderShared ? namesIn(all, cluster) : [])));
  const keptFolders = [...kept.values()].flatMap(unitFolders);
  const prices = loadPrices(root, clusters);
  problems.push(...prices.problems, ...timed(timings, "validate output", () => checkOutput(objects, new Set(keptFolders.map((d) => `${GENERATED_DIR}/${d}`)))));
  const cap = timed(timings, "capacity", () => capacity(objects, prices.byCluster, clusterNames, [...kept.values()].flatMap((u) => u.facts)));
  problems.push(...cap.problems);
  if (hasErrors(problems)) return { project, problems };
  const rendered = timed(timings, "serialize YAML", () => toFiles(objects)).filter((f) => renderShared || !isSharedPath(f.path));
  const sized = [...problems, ...checkSizes(rendered, new Map(objects.map((o) => [o.path, o.source])))];
  if (hasErrors(sized)) return { project, problems: sized };
  const fresh = await unitsOf(root, loaded, rendered, sized, cap.facts, changed);
  const units: Record<string, CacheUnit> = {};
  for (const f of files) units[f] = kept.get(f) ?? fresh[f]!;
  const sharedFiles = rendered.filter((f) => isSharedPath(f.path));
  const next = cacheFile({ inputs: cache.inputs, clusters, problems: [...platformProblems, ...cap.problems.filter((p) => p.code === "POOL_LIMIT_SHARED" && p.severity !== "error")], shared: renderShared ? filesHash(sharedFiles) : cache.shared, sharedFiles: renderShared ? sharedFiles.length : cache.sharedFiles, units });
  const count = Object.values(units).reduce((n, u) => n + u.files, 0) + (renderShared ? sharedFiles.length : cache.sharedFiles);
  return {
    project,
    problems: sized,
    objects,
    files: [...rendered, next],
    prices: prices.byCluster,
    counts: { pipelines: all.length, files: count },
    keep: [...keptFolders, ...(renderShared ? [] : sharedFolders(clusters))],
    disk,
  };
}


export function formatTimings(timings: Timings): string {
  return [...timings].map(([phase, ms]) => `  ${phase.padEnd(34)} ${(ms / 1000).toFixed(2).padStart(7)} s\n`).join("");
}

