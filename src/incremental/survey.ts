/**
 * What a synth or check must render, proved from the stamps (stamps.ts) without loading a
 * definition: the platform is unchanged when the cluster stamps' key is today's key; a
 * definition is unchanged when each of its pipelines has a stamp in each of its clusters whose
 * inputs and outputs all still have their ids. Everything else is compiled. A stamp that is not
 * this version's, or not readable, proves nothing: what it would have proved is compiled.
 */
import { lstatSync, readdirSync } from "node:fs";
import { join } from "node:path";
import { sharedLimitProblems } from "../checks/capacity.ts";
import { GENERATED_DIR, STAMP_FILE } from "../model/files.ts";
import type { ResolvedCluster } from "../model/platform.ts";
import type { Problem } from "../contract/problems.ts";
import { Blobs } from "./blobs.ts";
import { jsonHash, orphanTenantsFiles, pipelineFiles, tenantsFileOf, tenantsFiles } from "../load/definitions.ts";
import { OUTSIDE, readFastYaml } from "../load/fast-yaml.ts";
import { readSource } from "../load/source.ts";
import {
  clusterStampPath,
  platformKey,
  problemsOf,
  readStamp,
  unchanged,
  type ClusterStamp,
  type PipelineStamp,
} from "./stamps.ts";
import { listTree, type Irregular } from "../write/tree.ts";
import { getOrSet } from "../contract/order.ts";

export interface Survey {
  readonly blobs: Blobs;
  /** The platform as its stamps recorded it, when they prove it unchanged; otherwise it is loaded and every definition compiled. */
  readonly platform?: {
    readonly clusters: readonly ResolvedCluster[];
    /** In the clusters' order. */
    readonly stamps: readonly ClusterStamp[];
    readonly key: string;
    /** Whether every cluster's own files still have their ids. */
    readonly intact: boolean;
  };
  readonly files: readonly string[];
  readonly tenants: readonly string[];
  /** The definitions proved unchanged, with their stamps. */
  readonly kept: ReadonlyMap<string, readonly PipelineStamp[]>;
  /** The definitions to compile. */
  readonly changed: readonly string[];
  /** Of the changed templates: the tenants' pipelines proved unchanged, with their stamps (not resolved again). */
  readonly keptTenants: ReadonlyMap<string, ReadonlyMap<string, readonly PipelineStamp[]>>;
  /** What generated/ holds now (paths under it). */
  readonly listing: { readonly files: readonly string[]; readonly irregular: readonly Irregular[] };
}

export async function survey(root: string, options: { git?: boolean } = {}): Promise<Survey> {
  // git answers in processes of its own while this thread reads the stamps.
  const asked = Blobs.start(root, options);
  const files = await pipelineFiles(root);
  const tenants = await tenantsFiles(root);
  const top = lstatSync(join(root, GENERATED_DIR), { throwIfNoEntry: false });
  // generated/ as a link (or a file) proves nothing, and is never read through.
  const stamps = top?.isDirectory() ? readStamps(root) : new Map<string, PipelineStamp[]>();
  const blobs = await asked;
  const listing = (top?.isDirectory() && blobs.files(GENERATED_DIR)) || listTree(join(root, GENERATED_DIR));
  const none = { blobs, files, tenants, kept: new Map(), changed: files, keptTenants: new Map(), listing };
  const platform = top?.isDirectory() ? platformOf(root, blobs) : undefined;
  if (!platform || orphanTenantsFiles(files, tenants).length) return none;

  const fresh = (s: PipelineStamp) =>
    s.platform === platform.key &&
    unchanged(s.inputs, blobs) &&
    unchanged(s.outputs, blobs, `${GENERATED_DIR}/${clusterOf(s)}/`);

  const kept = new Map<string, readonly PipelineStamp[]>();
  const changed: string[] = [];
  const keptTenants = new Map<string, Map<string, PipelineStamp[]>>();
  for (const file of files) {
    const mine = stamps.get(file) ?? [];
    const byPipeline = new Map<string, PipelineStamp[]>();
    for (const s of mine) getOrSet(byPipeline, s.pipeline, () => []).push(s);
    const tenantsFile = tenantsFileOf(file, tenants);
    const entries = tenantsFile ? tenantEntries(root, tenantsFile) : undefined;
    // A pipeline is proved when it has a fresh stamp in each of its clusters (and, for a tenant, its entry is the one rendered).
    const proved = new Map<string, PipelineStamp[]>();
    for (const [name, list] of byPipeline) {
      const clusters = new Set(list.map(clusterOf));
      const complete = list.every(
        (s) => s.clusters.length === clusters.size && s.clusters.every((c) => clusters.has(c)),
      );
      const entryOk = list.every((s) =>
        s.tenant
          ? entries?.get(s.tenant.name) === s.tenant.entry && s.tenant.file === tenantsFile
          : tenantsFile === undefined,
      );
      if (complete && entryOk && list.every(fresh)) proved.set(name, list);
    }
    const expected = entries ? entries.size : byPipeline.size;
    if (mine.length > 0 && proved.size === byPipeline.size && proved.size === expected) kept.set(file, mine);
    else {
      changed.push(file);
      // A tenant kept without being resolved keeps the problems its stamp recorded: only when none of the template's stamps has any.
      if (entries && proved.size && mine.every((s) => problemsOf(s).length === 0)) keptTenants.set(file, proved);
    }
  }
  return { blobs, platform, files, tenants, kept, changed, keptTenants, listing };
}

/** The cluster a pipeline stamp was read from (its folder says it). */
export const clusterOf = (s: PipelineStamp): string => clusters.get(s)!;
const clusters = new WeakMap<PipelineStamp, string>();

/** Every pipeline stamp under generated/, by definition file: the folders of each cluster's pipelines/, read. */
function readStamps(root: string): Map<string, PipelineStamp[]> {
  const stamps = new Map<string, PipelineStamp[]>();
  const names = (dir: string) => {
    try {
      return readdirSync(join(root, GENERATED_DIR, dir), { withFileTypes: true })
        .filter((e) => e.isDirectory())
        .map((e) => e.name);
    } catch {
      return [];
    }
  };
  for (const cluster of names("")) {
    for (const pipeline of names(`${cluster}/pipelines`)) {
      const stamp = readStamp<PipelineStamp>(root, `${cluster}/pipelines/${pipeline}/${STAMP_FILE}`);
      if (!stamp || stamp.pipeline !== pipeline) continue;
      clusters.set(stamp, cluster);
      getOrSet(stamps, stamp.source, () => []).push(stamp);
    }
  }
  return stamps;
}

/** The platform as its stamps recorded it, when they prove it unchanged (see Survey.platform). */
export async function provedPlatform(root: string): Promise<Survey["platform"]> {
  return platformOf(root, await Blobs.start(root));
}

/** The platform, when every cluster folder has a stamp of today's key, in an order without gaps. */
function platformOf(root: string, blobs: Blobs): Survey["platform"] {
  let names: string[];
  try {
    names = readdirSync(join(root, GENERATED_DIR), { withFileTypes: true })
      .filter((e) => e.isDirectory())
      .map((e) => e.name);
  } catch {
    return undefined;
  }
  const stamps: ClusterStamp[] = [];
  for (const name of names) {
    const stamp = readStamp<ClusterStamp>(root, clusterStampPath(name));
    if (!stamp || stamp.cluster?.name !== name) return undefined;
    stamps[stamp.index] = stamp;
  }
  if (stamps.length === 0 || stamps.length !== names.length || stamps.some((s) => s === undefined)) return undefined;
  const key = platformKey(
    root,
    blobs,
    stamps.flatMap((s) => Object.keys(s.inputs)),
  );
  if (stamps.some((s) => s.platform !== key)) return undefined;
  const intact = stamps.every((s) => unchanged(s.outputs, blobs, `${GENERATED_DIR}/${s.cluster.name}/`));
  return { clusters: stamps.map((s) => s.cluster), stamps, key, intact };
}

/** Each tenant's entry in a tenants file, by tenant name and hash; undefined when the file is not a plain list of named entries (it is then compiled, and its problems told). */
function tenantEntries(root: string, file: string): Map<string, string> | undefined {
  const source = readSource(root, file);
  if (source.kind === "refused") return undefined;
  const list = readFastYaml(source.bytes.toString("utf8"));
  if (list === OUTSIDE || !Array.isArray(list)) return undefined;
  const entries = new Map<string, string>();
  for (const t of list) {
    if (
      t === null ||
      typeof t !== "object" ||
      typeof (t as { name?: unknown }).name !== "string" ||
      entries.has((t as { name: string }).name)
    )
      return undefined;
    entries.set((t as { name: string }).name, jsonHash(t));
  }
  return entries;
}

/**
 * Nothing to render: the platform and every definition unchanged, and generated/ holds nothing
 * but what the stamps name. The problems are what a compile would report: the stamps', and the
 * limits of pipelines that start together, from their facts.
 */
export function noChange(
  s: Survey,
): { problems: Problem[]; counts: { pipelines: number; files: number }; clusters: number } | undefined {
  if (!s.platform?.intact || s.changed.length || s.listing.irregular.length) return undefined;
  const stamps = [...s.kept.values()].flat();
  const named = new Set<string>();
  for (const c of s.platform.stamps) {
    named.add(clusterStampPath(c.cluster.name));
    for (const p in c.outputs) named.add(`${c.cluster.name}/${p}`);
  }
  for (const p of stamps) {
    named.add(`${clusterOf(p)}/pipelines/${p.pipeline}/${STAMP_FILE}`);
    for (const o in p.outputs) named.add(`${clusterOf(p)}/${o}`);
  }
  if (s.listing.files.length !== named.size || s.listing.files.some((f) => !named.has(f))) return undefined;
  const problems = [...s.platform.stamps.flatMap(problemsOf), ...stamps.flatMap(problemsOf)];
  for (const c of s.platform.stamps) {
    const facts = stamps.flatMap((p) => (p.facts && clusterOf(p) === c.cluster.name ? [p.facts] : []));
    problems.push(...sharedLimitProblems(c.cluster.name, c.index, facts, c.pools));
  }
  const seen = new Set<string>();
  const once = problems.filter((p) => !seen.has(JSON.stringify(p)) && seen.add(JSON.stringify(p)));
  return {
    problems: once,
    counts: { pipelines: new Set(stamps.map((p) => p.pipeline)).size, files: named.size },
    clusters: s.platform.stamps.length,
  };
}
