/**
 * What proves generated/ fresh without rendering it: a stamp beside the files of every pipeline
 * folder (`generated/<cluster>/pipelines/<name>/dagops.stamp`) and of every cluster folder
 * (`generated/<cluster>/dagops.stamp`). A stamp names, by git blob id (blobs.ts), every input the
 * render of its files read and every file it wrote, with the warnings and capacity facts the
 * render found. Its files are fresh when each input still has its id and each file too:
 * whatever changed elsewhere, the same inputs render the same bytes.
 *
 * The inputs of a pipeline are its definition and every module that definition imports (as the
 * loader resolved them, transitively), or for a template's tenant the template, its imports and
 * the tenant's own entry in the tenants file; the inputs every stamp shares are in its
 * `platform` key: dagops's own code and data (package.json "dagops.code"), package.json,
 * package-lock.json, tsconfig.json, and what the cluster stamps list (platform.config.ts, its
 * imports, the price snapshots). Two pull requests that change two pipelines touch two sets of
 * stamps; only a platform-wide change touches every one.
 */
import { createHash } from "node:crypto";
import { readdirSync, readFileSync } from "node:fs";
import { join } from "node:path";
import type { CapacityFacts, PoolLimits } from "../checks/capacity.ts";
import { CODE_DIRS, GENERATED_DIR, STAMP_FILE } from "../model/files.ts";
import type { ResolvedCluster } from "../model/platform.ts";
import { sortProblems, type Problem } from "../contract/problems.ts";
import type { Blobs } from "./blobs.ts";

export const STAMP_FORMAT = 1;
const ABOUT =
  "Written by npm run synth: what the files beside it were rendered from, by git blob id. npm run check proves them fresh with it. Do not edit; run npm run synth.";

/** path → blob id, sorted by path. */
export type Ids = Readonly<Record<string, string>>;

export interface PipelineStamp {
  readonly format: typeof STAMP_FORMAT;
  readonly about: string;
  readonly platform: string;
  readonly pipeline: string;
  /** Every cluster the pipeline deploys to (each has a stamp of its own). */
  readonly clusters: readonly string[];
  /** The definition file. */
  readonly source: string;
  /** The definition and every file it imports (repository paths). */
  readonly inputs: Ids;
  /** For a template's tenant: its entry in the tenants file, by sha256 of its JSON. */
  readonly tenant?: { readonly file: string; readonly name: string; readonly entry: string };
  /** Every file rendered for the pipeline in this cluster, by path under generated/<cluster>/. */
  readonly outputs: Ids;
  /** The definition's warnings, of loading it (reported also when another definition fails to load) and of its output. */
  readonly loadProblems: readonly Problem[];
  readonly outputProblems: readonly Problem[];
  readonly facts: CapacityFacts | null;
}

export interface ClusterStamp {
  readonly format: typeof STAMP_FORMAT;
  readonly about: string;
  readonly platform: string;
  /** The cluster's place in platform.config.ts (problems name `clusters[i]`). */
  readonly index: number;
  /** platform.config.ts, every file it imports, and the price snapshots. */
  readonly inputs: Ids;
  readonly cluster: ResolvedCluster;
  /** The limits of the cluster's NodePools, for the check of pipelines that start together. */
  readonly pools: Readonly<Record<string, PoolLimits>>;
  /** The cluster's own files (bootstrap/, the platform Application, platform/ without the pipelines'). */
  readonly outputs: Ids;
  /** The platform's warnings, of loading it and of its own files. */
  readonly loadProblems: readonly Problem[];
  readonly outputProblems: readonly Problem[];
}

/** Where a stamp lives, under generated/. */
export const clusterStampPath = (cluster: string) => `${cluster}/${STAMP_FILE}`;
export const pipelineStampPath = (cluster: string, pipeline: string) =>
  `${cluster}/pipelines/${pipeline}/${STAMP_FILE}`;

/** A stamp's text: fixed key order, one id per line, so that a pull request's diff of it reads. */
export function stampText(
  stamp: Omit<PipelineStamp, "format" | "about"> | Omit<ClusterStamp, "format" | "about">,
): string {
  const sorted = (ids: Ids) =>
    Object.fromEntries(
      Object.keys(ids)
        .sort()
        .map((k) => [k, ids[k]!]),
    );
  const body = {
    format: STAMP_FORMAT,
    about: ABOUT,
    ...stamp,
    inputs: sorted(stamp.inputs),
    outputs: sorted(stamp.outputs),
    loadProblems: sortProblems(stamp.loadProblems),
    outputProblems: sortProblems(stamp.outputProblems),
  };
  return `${JSON.stringify(body, null, 2)}\n`;
}

/** A stamp under generated/, when it is one this version writes; undefined otherwise (then nothing beside it is trusted). */
export function readStamp<T extends PipelineStamp | ClusterStamp>(root: string, path: string): T | undefined {
  try {
    const stamp = JSON.parse(readFileSync(join(root, GENERATED_DIR, path), "utf8")) as T;
    return stamp?.format === STAMP_FORMAT &&
      typeof stamp.platform === "string" &&
      stamp.inputs &&
      stamp.outputs &&
      Array.isArray(stamp.loadProblems) &&
      Array.isArray(stamp.outputProblems)
      ? stamp
      : undefined;
  } catch {
    return undefined;
  }
}

/** A stamp's warnings, both tiers. */
export const problemsOf = (stamp: Pick<PipelineStamp, "loadProblems" | "outputProblems">): Problem[] => [
  ...stamp.loadProblems,
  ...stamp.outputProblems,
];

/** Whether every path still has its id. */
export function unchanged(ids: Ids, blobs: Blobs, prefix = ""): boolean {
  for (const path in ids) if (blobs.id(prefix + path) !== ids[path]) return false;
  return true;
}

/** dagops's own files, whose ids are in every key: the code folders and the files that pin what they run with. */
export function codeFiles(root: string): string[] {
  const files = ["package.json", "package-lock.json", "tsconfig.json"];
  for (const dir of CODE_DIRS) {
    let entries: string[];
    try {
      entries = (readdirSync(join(root, dir), { recursive: true }) as string[]).map((e) => e.split("\\").join("/"));
    } catch {
      continue;
    }
    // Dot files and folders are an editor's or a tool's, not dagops's (a swap file, a local build).
    for (const e of entries) if (!e.split("/").some((part) => part.startsWith("."))) files.push(`${dir}/${e}`);
  }
  return files.sort();
}

/**
 * The key every stamp of a tree carries: the ids of dagops's own files and of the platform's
 * inputs (`platform`), as they are now. A file that is missing counts as such.
 */
export function platformKey(root: string, blobs: Blobs, platform: Iterable<string>): string {
  const h = createHash("sha256").update(`dagops stamps ${STAMP_FORMAT}\0`);
  for (const path of [...new Set([...codeFiles(root), ...platform])].sort()) {
    const id = blobs.id(path);
    // Folders (the code folders list them too) have no id and are left out.
    if (id !== undefined) h.update(`${path}\0${id}\0`);
  }
  return h.digest("hex");
}
