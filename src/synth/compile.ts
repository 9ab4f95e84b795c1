/**
 * The check tiers (docs: checks, in the order they run) up to, but not including, drift: load →
 * validate → render → check output, for the definitions a survey (survey.ts) could not prove
 * unchanged, or for all of them. Each definition is compiled apart from the others, and its
 * pipelines' stamps record what it became; what needs every pipeline at once (duplicate names,
 * the limits of pipelines that start together) is checked here from the new results and the
 * kept stamps.
 */
import { capacity, poolLimits, sharedLimitProblems, type CapacityFacts } from "../checks/capacity.ts";
import { checkOutput, checkSizes } from "../checks/cross-object.ts";
import type { PriceData } from "../cost/data.ts";
import { clusterPools } from "../cost/estimate.ts";
import { GENERATED_DIR, STAMP_FILE } from "../model/files.ts";
import { timed, type Timings } from "../cli/timings.ts";
import type { ResolvedCluster } from "../model/platform.ts";
import { hasErrors, problem, type Problem } from "../contract/problems.ts";
import type { ResolvedPipeline } from "../model/resolve.ts";
import { renderPipelines, renderShared, toFiles, type OutputFile, type RenderedObject } from "../render/render.ts";
import { Blobs, blobId } from "../incremental/blobs.ts";
import { orphanTenantsFiles, pipelineFiles, tenantsFiles } from "../load/definitions.ts";
import {
  duplicateNames,
  loadPipeline,
  loadPlatform,
  pipelineWarnings,
  loadTimeoutMs,
  TsLoader,
  type Project,
} from "../load/load.ts";
import { loadPrices } from "../cost/prices.ts";
import {
  clusterStampPath,
  pipelineStampPath,
  platformKey,
  problemsOf,
  stampText,
  type ClusterStamp,
  type Ids,
  type PipelineStamp,
} from "../incremental/stamps.ts";
import { clusterOf, survey, type Survey } from "../incremental/survey.ts";
import {
  commitTree,
  irregularMessage,
  irregularTree,
  listTree,
  stagingDir,
  TreeSink,
  UnsafeTreeError,
  type Irregular,
} from "../write/tree.ts";
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
  readonly tree?: {
    readonly stale: readonly string[];
    readonly missing: readonly string[];
    readonly extra: readonly string[];
    readonly irregular: readonly Irregular[];
  };
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
  /** The command's environment (`DAGOPS_LOAD_TIMEOUT_SECONDS`); default the process's. */
  readonly env?: Readonly<Record<string, string | undefined>>;
}

/** Pipelines rendered and checked at once (a template's among them), and definitions compiled together: few, so that their objects die young and a template of thousands is never held whole. */
const CHUNK = 10;
const BATCH = 10;

export async function compile(root: string, timings?: Timings, options: CompileOptions = {}): Promise<Compiled> {
  const s =
    options.survey ?? (options.incremental ? await timed(timings, "survey the stamps", () => survey(root)) : undefined);
  const loader = new TsLoader(loadTimeoutMs(options.env));
  try {
    return await compileFrom(root, timings, options.output ?? "memory", s, loader, options.without);
  } catch (e) {
    // An internal error: nothing staged is kept.
    if (options.output === "stage") rmSync(stagingDir(root), { recursive: true, force: true });
    throw e;
  } finally {
    loader.close();
  }
}

async function compileFrom(
  root: string,
  timings: Timings | undefined,
  output: NonNullable<CompileOptions["output"]>,
  s: Survey | undefined,
  loader: TsLoader,
  without?: ReadonlySet<string>,
): Promise<Compiled> {
  // 1. The platform: as its stamps recorded it, or loaded.
  const start = await timed(timings, "load the platform", () => platformOf(root, s, loader));
  if ("failed" in start)
    return { project: { clusters: [], pipelines: [], problems: start.problems }, problems: start.problems };
  const { clusters, inputs, key, blobs } = start;
  const clusterNames = clusters.map((c) => c.name);
  const files = (s?.files ?? (await pipelineFiles(root))).filter((f) => !without?.has(f));
  const tenants = s?.tenants ?? (await tenantsFiles(root));
  const kept = s?.platform ? s.kept : new Map<string, readonly PipelineStamp[]>();
  const changed = s?.platform ? s.changed : files;
  const problems: Problem[] = [...start.problems];
  for (const t of orphanTenantsFiles(files, tenants)) {
    problems.push(
      problem(
        "INVALID_VALUE",
        t,
        "",
        `a tenants file without its template: expected ${t.replace(/\.tenants\.ya?ml$/, "")}.yaml (or .ts) with template: true`,
      ),
    );
  }
  const prices = loadPrices(root, clusters, s?.platform !== undefined);
  const platform = renderShared(clusters);

  // Where the files go: in memory (returned), or compared with generated/ and staged where they differ.
  const target = join(root, GENERATED_DIR);
  const self = irregularTree(root, GENERATED_DIR);
  if (self && output === "stage") throw new UnsafeTreeError(irregularMessage(GENERATED_DIR, self));
  const staging = stagingDir(root);
  if (output === "stage") rmSync(staging, { recursive: true, force: true });
  const sink =
    output === "memory" ? undefined : new TreeSink(self ? null : target, output === "stage" ? staging : undefined);
  const held: OutputFile[] = [];
  const objects: RenderedObject[] = [];
  const wanted = new Set<string>();
  const emit = (f: OutputFile) => {
    if (wanted.has(f.path)) throw new Error(`two objects were rendered to ${GENERATED_DIR}/${f.path}`);
    wanted.add(f.path);
    if (sink) sink.put(f.path, f.content);
    else held.push(f);
  };
  const fail = async (c: Compiled): Promise<Compiled> => {
    await sink?.settle().catch(() => undefined);
    if (output === "stage") rmSync(staging, { recursive: true, force: true });
    return c;
  };
  const warnings = (ps: readonly Problem[]) => ps.filter((p) => p.severity !== "error");

  // 2. Each changed definition, one after another: loaded (a template's proved tenants are not
  // resolved again), rendered, checked, and its files and stamps handed on; only paths, ids,
  // warnings and capacity facts outlive it.
  const withShared = !s?.platform?.intact;
  const loads: Loaded[] = [];
  const outputTier: Problem[] = withShared ? [...prices.problems, ...checkOutput(platform)] : [];
  const sharedProblems = [...outputTier];
  const facts: CapacityFacts[] = [];
  const loadOne = async (file: string, keep: boolean): Promise<Loaded> => {
    const proved = keep && s?.platform ? s.keptTenants.get(file) : undefined;
    const r = await loadPipeline(
      root,
      file,
      clusterNames,
      loader,
      tenants,
      proved && ((instance) => (proved.has(instance.name) ? [...proved.get(instance.name)![0]!.clusters] : undefined)),
    );
    const names = r.listed?.map((p) => p.name) ?? r.pipelines.map((p) => p.name);
    const keptTenants = (r.listed ?? []).filter((p) => p.kept).flatMap((p) => proved!.get(p.name)!);
    return {
      file,
      inputs: r.inputs,
      pipelines: r.pipelines,
      names,
      kept: keptTenants,
      ...(r.tenants ? { tenants: r.tenants } : {}),
      problems: [...r.problems, ...pipelineWarnings(r.pipelines, clusters, new Date())],
    };
  };
  // Rendered a batch of definitions at a time: the checks against the platform cost per call as
  // much as per pipeline.
  const handOn = (l: Loaded, r: Rendered) => {
    outputTier.push(...r.outputProblems);
    facts.push(...r.facts);
    if (output === "memory") objects.push(...r.objects);
    if (hasErrors(r.outputProblems)) return;
    for (const p of r.pipelines) {
      for (const cluster of p.clusters) {
        const mine = p.files.filter((f) => f.path.startsWith(`${cluster}/`));
        for (const f of mine) emit(f);
        const stamp: Omit<PipelineStamp, "format" | "about"> = {
          platform: key,
          pipeline: p.name,
          clusters: p.clusters,
          source: l.file,
          inputs: idsOf(blobs, l.inputs),
          ...(p.tenant ? { tenant: p.tenant } : {}),
          outputs: Object.fromEntries(mine.map((f) => [f.path.slice(cluster.length + 1), blobId(f.content)])),
          loadProblems: warnings(l.problems),
          outputProblems: warnings(r.outputProblems),
          facts: r.facts.find((f) => f.cluster === cluster && f.pipeline === p.name) ?? null,
        };
        emit({ path: pipelineStampPath(cluster, p.name), content: stampText(stamp) });
      }
    }
  };
  const flush = async (batch: Loaded[]) => {
    const results = renderBatch(batch, clusters, platform, prices.byCluster);
    for (const [i, l0] of batch.entries()) {
      let l = l0;
      let r = results[i]!;
      if (l.kept.length && r.outputProblems.length) {
        l = await loadOne(l.file, false);
        r = renderBatch([l], clusters, platform, prices.byCluster)[0]!;
      }
      loads.push(output === "memory" ? l : { ...l, pipelines: [] });
      handOn(l, r);
    }
    await sink?.settle(4);
  };
  await timed(timings, `compile ${changed.length} definitions`, async () => {
    let batch: Loaded[] = [];
    for (const file of changed) {
      let l = await loadOne(file, true);
      // Every stamp of a definition keeps all its problems, and a kept tenant's stamp has none: a
      // template that reports one now is compiled whole, as a full synth compiles it.
      if (l.kept.length && l.problems.length) l = await loadOne(file, false);
      if (hasErrors(l.problems)) {
        loads.push(output === "memory" ? l : { ...l, pipelines: [] });
        continue;
      }
      batch.push(l);
      if (batch.length >= BATCH || batch.reduce((n, b) => n + b.pipelines.length, 0) >= CHUNK) {
        await flush(batch);
        batch = [];
      }
    }
    await flush(batch);
  });
  const byFile = new Map(loads.map((l) => [l.file, l]));
  // Every pipeline, in file order, as a full load lists them (duplicate names are told in that order).
  const all = files.flatMap((f) =>
    (byFile.get(f)?.names ?? [...new Set(kept.get(f)?.map((p) => p.pipeline))]).map((name) => ({ name, source: f })),
  );
  const loadTier = [...problems, ...loads.flatMap((l) => l.problems), ...duplicateNames(all)];
  const project: Project = {
    clusters,
    pipelines: loads.flatMap((l) => l.pipelines).sort((a, b) => (a.name < b.name ? -1 : a.name > b.name ? 1 : 0)),
    problems: loadTier,
  };
  // Every pipeline is counted, kept or loaded, as a full compile counts those that loaded; the
  // kept ones' warnings of loading are told too, as a full compile tells them.
  const keptLoad = [
    ...(s?.platform ? s.platform.stamps.flatMap((c) => c.loadProblems) : []),
    ...[...kept.values()].flat().flatMap((p) => p.loadProblems),
  ];
  if (hasErrors(loadTier))
    return fail({ project, problems: unique([...loadTier, ...keptLoad]), counts: { pipelines: all.length, files: 0 } });

  // 3. What spans every pipeline: the limits of pipelines that start together, from the kept stamps too.
  const kepts = [...[...kept.values()].flat(), ...loads.flatMap((l) => l.kept)];
  facts.push(...kepts.flatMap((p) => (p.facts ? [p.facts] : [])));
  clusters.forEach((c, i) => {
    const data = prices.byCluster.get(c.name);
    if (data)
      outputTier.push(
        ...sharedLimitProblems(
          c.name,
          i,
          facts.filter((f) => f.cluster === c.name),
          poolLimitsOf(platform, c.name, data),
        ),
      );
  });
  const keptProblems = [
    ...(s?.platform && !withShared ? s.platform.stamps.flatMap(problemsOf) : []),
    ...kepts.flatMap(problemsOf),
  ];
  const all_ = unique([...loadTier, ...outputTier, ...keptProblems]);
  if (hasErrors(all_)) return fail({ project, problems: all_, counts: { pipelines: all.length, files: 0 } });

  // 4. The clusters' own files and their stamps, when rendered; what the kept stamps name stays.
  if (withShared) {
    const sharedFiles = toFiles(platform);
    for (const f of sharedFiles) emit(f);
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
      emit({ path: clusterStampPath(cluster.name), content: stampText(stamp) });
    });
  }
  const keptPaths = [
    ...kepts.flatMap((p) => [
      `${clusterOf(p)}/pipelines/${p.pipeline}/${STAMP_FILE}`,
      ...Object.keys(p.outputs).map((o) => `${clusterOf(p)}/${o}`),
    ]),
    ...(withShared
      ? []
      : s!.platform!.stamps.flatMap((c) => [
          clusterStampPath(c.cluster.name),
          ...Object.keys(c.outputs).map((o) => `${c.cluster.name}/${o}`),
        ])),
  ];
  for (const p of keptPaths) {
    if (wanted.has(p)) throw new Error(`two objects were rendered to ${GENERATED_DIR}/${p}`);
    wanted.add(p);
  }
  const counts = { pipelines: all.length, files: wanted.size };
  const base = { project, problems: all_, prices: prices.byCluster, counts };
  if (!sink)
    return {
      ...base,
      objects: [...(withShared ? platform : []), ...objects],
      files: held.sort((a, b) => (a.path < b.path ? -1 : a.path > b.path ? 1 : 0)),
    };

  // 5. Compared with generated/: what differs was staged; what no stamp names goes.
  await timed(timings, "finish writing the staged files", () => sink.settle());
  const listing = self ? { files: [], irregular: [self] } : s ? s.listing : listTree(target);
  const tree = {
    stale: [...sink.stale].sort(),
    missing: [...sink.missing].sort(),
    extra: listing.files.filter((f) => !wanted.has(f)),
    irregular: listing.irregular,
  };
  const commit = async () =>
    commitTree(
      root,
      GENERATED_DIR,
      [...tree.stale, ...tree.missing],
      [...tree.extra, ...tree.irregular.map((i) => i.path)],
    );
  return { ...base, tree, ...(output === "stage" ? { commit } : {}) };
}

/** The platform as the survey proved it, or loaded: its clusters, its input files, today's key. */
async function platformOf(
  root: string,
  s: Survey | undefined,
  loader: TsLoader,
): Promise<
  | { clusters: readonly ResolvedCluster[]; inputs: readonly string[]; key: string; blobs: Blobs; problems: Problem[] }
  | { failed: true; problems: Problem[] }
> {
  if (s?.platform)
    return {
      clusters: s.platform.clusters,
      inputs: Object.keys(s.platform.stamps[0]!.inputs),
      key: s.platform.key,
      blobs: s.blobs,
      problems: [],
    };
  const loaded = await loadPlatform(root, loader);
  if (hasErrors(loaded.problems)) return { failed: true, problems: loaded.problems };
  const inputs = [...new Set([...loaded.inputs, ...loaded.clusters.map((c) => c.prices)])].sort();
  const blobs = s?.blobs ?? (await Blobs.start(root));
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

/** What one definition became: its pipelines' files per cluster, its output's problems and capacity facts. */
interface Rendered {
  readonly pipelines: readonly {
    readonly name: string;
    readonly clusters: readonly string[];
    readonly tenant?: PipelineStamp["tenant"];
    readonly files: readonly OutputFile[];
  }[];
  readonly outputProblems: readonly Problem[];
  readonly facts: readonly CapacityFacts[];
  readonly objects: readonly RenderedObject[];
}

/**
 * Renders and checks some loaded definitions' pipelines, CHUNK at a time (a template may hold
 * thousands), and tells each definition its own: its pipelines' files, the problems of its
 * files or its definition, its capacity facts. (A problem of the output that names neither is an
 * error of the platform's limits for a run of one of them: each of the chunk's definitions gets it.)
 */
function renderBatch(
  batch: readonly Loaded[],
  clusters: readonly ResolvedCluster[],
  platform: readonly RenderedObject[],
  prices: ReadonlyMap<string, PriceData>,
): Rendered[] {
  const clusterNames = clusters.map((c) => c.name);
  const results = batch.map(() => ({
    pipelines: [] as Rendered["pipelines"][number][],
    outputProblems: [] as Problem[],
    facts: [] as CapacityFacts[],
    objects: [] as RenderedObject[],
  }));
  const owner = new Map<string, number>();
  const byFile = new Map<string, number>();
  batch.forEach((l, i) => {
    byFile.set(l.file, i);
    for (const t of l.tenants?.values() ?? []) byFile.set(t.file, i);
    for (const p of l.pipelines) owner.set(p.name, i);
  });
  const all = batch.flatMap((l) => l.pipelines);
  for (let at = 0; at < all.length; at += CHUNK) {
    const chunk = all.slice(at, at + CHUNK);
    const rendered = renderPipelines(clusters, chunk);
    const byPath = new Map(rendered.map((o) => [`${GENERATED_DIR}/${o.path}`, owner.get(o.pipeline!)!]));
    const found = checkOutput(rendered, new Set(), platform);
    const cap = capacity([...platform, ...rendered], prices, clusterNames, [], { shared: false });
    found.push(...cap.problems);
    for (const f of cap.facts) results[owner.get(f.pipeline)!]!.facts.push(f);
    const ok = !hasErrors(found);
    for (const p of chunk) {
      const files = ok ? toFiles(rendered.filter((o) => o.pipeline === p.name)) : [];
      found.push(...checkSizes(files, new Map(rendered.map((o) => [o.path, o.source]))));
      const i = owner.get(p.name)!;
      const tenant = batch[i]!.tenants?.get(p.name);
      results[i]!.pipelines.push({
        name: p.name,
        clusters: [...p.clusters].sort(),
        ...(tenant ? { tenant } : {}),
        files,
      });
    }
    const inChunk = [...new Set(chunk.map((p) => owner.get(p.name)!))];
    for (const problem of found) {
      const i = byPath.get(problem.file) ?? byFile.get(problem.file);
      for (const j of i !== undefined ? [i] : inChunk) results[j]!.outputProblems.push(problem);
    }
    for (const o of rendered) results[owner.get(o.pipeline!)!]!.objects.push(o);
  }
  return results;
}

const poolLimitsOf = (platform: readonly RenderedObject[], cluster: string, data: PriceData) =>
  poolLimits(
    clusterPools(
      platform.filter((o) => o.cluster === cluster).map((o) => o.manifest as never),
      data,
    ).pools,
  );

const idsOf = (blobs: Blobs, paths: readonly string[]): Ids =>
  Object.fromEntries(paths.map((p) => [p, blobs.id(p) ?? "(missing)"]));

/** Each problem once (a template's tenants and several clusters may report the same one). */
function unique(problems: readonly Problem[]): Problem[] {
  const seen = new Set<string>();
  return problems.filter((p) => {
    const key = JSON.stringify(p);
    return !seen.has(key) && seen.add(key);
  });
}
