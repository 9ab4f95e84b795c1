/**
 * The one writer of `generated/`. A synth replaces the whole tree with one directory rename, so
 * a crash or Ctrl-C leaves either the old tree or the new one:
 *
 *   1. write the new tree into `.generated.staging-<pid>` (unchanged files are hard-linked
 *      from the current tree, so a one-pipeline change writes one pipeline's files);
 *   2. rename `generated` → `.generated.previous`;
 *   3. rename `.generated.staging-<pid>` → `generated`;
 *   4. delete `.generated.previous`.
 *
 * A kill between 2 and 3 (two back-to-back rename calls) leaves no `generated/` but a complete
 * `.generated.previous`; every dagops command starts with `recover()`, which puts it back. A no-op
 * synth compares first and writes nothing.
 */
import { linkSync, mkdirSync, readFileSync, writeFileSync } from "node:fs";
import { readdir, rename, rm } from "node:fs/promises";
import { dirname, join, resolve } from "node:path";
import { GENERATED_DIR } from "../../model/files.ts";
import type { Io } from "./cli.ts";
import type { OutputFile } from "../../render/render.ts";

const PREVIOUS = ".generated.previous";
const STAGING = ".generated.staging-";

export interface TreeDiff {
  /** Files whose content differs. */
  readonly stale: string[];
  /** Files that should exist and do not. */
  readonly missing: string[];
  /** Files on disk that nothing generates. */
  readonly extra: string[];
}

/** Reads every file under `dir` as `path → content` (paths relative, with `/`). Missing dir: empty. */
export async function readTree(dir: string): Promise<Map<string, string>> {
  const out = new Map<string, string>();
  let entries;
  try {
    entries = await readdir(dir, { recursive: true, withFileTypes: true });
  } catch (e) {
    if ((e as NodeJS.ErrnoException).code === "ENOENT") return out;
    throw e;
  }
  const files = entries.filter((e) => e.isFile()).map((e) => join(e.parentPath ?? (e as unknown as { path: string }).path, e.name));
  // Synchronous on purpose: for tens of thousands of small files it is faster than promises
  // (no thread-pool round trip per file) and never exhausts file descriptors.
  for (const f of files) out.set(f.slice(dir.length + 1).split("\\").join("/"), readFileSync(f, "utf8"));
  return new Map([...out].sort(([a], [b]) => (a < b ? -1 : a > b ? 1 : 0)));
}

export function diffTree(files: readonly OutputFile[], onDisk: ReadonlyMap<string, string>): TreeDiff {
  const stale: string[] = [];
  const missing: string[] = [];
  const wanted = new Set<string>();
  for (const f of files) {
    wanted.add(f.path);
    const have = onDisk.get(f.path);
    if (have === undefined) missing.push(f.path);
    else if (have !== f.content) stale.push(f.path);
  }
  const extra = [...onDisk.keys()].filter((p) => !wanted.has(p)).sort();
  return { stale, missing, extra };
}

export function isClean(d: TreeDiff): boolean {
  return d.stale.length + d.missing.length + d.extra.length === 0;
}

/** Puts back a tree left behind by a writer that was killed mid-swap, and clears its scratch dirs. */
export async function recover(root: string, dirName: string): Promise<string | undefined> {
  const target = join(root, dirName);
  const previous = join(root, PREVIOUS);
  let note: string | undefined;
  if (!(await exists(target)) && (await exists(previous))) {
    await rename(previous, target);
    note = `restored ${dirName}/ from an interrupted synth`;
  }
  for (const name of await readdir(root)) {
    if (name.startsWith(STAGING) || name === PREVIOUS) await rm(join(root, name), { recursive: true, force: true });
  }
  return note;
}

/** Replaces `root/dirName` with exactly `files`. Returns the diff it applied (empty: nothing written). */
export async function writeTree(root: string, dirName: string, files: readonly OutputFile[]): Promise<TreeDiff> {
  await recover(root, dirName);
  const target = join(root, dirName);
  const current = await readTree(target);
  const diff = diffTree(files, current);
  if (isClean(diff)) return diff;

  const seen = new Set<string>();
  for (const f of files) {
    if (seen.has(f.path)) throw new Error(`two objects were rendered to ${dirName}/${f.path}`);
    seen.add(f.path);
  }
  const staging = join(root, `${STAGING}${process.pid}`);
  await rm(staging, { recursive: true, force: true });
  const dirs = new Set(files.map((f) => dirname(join(staging, f.path))));
  for (const d of [...dirs].sort()) mkdirSync(d, { recursive: true });
  const changed = new Set([...diff.stale, ...diff.missing]);
  for (const f of files) {
    if (changed.has(f.path)) writeFileSync(join(staging, f.path), f.content);
    else linkSync(join(target, f.path), join(staging, f.path));
  }

  const hadTree = await exists(target);
  if (hadTree) await rename(target, join(root, PREVIOUS));
  await rename(staging, target);
  if (hadTree) await rm(join(root, PREVIOUS), { recursive: true, force: true });
  return diff;
}

async function exists(path: string): Promise<boolean> {
  try {
    await readdir(path);
    return true;
  } catch {
    return false;
  }
}

/** The repository a command works on, with any tree an interrupted synth left behind put back. */
export async function openRepository(command: string, rootFlag: string | undefined, io: Io): Promise<string> {
  const root = resolve(io.cwd, rootFlag ?? ".");
  const restored = await recover(root, GENERATED_DIR);
  if (restored) io.stderr(`dagops ${command}: ${restored}\n`);
  return root;
}
