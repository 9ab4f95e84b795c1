/**
 * The definitions, compiled apart from each other: a batch of definition files is loaded,
 * validated, rendered into its pipelines' folders, checked against the platform, serialized and
 * handed to a sink, with no knowledge of the other batches. What needs every pipeline at once
 * (duplicate names, the shared files, the shared pool limits) is done once, by compile.ts, from
 * what the batches report. A batch runs in the command's own thread or in a worker thread
 * (units-worker.mjs); both run this same code, so where it ran never changes the result.
 */
import { capacity, type CapacityFacts } from "../../checks/capacity.ts";
import { checkOutput, checkSizes } from "../../checks/cross-object.ts";
import type { PriceData } from "../../cost/data.ts";
import { GENERATED_DIR } from "../../model/files.ts";
import type { ResolvedCluster } from "../../model/platform.ts";
import { hasErrors, type Problem } from "../../model/problems.ts";
import type { ResolvedPipeline } from "../../model/resolve.ts";
import { renderPipelines, renderShared, toFiles, type OutputFile, type RenderedObject } from "../../render/render.ts";
import { combinedHash, folderHashes, jsonHash, unitFolders, unitInput, type CacheUnit, type Previous } from "./cache.ts";
import { tenantsFileOf } from "./definitions.ts";
import { loadPipeline, pipelineWarnings, TsLoader, type KeepTenant } from "./load.ts";
import { loadPrices } from "./prices.ts";
import type { Stager } from "./stager.ts";
import { TreeSink } from "./tree.ts";

/** What every batch of one compile shares; plain data, so that it can be sent to a worker. */
export interface UnitsSetup {
  readonly root: string;
  readonly clusters: readonly ResolvedCluster[];
  /** Every tenants file in pipelines/. */
  readonly tenants: readonly string[];
  /** The clock of the daylight-saving warnings (ms since the epoch), the same for every batch. */
  readonly now: number;
  /**
   * Where the files go: kept in memory and returned, compared with the tree (`target`, an
   * absolute path; null: no tree to compare with), or also written to `staging` where they differ.
   */
  readonly output: { readonly kind: "memory" } | { readonly kind: "compare"; readonly target: string | null } | { readonly kind: "stage"; readonly target: string; readonly staging: string };
  /** Changed templates the cache knows tenant by tenant (see cache.ts, Previous). */
  readonly previous?: Readonly<Record<string, Previous>>;
  /**
   * The price snapshots are the ones a trusted cache was written with (their hashes are in its
   * inputs, with dagops's own code): they passed the same validation then, and are not validated
   * again (10 ms of a one-pipeline re-synth).
   */
  readonly pricesChecked?: boolean;
}

export interface UnitsResult {
  /** Each definition's pipelines, in file order (also when it has errors elsewhere). */
  readonly pipelines: readonly { readonly name: string; readonly source: string; readonly clusters: readonly string[] }[];
  /** Reading, schema, graph and semantic problems (and their warnings). */
  readonly loadProblems: readonly Problem[];
  /** Problems of the output: schemas, cross-object rules, capacity, sizes. Empty when loading failed. */
  readonly outputProblems: readonly Problem[];
  /** Each definition's cache entry; empty when anything failed. */
  readonly units: Readonly<Record<string, CacheUnit>>;
  readonly facts: readonly CapacityFacts[];
  /** With output `compare` or `stage`: what differs from the tree, and every path produced. */
  readonly stale: readonly string[];
  readonly missing: readonly string[];
  readonly paths: readonly string[];
  /** Output folders of tenants proved unchanged (not rendered; left as they are). */
  readonly reused: readonly string[];
  /** With output `memory`. */
  readonly loaded?: readonly ResolvedPipeline[];
  readonly objects?: readonly RenderedObject[];
  readonly files?: readonly OutputFile[];
}

/**
 * What a thread computes once and reuses for every batch: the platform's objects (rendered
 * without pipelines), the price snapshots (and the problems of loading them), a loader.
 */
export interface UnitsContext {
  readonly platform: readonly RenderedObject[];
  readonly prices: ReadonlyMap<string, PriceData>;
  readonly pricesProblems: readonly Problem[];
  readonly loader: TsLoader;
  /** Writes this thread's staged files from a thread of its own (else the sink writes them). */
  readonly stager?: Stager;
}

export function unitsContext(setup: Pick<UnitsSetup, "root" | "clusters" | "pricesChecked">): UnitsContext {
  const prices = loadPrices(setup.root, setup.clusters, setup.pricesChecked === true);
  return { platform: renderShared(setup.clusters, () => []), prices: prices.byCluster, pricesProblems: prices.problems, loader: new TsLoader() };
}

export async function compileUnits(setup: UnitsSetup, ctx: UnitsContext, files: readonly string[]): Promise<UnitsResult> {
  const { root, clusters, tenants } = setup;
  const clusterNames = clusters.map((c) => c.name);
  const loadProblems: Problem[] = [];
  const loaded: ResolvedPipeline[] = [];
  // Every pipeline in file order, resolved or kept (a template's tenant not resolved again).
  const pipelines: { name: string; source: string; clusters: readonly string[] }[] = [];
  const kept: { name: string; source: string; clusters: readonly string[] }[] = [];
  // Each template tenant's definition's hash, by pipeline name.
  const definitions = new Map<string, string>();
  for (const f of files) {
    const r = await loadPipeline(root, f, clusterNames, ctx.loader, tenants, keepTenant(setup.previous?.[f], definitions));
    loadProblems.push(...r.problems);
    loaded.push(...r.pipelines);
    for (const p of r.listed ?? r.pipelines.map((p) => ({ name: p.name, clusters: [...p.clusters].sort(), kept: false }))) {
      pipelines.push({ name: p.name, source: f, clusters: p.clusters });
      if (p.kept) kept.push({ name: p.name, source: f, clusters: p.clusters });
    }
  }
  loadProblems.push(...pipelineWarnings(loaded, clusters, new Date(setup.now)));
  const failed = (outputProblems: Problem[] = []): UnitsResult => ({ pipelines, loadProblems, outputProblems, units: {}, facts: [], stale: [], missing: [], paths: [], reused: [] });
  if (hasErrors(loadProblems)) return failed();

  // Rendered, checked, serialized and handed on a few pipelines at a time, so that a definition
  // with thousands of pipelines (a template) is never held whole. Every chunk is checked, so all
  // problems come at once; after the first error nothing more is handed on.
  const outputProblems: Problem[] = [];
  const facts: CapacityFacts[] = [];
  const folders = new Map<string, { hash: string; files: number }>();
  // A template's tenants whose resolved pipeline is what the cache saw, with intact folders,
  // are not rendered again: their folders' hashes and capacity facts are the recorded ones.
  const members = new Map<ResolvedPipeline, string>();
  const memberOf = (p: ResolvedPipeline) => members.get(p) ?? members.set(p, jsonHash(p)).get(p)!;
  const reused: string[] = [];
  const render: ResolvedPipeline[] = [];
  const factsBefore = new Map<string, CapacityFacts[]>();
  for (const before of Object.values(setup.previous ?? {})) for (const f of before.facts) (factsBefore.get(f.pipeline) ?? factsBefore.set(f.pipeline, []).get(f.pipeline)!).push(f);
  for (const p of kept) {
    // Proved by keepTenant: its definition and its folders are what the cache recorded.
    const before = setup.previous![p.source]!;
    const dirs = pipelineFolders(p);
    for (const [d, h] of hashesOf(dirs, (d) => before.disk[d])) folders.set(d, h);
    reused.push(...dirs);
    facts.push(...(factsBefore.get(p.name) ?? []));
  }
  for (const p of loaded) {
    const before = setup.previous?.[p.source];
    const member = before?.members[p.name];
    const dirs = pipelineFolders(p);
    const disk = hashesOf(dirs, (d) => before?.disk[d]);
    if (!member || member.input !== memberOf(p) || combinedHash(disk) !== member.output) {
      render.push(p);
      continue;
    }
    for (const [d, h] of disk) folders.set(d, h);
    reused.push(...dirs);
    facts.push(...(factsBefore.get(p.name) ?? []));
  }
  const held = setup.output.kind === "memory" ? { objects: [] as RenderedObject[], files: [] as OutputFile[] } : undefined;
  const sink = setup.output.kind === "memory" ? undefined : new TreeSink(setup.output.target, setup.output.kind === "stage" ? setup.output.staging : undefined, ctx.stager);
  for (let i = 0; i < render.length; i += CHUNK) {
    const objects = renderPipelines(clusters, render.slice(i, i + CHUNK));
    const problems = checkOutput(objects, new Set(), ctx.platform);
    // The platform's objects are there for their NodePools and Fargate profiles; the shared
    // limits are compile.ts's, from every batch's facts.
    const cap = capacity([...ctx.platform, ...objects], ctx.prices, clusterNames, [], { shared: false });
    problems.push(...cap.problems);
    facts.push(...cap.facts);
    if (!hasErrors(problems)) {
      const rendered = toFiles(objects);
      problems.push(...checkSizes(rendered, new Map(objects.map((o) => [o.path, o.source]))));
      if (!hasErrors(problems) && !hasErrors(outputProblems)) {
        for (const [folder, h] of folderHashes(rendered)) folders.set(folder, h);
        if (held) {
          held.objects.push(...objects);
          held.files.push(...rendered);
        } else for (const f of rendered) sink!.put(f.path, f.content);
      }
    }
    outputProblems.push(...problems);
  }
  if (hasErrors(outputProblems)) return failed(outputProblems);

  const units = unitEntries(root, files, tenants, pipelines, folders, [...loadProblems, ...outputProblems], facts);
  // Tenants are recorded one by one only when the output raised no warning: those are kept per
  // definition, and a tenant not rendered again would lose its own.
  if (!outputProblems.length) {
    const resolved = new Map(loaded.map((p) => [p.name, p]));
    for (const [file, unit] of Object.entries(units)) {
      const mine = pipelines.filter((p) => p.source === file);
      // (Every template's tenant has a definition: keepTenant saw it, kept or not.)
      if (mine.length < 2 && !mine.some((p) => definitions.has(p.name))) continue;
      // A tenant's definition is recorded only when the whole definition raised no problem: a
      // tenant kept by it next time is not resolved, and so could not report one.
      const clean = unit.problems.length === 0;
      const recorded = Object.fromEntries(
        mine.map((p) => {
          const r = resolved.get(p.name);
          const input = r ? memberOf(r) : setup.previous![file]!.members[p.name]!.input;
          const definition = clean ? definitions.get(p.name) : undefined;
          return [p.name, { input, output: combinedHash(hashesOf(pipelineFolders(p), (d) => folders.get(d))), ...(definition !== undefined ? { definition } : {}) }];
        }),
      );
      units[file] = { ...unit, members: recorded };
    }
  }
  if (held) return { pipelines, loadProblems, outputProblems, units, facts, stale: [], missing: [], paths: held.files.map((f) => f.path), reused, loaded, objects: held.objects, files: held.files };
  return { pipelines, loadProblems, outputProblems, units, facts, stale: sink!.stale, missing: sink!.missing, paths: sink!.paths, reused };
}

const pipelineFolders = (p: Pick<ResolvedPipeline, "name" | "clusters">) => unitFolders({ pipelines: [{ name: p.name, clusters: p.clusters }] });

/**
 * The KeepTenant of a changed template: records each tenant's definition's hash in `definitions`, and
 * keeps a tenant (it is not resolved again) when the cache recorded that same definition for it,
 * with no problem in the template, and its folders hold what it recorded.
 */
function keepTenant(before: Previous | undefined, definitions: Map<string, string>): KeepTenant {
  return (instance) => {
    const key = jsonHash(instance);
    definitions.set(instance.name, key);
    const member = before?.members[instance.name];
    const clusters = before?.clusters[instance.name];
    if (!member?.definition || member.definition !== key || !clusters) return undefined;
    const disk = hashesOf(pipelineFolders({ name: instance.name, clusters }), (d) => before!.disk[d]);
    return combinedHash(disk) === member.output ? clusters : undefined;
  };
}

/** The folders' hashes that are known (a folder without files has none). */
function hashesOf<H>(dirs: readonly string[], known: (folder: string) => H | undefined): Map<string, H> {
  const out = new Map<string, H>();
  for (const d of dirs) {
    const h = known(d);
    if (h !== undefined) out.set(d, h);
  }
  return out;
}

/** Pipelines rendered at once within a batch (a batch holds at most 10 definitions, but a template may hold thousands of pipelines); few, so that their objects die young (see batches.ts). */
const CHUNK = 10;

/** The cache entry of each definition file: its pipelines, output hash, warnings and capacity facts. */
function unitEntries(
  root: string,
  files: readonly string[],
  tenants: readonly string[],
  pipelines: UnitsResult["pipelines"],
  folders: ReadonlyMap<string, { readonly hash: string; readonly files: number }>,
  problems: readonly Problem[],
  facts: readonly CapacityFacts[],
): Record<string, CacheUnit> {
  // Indexes, so that a batch costs one lookup per definition, not a scan of every file.
  const group = <T>(items: readonly T[], key: (t: T) => string | undefined) => {
    const m = new Map<string, T[]>();
    for (const i of items) {
      const k = key(i);
      if (k !== undefined) (m.get(k) ?? m.set(k, []).get(k)!).push(i);
    }
    return m;
  };
  const bySource = group(pipelines, (p) => p.source);
  const byFile = group(problems, (p) => (p.severity === "error" ? undefined : /^generated\/[^/]+\/pipelines\/[^/]+(?=\/)/.exec(p.file)?.[0]?.slice(GENERATED_DIR.length + 1) ?? p.file));
  const factsOf = group(facts, (f) => f.pipeline);
  const units: Record<string, CacheUnit> = {};
  for (const file of files) {
    const own = (bySource.get(file) ?? []).map((p) => ({ name: p.name, clusters: p.clusters }));
    const tenantsFile = tenantsFileOf(file, tenants);
    const dirs = unitFolders({ pipelines: own });
    const mine = hashesOf(dirs, (d) => folders.get(d));
    units[file] = {
      input: unitInput(root, file, tenantsFile),
      pipelines: own,
      output: combinedHash(mine),
      files: [...mine.values()].reduce((n, h) => n + h.files, 0),
      problems: [...(byFile.get(file) ?? []), ...(tenantsFile ? (byFile.get(tenantsFile) ?? []) : []), ...dirs.flatMap((d) => byFile.get(d) ?? [])],
      facts: own.flatMap((p) => factsOf.get(p.name) ?? []),
    };
  }
  return units;
}
