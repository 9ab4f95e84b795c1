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
import { chmodSync, linkSync, lstatSync, mkdirSync, readdirSync, readFileSync, readlinkSync, writeFileSync, type Dirent } from "node:fs";
import { readdir, rename, rm } from "node:fs/promises";
import { dirname, join, resolve } from "node:path";
import { GENERATED_DIR } from "../../model/files.ts";
import type { Io } from "../../cli/kit.ts";
import { acquireLock, isAlive, LockTimeoutError } from "./lock.ts";
import type { OutputFile } from "../../render/render.ts";

const PREVIOUS = ".generated.previous";
const STAGING = ".generated.staging-";
/** An incremental write's commit record: once it exists, the write is completed, by the writer or by recover(). */
const JOURNAL = ".generated.journal";

export interface TreeDiff {
  /** Files whose content differs. */
  readonly stale: string[];
  /** Files that should exist and do not. */
  readonly missing: string[];
  /** Files on disk that nothing generates. */
  readonly extra: string[];
}

/**
 * Something under `generated/` that is not a regular file: a symlink (Argo CD would apply what
 * it points to, which review never shows), a FIFO, a socket or a device. `path` is relative to
 * the tree; "" is the tree folder itself.
 */
export interface Irregular {
  readonly path: string;
  /** What it is, for messages: `a symlink to ../../pipelines/_payload.yaml`, `a FIFO`. */
  readonly kind: string;
}

/** Thrown by the writer when the tree cannot be written safely; commands report it as a problem. */
export class UnsafeTreeError extends Error {}

function kindOf(full: string, e: { isSymbolicLink(): boolean; isFIFO(): boolean; isSocket(): boolean; isBlockDevice(): boolean; isCharacterDevice(): boolean }): string {
  if (e.isSymbolicLink()) {
    try {
      return `a symlink to ${readlinkSync(full)}`;
    } catch {
      return "a symlink";
    }
  }
  return e.isFIFO() ? "a FIFO" : e.isSocket() ? "a socket" : e.isBlockDevice() || e.isCharacterDevice() ? "a device" : "not a regular file";
}

/**
 * Every regular file under `dir` as `path → content` (paths relative, with `/`, sorted), and
 * every entry that is not a regular file or a folder. Missing dir: empty. A symlink is never
 * followed, so its target's content is never read or echoed.
 */
export async function readTreeEntries(dir: string, keep: ReadonlySet<string> = new Set(), wanted?: (path: string) => boolean): Promise<{ files: Map<string, string>; irregular: Irregular[] }> {
  const out = new Map<string, string>();
  const irregular: Irregular[] = [];
  try {
    const self = lstatSync(dir);
    if (!self.isDirectory()) return { files: out, irregular: [{ path: "", kind: kindOf(dir, self) }] };
  } catch (e) {
    if ((e as NodeJS.ErrnoException).code === "ENOENT") return { files: out, irregular };
    throw e;
  }
  const entries = keep.size ? listOutside(dir, keep) : await readdir(dir, { recursive: true, withFileTypes: true });
  const rel = (full: string) => full.slice(dir.length + 1).split("\\").join("/");
  const files: string[] = [];
  for (const e of entries) {
    const full = join(e.parentPath ?? (e as unknown as { path: string }).path, e.name);
    // Folders an incremental synth proved unchanged are not read (their files were hashed).
    if (keep.size && e.isFile() && keep.has(rel(full).slice(0, rel(full).lastIndexOf("/")))) continue;
    if (e.isFile() && (!wanted || wanted(rel(full)))) files.push(full);
    else if (e.isFile()) continue;
    else if (!e.isDirectory()) irregular.push({ path: rel(full), kind: kindOf(full, e) });
  }
  // Synchronous on purpose: for tens of thousands of small files it is faster than promises
  // (no thread-pool round trip per file) and never exhausts file descriptors.
  for (const f of files) out.set(rel(f), readFileSync(f, "utf8"));
  irregular.sort((a, b) => (a.path < b.path ? -1 : a.path > b.path ? 1 : 0));
  return { files: new Map([...out].sort(([a], [b]) => (a < b ? -1 : a > b ? 1 : 0))), irregular };
}

/** The entries under `dir`, without descending into the folders in `keep` (relative paths). */
function listOutside(dir: string, keep: ReadonlySet<string>): Dirent[] {
  const out: Dirent[] = [];
  const walk = (rel: string) => {
    for (const e of readdirSync(rel ? join(dir, rel) : dir, { withFileTypes: true })) {
      const path = rel ? `${rel}/${e.name}` : e.name;
      out.push(e);
      if (e.isDirectory() && !keep.has(path)) walk(path);
    }
  };
  walk("");
  return out;
}

/** The regular files under `dir` (see readTreeEntries). */
export async function readTree(dir: string): Promise<Map<string, string>> {
  return (await readTreeEntries(dir)).files;
}

/** "generated/x is a symlink to y: …" for people. */
export function irregularMessage(dirName: string, i: Irregular): string {
  const where = i.path === "" ? `${dirName}/` : `${dirName}/${i.path}`;
  return `${where} is ${i.kind}; ${dirName}/ may hold only regular files that synth writes (Argo CD would apply whatever a link points to). Remove it${i.path === "" ? " and let synth create the folder" : ""}, then run \`npm run synth\``;
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
  // An incremental write that committed (its journal exists) but did not finish: finish it.
  const journal = readJournal(root);
  if (journal && !isAlive(journal.pid)) {
    await applyJournal(root, dirName, journal);
    note = `completed ${dirName}/ from an interrupted synth`;
  }
  if (!(await exists(target)) && (await exists(previous))) {
    await rename(previous, target);
    note = `restored ${dirName}/ from an interrupted synth`;
  }
  for (const name of await readdir(root)) {
    // A staging folder of a live process is another writer's work in progress: never touch it.
    if ((name.startsWith(STAGING) && !isAlive(Number(name.slice(STAGING.length)))) || name === PREVIOUS) await removeTree(join(root, name));
  }
  return note;
}

/**
 * An incremental write: `files` are written where they differ, the folders in `keep` (proved
 * unchanged) are left alone, and every other file not in `files` is removed. Atomic as a whole:
 * staged, committed by a journal, then applied; a kill before the commit leaves the old tree,
 * after it the next writer (recover) finishes the new one.
 */
export async function patchTree(root: string, dirName: string, files: readonly OutputFile[], keep: readonly string[]): Promise<TreeDiff> {
  await recover(root, dirName);
  const target = join(root, dirName);
  const { files: current, irregular } = await readTreeEntries(target, new Set(keep));
  const self = irregular.find((i) => i.path === "");
  if (self) throw new UnsafeTreeError(irregularMessage(dirName, self));
  const found = diffTree(files, current);
  const diff = { ...found, extra: [...found.extra, ...irregular.map((i) => i.path)].sort() };
  if (isClean(diff)) return diff;
  // The new files go to a staging folder first; the journal then commits the write (one atomic
  // rename); applying it moves each file in and removes the others. A kill before the commit
  // leaves the old tree; after it, recover() finishes the new one.
  const changed = new Set([...diff.stale, ...diff.missing]);
  const staging = join(root, `${STAGING}${process.pid}`);
  await rm(staging, { recursive: true, force: true });
  for (const f of files) {
    if (!changed.has(f.path)) continue;
    mkdirSync(dirname(join(staging, f.path)), { recursive: true });
    writeFileSync(join(staging, f.path), f.content);
  }
  const journal: Journal = { pid: process.pid, staging: `${STAGING}${process.pid}`, writes: [...changed].sort(), deletes: diff.extra };
  writeFileSync(join(root, `${JOURNAL}.tmp`), JSON.stringify(journal));
  await rename(join(root, `${JOURNAL}.tmp`), join(root, JOURNAL));
  await applyJournal(root, dirName, journal);
  return diff;
}

interface Journal {
  readonly pid: number;
  readonly staging: string;
  readonly writes: readonly string[];
  readonly deletes: readonly string[];
}

function readJournal(root: string): Journal | undefined {
  try {
    return JSON.parse(readFileSync(join(root, JOURNAL), "utf8")) as Journal;
  } catch {
    return undefined;
  }
}

/** Moves the staged files in and removes the deleted ones; idempotent, so a second try after a kill finishes the job. */
async function applyJournal(root: string, dirName: string, journal: Journal): Promise<void> {
  const target = join(root, dirName);
  const staging = join(root, journal.staging);
  for (const path of journal.writes) {
    const from = join(staging, path);
    if (!lstatSync(from, { throwIfNoEntry: false })) continue; // moved in already
    mkdirSync(dirname(join(target, path)), { recursive: true });
    await rename(from, join(target, path));
  }
  for (const path of journal.deletes) await rm(join(target, path), { force: true, recursive: true });
  // Folders of removed pipelines are left empty: remove them.
  for (const dir of [...new Set(journal.deletes.map((p) => dirname(join(target, p))))].sort().reverse()) {
    try {
      if ((await readdir(dir)).length === 0) await rm(dir, { recursive: true });
    } catch {
      // gone already
    }
  }
  await rm(join(root, JOURNAL), { force: true });
  await rm(staging, { recursive: true, force: true });
}

/** Replaces `root/dirName` with exactly `files`. Returns the diff it applied (empty: nothing written). */
export async function writeTree(root: string, dirName: string, files: readonly OutputFile[]): Promise<TreeDiff> {
  await recover(root, dirName);
  const target = join(root, dirName);
  const { files: current, irregular } = await readTreeEntries(target);
  const self = irregular.find((i) => i.path === "");
  if (self) throw new UnsafeTreeError(irregularMessage(dirName, self));
  const found = diffTree(files, current);
  // Links, FIFOs and devices are never part of the tree: the swap below removes them.
  const diff = { ...found, extra: [...found.extra, ...irregular.map((i) => i.path)].sort() };
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
  if (hadTree) await removeTree(join(root, PREVIOUS));
  return diff;
}

/**
 * `rm -rf` that also works when a folder inside was made read-only (by hand, a tool or a
 * checkout): without write permission on a folder its files cannot be unlinked, and every later
 * command would fail on the leftover.
 */
async function removeTree(path: string): Promise<void> {
  try {
    await rm(path, { recursive: true, force: true });
    return;
  } catch (e) {
    if ((e as NodeJS.ErrnoException).code !== "EACCES" && (e as NodeJS.ErrnoException).code !== "EPERM") throw e;
  }
  const dirs = [path, ...(await readdir(path, { recursive: true, withFileTypes: true })).filter((e) => e.isDirectory()).map((e) => join(e.parentPath ?? (e as unknown as { path: string }).path, e.name))];
  for (const d of dirs) chmodSync(d, 0o755);
  await rm(path, { recursive: true, force: true });
}

async function exists(path: string): Promise<boolean> {
  try {
    await readdir(path);
    return true;
  } catch {
    return false;
  }
}

/**
 * The repository a command works on. Only a writer (synth, holding the lock) puts back a tree
 * an interrupted synth left behind and clears scratch folders; every other command only reads,
 * and says so when it finds such a state (between a writer's two renames, putting it back
 * would break that writer).
 */
export async function openRepository(command: string, rootFlag: string | undefined, io: Io, mode: "read" | "write" = "read"): Promise<string> {
  const root = resolve(io.cwd, rootFlag ?? ".");
  if (mode === "write") {
    const restored = await recover(root, GENERATED_DIR);
    if (restored) io.stderr(`dagops ${command}: ${restored}\n`);
  } else if (!(await exists(join(root, GENERATED_DIR))) && (await exists(join(root, PREVIOUS)))) {
    io.stderr(`dagops ${command}: an interrupted synth left ${GENERATED_DIR}/ in ${PREVIOUS}; run \`npm run synth\` to put it back\n`);
  } else if (readJournal(root) && !isAlive(readJournal(root)!.pid)) {
    io.stderr(`dagops ${command}: an interrupted synth left ${GENERATED_DIR}/ half-written (${JOURNAL}); run \`npm run synth\` to finish it\n`);
  }
  return root;
}

/**
 * Runs `work` on the repository while holding its lock (see lock.ts): synth and check take it,
 * so a second command waits instead of racing the first. Exit 2 when the wait runs out.
 */
export async function withRepository(command: string, rootFlag: string | undefined, io: Io, mode: "read" | "write", work: (root: string) => Promise<number>): Promise<number> {
  const root = resolve(io.cwd, rootFlag ?? ".");
  let release: () => void;
  try {
    release = await acquireLock(root, command, io, lockWaitMs(io));
  } catch (err) {
    if (!(err instanceof LockTimeoutError)) throw err;
    io.stderr(`dagops ${command}: ${err.message}\n`);
    return 2;
  }
  try {
    return await work(await openRepository(command, rootFlag, io, mode));
  } finally {
    release();
  }
}

/** How long to wait for another command's lock: `DAGOPS_LOCK_WAIT_SECONDS`, default 10 minutes. */
function lockWaitMs(io: Io): number {
  const s = Number(io.env.DAGOPS_LOCK_WAIT_SECONDS);
  return Number.isFinite(s) && s >= 0 && io.env.DAGOPS_LOCK_WAIT_SECONDS !== undefined && io.env.DAGOPS_LOCK_WAIT_SECONDS !== "" ? s * 1000 : 10 * 60_000;
}
