/**
 * The check tiers (README, "Checks, in the order they run") up to, but not including, drift:
 * load → validate → render → check output. The definitions are compiled in batches, apart from
 * each other (units.ts, in worker threads when there are many); what needs every pipeline at
 * once is done here from what the batches report: duplicate names, the shared files
 * (Applications, namespaces, the node reader's binding), the shared pool limits, the cache.
 */
import { capacity, type CapacityFacts } from "../../checks/capacity.ts";
import { checkOutput, checkSizes } from "../../checks/cross-object.ts";
import type { PriceData } from "../../cost/data.ts";
import type { ResolvedCluster } from "../../model/platform.ts";
import { duplicateNames, loadPlatform, type Project } from "./load.ts";
import { CACHE_FILE, cacheText, treeHash, inputsKey, sharedFolders, survey, unitFolders, waitsForProof, type Cache, type CacheUnit, type Previous, type Survey } from "./cache.ts";
import type { PendingSurvey } from "./survey-helper.ts";
import { orphanTenantsFiles, pipelineFiles, tenantsFiles } from "./definitions.ts";
import type { ResolvedPipeline } from "../../model/resolve.ts";
import { GENERATED_DIR } from "../../model/files.ts";
import { hasErrors, problem, type Problem } from "../../model/problems.ts";
export { schemaFileContent, schemaFiles } from "./schemas.ts";
import { renderShared, toFiles, type OutputFile, type RenderedObject } from "../../render/render.ts";
import { compileBatches, workerCount } from "./batches.ts";
import { unitsContext, type UnitsResult, type UnitsSetup } from "./units.ts";
import { commitTree, irregularMessage, irregularTree, stagingDir, TreeSink, UnsafeTreeError, unwanted, type Irregular } from "./tree.ts";
import { Stager } from "./stager.ts";
import { rmSync } from "node:fs";
import { join } from "node:path";

export { SCHEMA_FILE } from "../../model/files.ts";

export interface Compiled {
  readonly project: Project;
  readonly problems: readonly Problem[];
  /** With output `memory`, when no tier before output found an error: every object and file. */
  readonly objects?: readonly RenderedObject[];
  readonly files?: readonly OutputFile[];
  /** Each cluster's price snapshot, when it loaded. */
  readonly prices?: ReadonlyMap<string, PriceData>;
  /** Every pipeline and every output file (without the cache file), rendered or not. */
  readonly counts?: { readonly pipelines: number; readonly files: number };
  /**
   * With output `compare` or `stage`, when nothing failed: how generated/ differs from the
   * output (paths relative to it; an incremental compile does not look into the folders it
   * proved unchanged). `extra` holds regular files only; `irregular` the rest (never wanted).
   */
  readonly tree?: { readonly stale: readonly string[]; readonly missing: readonly string[]; readonly extra: readonly string[]; readonly irregular: readonly Irregular[] };
  /** With output `stage`: moves the staged files in and removes the unwanted ones (tree.ts, steps 2 and 3). */
  readonly commit?: () => Promise<void>;
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

export interface CompileOptions {
  /**
   * Use generated/.dagops-cache.json to compile only the definitions that changed (synth and
   * check). Without a usable cache, or when anything besides definitions changed, everything is
   * compiled. Either way the files and problems are the same.
   */
  readonly incremental?: boolean;
  /**
   * The survey the caller already made (nothing is hashed twice), or started (survey-helper.ts):
   * then the definitions whose bytes changed are compiled while the rest are proved, and when
   * the proof finds more to compile (a hand edit), the compile starts again from the proof.
   */
  readonly survey?: Survey | PendingSurvey;
  /**
   * Where the files go: kept in `files` (default), compared with generated/ (`tree`), or also
   * staged for `commit` where they differ. Compare and stage hold no file contents: a tree of
   * any size streams through.
   */
  readonly output?: "memory" | "compare" | "stage";
  /** Worker threads for the definitions (default: batches.ts workerCount). */
  readonly workers?: number;
}

export async function compile(root: string, timings?: Timings, options: CompileOptions = {}): Promise<Compiled> {
  const given = options.survey;
  if (!given || !("proved" in given)) return compileFrom(root, timings, options, options.incremental ? (given ?? (await timed(timings, "hash definitions and output", () => survey(root)))) : undefined);
  // A survey under way: compiled as if the proof will find every other definition's output and
  // the shared files intact, as it does unless something under generated/ was edited by hand;
  // when it does not, compiled again from the proof. (A changed template waits for the proof:
  // beginSurvey makes that one here.)
  const { inputs, proved } = given;
  if (waitsForProof(inputs)) return compile(root, timings, { ...options, survey: await timed(timings, "hash definitions and output", () => proved) });
  const guess: Survey = { ...inputs, previous: {}, sharedIntact: true };
  const compiled = await compileFrom(root, timings, options, guess);
  const proof = await timed(timings, "prove the other definitions' output", () => proved);
  if (proof.sharedIntact && proof.changed.length === guess.changed.length) return compiled;
  return compile(root, timings, { ...options, survey: proof });
}

async function compileFrom(root: string, timings: Timings | undefined, options: CompileOptions, s: Survey | undefined): Promise<Compiled> {
  const output = options.output ?? "memory";
  const start = await timed(timings, "load the platform", () => startingPoint(root, s));
  if ("failed" in start) return { project: { clusters: [], pipelines: [], problems: start.problems }, problems: start.problems };
  const { clusters, files, tenants, kept, sharedIntact } = start;
  const clusterNames = clusters.map((c) => c.name);
  const target = join(root, GENERATED_DIR);
  const staging = stagingDir(root);
  // generated/ as a link (or a file) is never read through, and never written to.
  const self = irregularTree(root, GENERATED_DIR);
  if (self && output === "stage") throw new UnsafeTreeError(irregularMessage(GENERATED_DIR, self));
  const setup: UnitsSetup = {
    root,
    clusters,
    tenants,
    now: Date.now(),
    previous: start.previous,
    pricesChecked: s !== undefined,
    output: output === "memory" ? { kind: "memory" } : output === "compare" ? { kind: "compare", target: self ? null : target } : { kind: "stage", target, staging },
  };
  if (output === "stage") rmSync(staging, { recursive: true, force: true });
  // The files this thread stages are written by a thread of its own (stager.ts).
  const stager = output === "stage" ? new Stager() : undefined;
  const abort = async (c: Compiled): Promise<Compiled> => {
    await stager?.abort();
    if (output === "stage") rmSync(staging, { recursive: true, force: true });
    return c;
  };
  try {
    const workers = options.workers ?? workerCount(start.changed.length);
    const ctx = { ...unitsContext(setup), ...(stager ? { stager } : {}) };
    const batches = await timed(timings, `compile ${start.changed.length} definitions (${workers ? `this thread and ${workers} worker threads` : "this thread"})`, () => compileBatches(setup, ctx, start.changed, workers));
    const fresh = merged(batches);

    // Every pipeline, in file order, as a full load checks them.
    const bySource = new Map<string, UnitsResult["pipelines"][number][]>();
    for (const p of fresh.pipelines) (bySource.get(p.source) ?? bySource.set(p.source, []).get(p.source)!).push(p);
    const all = files.flatMap((f) => kept.get(f)?.pipelines.map((p) => ({ ...p, source: f })) ?? bySource.get(f) ?? []);
    const loadTier = [...start.problems, ...fresh.loadProblems, ...duplicateNames(all), ...[...kept.values()].flatMap((u) => u.problems)];
    const loaded = [...(fresh.loaded ?? [])].sort((a, b) => (a.name < b.name ? -1 : a.name > b.name ? 1 : 0));
    const project: Project = { clusters, pipelines: loaded, problems: loadTier };
    if (hasErrors(loadTier)) return abort({ project, problems: unique(loadTier) });

    // The shared files change only with the set of pipelines (or when they were edited by hand);
    // otherwise the platform is rendered without them, for the shared limits.
    const namesIn = (cluster: string) => all.filter((p) => p.clusters.includes(cluster)).map((p) => p.name).sort();
    const before = start.cache ? Object.values(start.cache.units).flatMap((u) => u.pipelines) : [];
    const namesBefore = (cluster: string) => before.filter((p) => p.clusters.includes(cluster)).map((p) => p.name).sort();
    const withShared = !start.cache || !sharedIntact || clusterNames.some((c) => namesIn(c).join("\n") !== namesBefore(c).join("\n"));
    const folders = new Set(all.flatMap((p) => p.clusters.map((c) => `${GENERATED_DIR}/${c}/pipelines/${p.name}`)));
    const shared = timed(timings, "render and check the shared files", () => {
      const objects = withShared ? renderShared(clusters, namesIn) : ctx.platform;
      const problems = [...ctx.pricesProblems, ...fresh.outputProblems, ...(withShared ? checkOutput(objects, folders) : [])];
      const facts: CapacityFacts[] = [...[...kept.values()].flatMap((u) => u.facts), ...fresh.facts];
      problems.push(...capacity(objects, ctx.prices, clusterNames, facts).problems);
      const sharedFiles = withShared ? toFiles(objects) : [];
      problems.push(...checkSizes(sharedFiles));
      return { objects, problems, files: sharedFiles };
    });
    const problems = unique([...loadTier, ...shared.problems]);
    if (hasErrors(problems)) return abort({ project, problems });

    const units: Record<string, CacheUnit> = {};
    for (const f of files) units[f] = kept.get(f) ?? fresh.units[f]!;
    const platformWarnings = start.problems.filter((p) => p.severity !== "error");
    const cache = cacheFileOf({
      inputs: start.cache?.inputs ?? inputsKey(root, clusters),
      clusters,
      problems: unique([...platformWarnings, ...globalWarnings(problems, units, platformWarnings)]),
      shared: withShared ? treeHash(shared.files) : start.cache!.shared,
      sharedFiles: withShared ? shared.files.length : start.cache!.sharedFiles,
      units,
    });
    const counts = { pipelines: all.length, files: Object.values(units).reduce((n, u) => n + u.files, 0) + (withShared ? shared.files.length : start.cache!.sharedFiles) };
    const base = { project, problems, prices: ctx.prices, counts };
    if (output === "memory") {
      const objects = [...(withShared ? shared.objects : []), ...(fresh.objects ?? [])];
      const outputFiles = [...(fresh.files ?? []), ...shared.files, cache].sort((a, b) => (a.path < b.path ? -1 : a.path > b.path ? 1 : 0));
      return { ...base, objects, files: outputFiles };
    }

    const tree = timed(timings, "compare with generated/", () => {
      const sink = new TreeSink(self ? null : target, output === "stage" ? staging : undefined, stager);
      for (const f of [...shared.files, cache]) sink.put(f.path, f.content);
      const wanted = new Set<string>();
      for (const p of [...fresh.paths, ...sink.paths]) {
        if (wanted.has(p)) throw new Error(`two objects were rendered to ${GENERATED_DIR}/${p}`);
        wanted.add(p);
      }
      const keep = [...[...kept.values()].flatMap(unitFolders), ...fresh.reused, ...(withShared ? [] : sharedFolders(clusters))];
      const { extra, irregular } = self ? { extra: [], irregular: [self] } : unwanted(root, GENERATED_DIR, wanted, keep);
      const order = (a: string, b: string) => (a < b ? -1 : a > b ? 1 : 0);
      return { stale: [...fresh.stale, ...sink.stale].sort(order), missing: [...fresh.missing, ...sink.missing].sort(order), extra, irregular };
    });
    if (stager) {
      const staged = await timed(timings, "finish writing the staged files", () => stager.close());
      // Beside the phases above, not after them: the kernel's work of creating the files.
      if (staged.threadMs !== undefined) timings?.set(`  (writing thread: ${staged.files} files, busy)`, staged.threadMs);
    }
    const commit = async () => {
      await commitTree(root, GENERATED_DIR, [...tree.stale, ...tree.missing], [...tree.extra, ...tree.irregular.map((i) => i.path)]);
    };
    return { ...base, tree, ...(output === "stage" ? { commit } : {}) };
  } catch (e) {
    await abort({ project: { clusters, pipelines: [], problems: [] }, problems: [] });
    throw e;
  }
}

/** Where a compile starts: the cache's view when the survey allows it, else the platform, loaded. */
async function startingPoint(
  root: string,
  s: Survey | undefined,
): Promise<
  | { clusters: readonly ResolvedCluster[]; problems: Problem[]; files: readonly string[]; tenants: readonly string[]; kept: ReadonlyMap<string, CacheUnit>; changed: readonly string[]; previous: Readonly<Record<string, Previous>>; cache?: Cache; sharedIntact: boolean }
  | { failed: true; problems: Problem[] }
> {
  if (s) {
    // The platform's own warnings; the shared limits are checked again below.
    const problems = s.cache.problems.filter((p) => p.code !== "POOL_LIMIT_SHARED");
    return { clusters: s.cache.clusters as ResolvedCluster[], problems, files: s.files, tenants: s.tenants, kept: s.kept, changed: s.changed, previous: s.previous, cache: s.cache, sharedIntact: s.sharedIntact };
  }
  const platform = await loadPlatform(root);
  if (hasErrors(platform.problems)) return { failed: true, problems: platform.problems };
  const files = await pipelineFiles(root);
  const tenants = await tenantsFiles(root);
  const problems = [...platform.problems];
  // A tenants file needs its template next to it.
  for (const t of orphanTenantsFiles(files, tenants)) {
    const template = t.replace(/\.tenants\.ya?ml$/, "");
    problems.push(problem("INVALID_VALUE", t, "", `a tenants file without its template: expected ${template}.yaml (or .ts) with template: true`));
  }
  return { clusters: platform.clusters, problems, files, tenants, kept: new Map(), changed: files, previous: {}, sharedIntact: false };
}

/** The batches' results as one, in file order. */
function merged(results: readonly UnitsResult[]) {
  const cat = <T>(pick: (r: UnitsResult) => readonly T[] | undefined): T[] => results.flatMap((r) => [...(pick(r) ?? [])]);
  return {
    pipelines: cat((r) => r.pipelines),
    loadProblems: cat((r) => r.loadProblems),
    outputProblems: cat((r) => r.outputProblems),
    units: Object.assign({}, ...results.map((r) => r.units)) as Record<string, CacheUnit>,
    facts: cat((r) => r.facts),
    stale: cat((r) => r.stale),
    missing: cat((r) => r.missing),
    paths: cat((r) => r.paths),
    reused: cat((r) => r.reused),
    loaded: results.some((r) => r.loaded) ? cat<ResolvedPipeline>((r) => r.loaded) : undefined,
    objects: results.some((r) => r.objects) ? cat<RenderedObject>((r) => r.objects) : undefined,
    files: results.some((r) => r.files) ? cat<OutputFile>((r) => r.files) : undefined,
  };
}

/** Each problem once (batches that each see the platform may report the same platform problem). */
function unique(problems: readonly Problem[]): Problem[] {
  const seen = new Set<string>();
  return problems.filter((p) => {
    const key = JSON.stringify(p);
    return !seen.has(key) && seen.add(key);
  });
}

const cacheFileOf = (cache: Omit<Cache, "format" | "about" | "check">): OutputFile => ({ path: CACHE_FILE, content: cacheText(cache) });

/** Warnings of no one definition (the shared checks'); the platform's are kept apart. */
function globalWarnings(problems: readonly Problem[], units: Readonly<Record<string, CacheUnit>>, platform: readonly Problem[]): Problem[] {
  const owned = new Set([...Object.values(units).flatMap((u) => u.problems), ...platform].map((p) => JSON.stringify(p)));
  return problems.filter((p) => p.severity !== "error" && !owned.has(JSON.stringify(p)));
}

export function formatTimings(timings: Timings): string {
  return [...timings].map(([phase, ms]) => `  ${phase.padEnd(34)} ${(ms / 1000).toFixed(2).padStart(7)} s\n`).join("");
}

