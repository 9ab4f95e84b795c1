/**
 * The one writer of `generated/`. A synth writes in three steps, so that a crash or Ctrl-C
 * leaves either the old tree or the new one:
 *
 *   1. stage: every file that differs from the tree is written into `.generated.staging-<pid>`
 *      (through a TreeSink); the tree is not touched;
 *   2. commit: a journal naming the files to move in and the entries to remove is written and
 *      renamed into place (`.generated.journal`), one atomic step;
 *   3. apply: the removals, then the staged files renamed into the tree; then the journal goes.
 *
 * A kill before the commit leaves the old tree (and a staging folder the next writer clears); a
 * kill after it leaves a journal that the next writer applies first (recover), which is safe to
 * repeat. A no-op synth stages nothing and writes nothing.
 */
import {
  chmodSync,
  lstatSync,
  mkdirSync,
  readdirSync,
  readFileSync,
  readlinkSync,
  rmSync,
  writeFileSync,
} from "node:fs";
import { readdir, rename, rm } from "node:fs/promises";
import { Worker } from "node:worker_threads";
import { dirname, join, resolve } from "node:path";
import { GENERATED_DIR } from "../model/files.ts";
import type { Io } from "../cli/kit.ts";
import { acquireLock, isAlive, LockTimeoutError } from "./lock.ts";
import { DagopsError } from "../contract/errors.ts";

const PREVIOUS = ".generated.previous";
const STAGING = ".generated.staging-";
/** A write's commit record: once it exists, the write is completed, by the writer or by recover(). Older versions swapped whole trees through PREVIOUS; recover() still puts such a tree back. */
const JOURNAL = ".generated.journal";

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
export class UnsafeTreeError extends DagopsError {
  readonly code = "UNSAFE_TREE";
}

export function kindOf(
  full: string,
  e: {
    isSymbolicLink(): boolean;
    isFIFO(): boolean;
    isSocket(): boolean;
    isBlockDevice(): boolean;
    isCharacterDevice(): boolean;
  },
): string {
  if (e.isSymbolicLink()) {
    try {
      return `a symlink to ${readlinkSync(full)}`;
    } catch {
      return "a symlink";
    }
  }
  return e.isFIFO()
    ? "a FIFO"
    : e.isSocket()
      ? "a socket"
      : e.isBlockDevice() || e.isCharacterDevice()
        ? "a device"
        : "not a regular file";
}

/**
 * Every regular file under `dir` as `path → content` (paths relative, with `/`, sorted), and
 * every entry that is not a regular file or a folder. Missing dir: empty. A symlink is never
 * followed, so its target's content is never read or echoed.
 */
export async function readTreeEntries(
  dir: string,
  keep: ReadonlySet<string> = new Set(),
  wanted?: (path: string) => boolean,
): Promise<{ files: Map<string, string>; irregular: Irregular[] }> {
  const listed = listTree(dir, keep);
  const out = new Map<string, string>();
  // Synchronous on purpose: for tens of thousands of small files it is faster than promises
  // (no thread-pool round trip per file) and never exhausts file descriptors.
  for (const f of listed.files) if (!wanted || wanted(f)) out.set(f, readFileSync(join(dir, f), "utf8"));
  return { files: out, irregular: listed.irregular };
}

/**
 * The regular files under `dir` (relative paths with `/`, sorted) and every entry that is
 * neither a regular file nor a folder, without descending into the folders in `keep` (folders a
 * synth proved unchanged by their hashes). Missing dir: empty.
 */
export function listTree(
  dir: string,
  keep: ReadonlySet<string> = new Set(),
): { files: string[]; irregular: Irregular[] } {
  const files: string[] = [];
  const irregular: Irregular[] = [];
  const self = lstatSync(dir, { throwIfNoEntry: false });
  if (!self) return { files, irregular };
  if (!self.isDirectory()) return { files, irregular: [{ path: "", kind: kindOf(dir, self) }] };
  const walk = (rel: string) => {
    for (const e of readdirSync(rel ? join(dir, rel) : dir, { withFileTypes: true })) {
      const path = rel ? `${rel}/${e.name}` : e.name;
      if (e.isFile()) files.push(path);
      else if (e.isDirectory()) {
        if (!keep.has(path)) walk(path);
      } else irregular.push({ path, kind: kindOf(join(dir, path), e) });
    }
  };
  walk("");
  const order = (a: string, b: string) => (a < b ? -1 : a > b ? 1 : 0);
  files.sort(order);
  irregular.sort((a, b) => order(a.path, b.path));
  return { files, irregular };
}

/** "generated/x is a symlink to y: …" for people. */
export function irregularMessage(dirName: string, i: Irregular): string {
  const where = i.path === "" ? `${dirName}/` : `${dirName}/${i.path}`;
  return `${where} is ${i.kind}; ${dirName}/ may hold only regular files that synth writes (Argo CD would apply whatever a link points to). Remove it${i.path === "" ? " and let synth create the folder" : ""}, then run \`npm run synth\``;
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
    if ((name.startsWith(STAGING) && !isAlive(Number(name.slice(STAGING.length)))) || name === PREVIOUS)
      await removeTree(join(root, name));
  }
  return note;
}

/**
 * Where a synth's files go, one at a time: each is compared with the file in the tree and, when
 * it differs and a staging folder is given, written there (step 1). The first few are written at
 * once; past those, a thread of their own (writer-worker.mjs) creates them in batches beside the
 * compile, and settle() waits for it (bounded by its caller). Holds paths, and the contents only
 * of the batches in flight, so a tree of any size streams through it.
 */
export class TreeSink {
  /** Files whose content differs. */
  readonly stale: string[] = [];
  /** Files that should exist and do not (or are not regular files). */
  readonly missing: string[] = [];
  private readonly folders = new Map<string, boolean>();
  private readonly made = new Set<string>();
  private writer: Worker | undefined;
  private batch: [string, string][] = [];
  private sent = 0;
  private acked = 0;
  private failed: string | undefined;
  private waiting: (() => void) | undefined;

  /** `target` null: there is no tree (or none to trust); every file is missing. */
  constructor(
    private readonly target: string | null,
    private readonly staging?: string,
  ) {}

  put(path: string, content: string): void {
    // lstat, and only below real folders: a link is never followed (nor its target read); the
    // file replaces it.
    const st =
      this.target !== null && this.realFolder(path.slice(0, Math.max(0, path.lastIndexOf("/"))))
        ? lstatSync(join(this.target, path), { throwIfNoEntry: false })
        : undefined;
    const full = join(this.target ?? "", path);
    if (st?.isFile() && st.size === Buffer.byteLength(content) && readFileSync(full, "utf8") === content) return;
    (st?.isFile() ? this.stale : this.missing).push(path);
    if (!this.staging) return;
    const staged = join(this.staging, path);
    if (this.missing.length + this.stale.length > WRITE_HERE) {
      this.batch.push([staged, content]);
      if (this.batch.length >= BATCH) this.send();
      return;
    }
    const folder = dirname(staged);
    if (!this.made.has(folder)) {
      mkdirSync(folder, { recursive: true });
      this.made.add(folder);
    }
    writeFileSync(staged, content);
  }

  private send(): void {
    if (this.batch.length === 0) return;
    if (!this.writer) {
      this.writer = new Worker(new URL("./writer-worker.mjs", import.meta.url));
      this.writer.on("message", (m: { error?: string }) => {
        if (m.error !== undefined) this.failed ??= m.error;
        this.acked++;
        this.waiting?.();
      });
      this.writer.on("error", (e) => ((this.failed ??= e.message), this.waiting?.()));
    }
    this.writer.postMessage({ id: this.sent++, files: this.batch });
    this.batch = [];
  }

  /** Waits until at most `inFlight` batches are still being written (0: all written, and the thread ended); a write that failed fails it. */
  async settle(inFlight = 0): Promise<void> {
    if (inFlight === 0) this.send();
    while (this.sent - this.acked > inFlight && this.failed === undefined)
      await new Promise<void>((resolve) => (this.waiting = resolve));
    this.waiting = undefined;
    if (inFlight === 0 && this.writer) {
      await this.writer.terminate();
      this.writer = undefined;
    }
    if (this.failed !== undefined) throw new Error(`writing the staged files failed: ${this.failed}`);
  }

  private realFolder(rel: string): boolean {
    if (rel === "") return true;
    let real = this.folders.get(rel);
    if (real === undefined) {
      real =
        (lstatSync(join(this.target!, rel), { throwIfNoEntry: false })?.isDirectory() ?? false) &&
        this.realFolder(rel.slice(0, Math.max(0, rel.lastIndexOf("/"))));
      this.folders.set(rel, real);
    }
    return real;
  }
}

/** Files a TreeSink writes itself before it hands the rest to its thread (a thread costs more than a few files), and files per batch. */
const WRITE_HERE = 64;
const BATCH = 200;

/** The staging folder of this process's synth: TreeSink writes into it, commitTree moves it in. */
export function stagingDir(root: string): string {
  return join(root, `${STAGING}${process.pid}`);
}

/** The tree folder itself, when it is not a folder (a link to one, a file): what to tell people. */
export function irregularTree(root: string, dirName: string): Irregular | undefined {
  const st = lstatSync(join(root, dirName), { throwIfNoEntry: false });
  return st && !st.isDirectory() ? { path: "", kind: kindOf(join(root, dirName), st) } : undefined;
}

/**
 * Steps 2 and 3 (see the module comment): `writes` are staged in stagingDir(root); `deletes` are
 * files (or irregular entries) to remove. With nothing to do, the staging folder is just cleared.
 */
export async function commitTree(
  root: string,
  dirName: string,
  writes: readonly string[],
  deletes: readonly string[],
): Promise<void> {
  const staging = stagingDir(root);
  if (writes.length + deletes.length === 0) {
    await rm(staging, { recursive: true, force: true });
    return;
  }
  // No tree yet (a first synth, a fresh clone without generated/): the staging folder holds the
  // whole tree and becomes it with one rename, atomic by itself.
  if (deletes.length === 0 && !lstatSync(join(root, dirName), { throwIfNoEntry: false })) {
    await rename(staging, join(root, dirName));
    return;
  }
  const moving = new Set(writes);
  const journal: Journal = {
    pid: process.pid,
    staging: `${STAGING}${process.pid}`,
    writes: [...writes].sort(),
    deletes: deletes.filter((d) => !moving.has(d)).sort(),
  };
  writeFileSync(join(root, `${JOURNAL}.tmp`), JSON.stringify(journal));
  await rename(join(root, `${JOURNAL}.tmp`), join(root, JOURNAL));
  await applyJournal(root, dirName, journal);
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

/**
 * Removes the deleted entries, then moves the staged files in. Idempotent (the deletes never
 * name a file it moves in), so a second try after a kill finishes the job.
 */
async function applyJournal(root: string, dirName: string, journal: Journal): Promise<void> {
  const target = join(root, dirName);
  const staging = join(root, journal.staging);
  // Removals first: a link where a folder belongs must be gone before files move in below it.
  for (const path of journal.deletes) await rm(join(target, path), { force: true, recursive: true });
  // Folders of removed pipelines are left empty: remove them.
  for (const dir of [...new Set(journal.deletes.map((p) => dirname(join(target, p))))].sort().reverse()) {
    try {
      if ((await readdir(dir)).length === 0) await rm(dir, { recursive: true });
    } catch {
      // gone already
    }
  }
  for (const path of journal.writes) {
    const from = join(staging, path);
    if (!lstatSync(from, { throwIfNoEntry: false })) continue; // moved in already
    const to = join(target, path);
    mkdirSync(dirname(to), { recursive: true });
    // A folder where a file belongs (made by hand): a rename cannot replace it.
    if (lstatSync(to, { throwIfNoEntry: false })?.isDirectory()) rmSync(to, { recursive: true, force: true });
    await rename(from, to);
  }
  await rm(join(root, JOURNAL), { force: true });
  await rm(staging, { recursive: true, force: true });
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
  const dirs = [
    path,
    ...(await readdir(path, { recursive: true, withFileTypes: true }))
      .filter((e) => e.isDirectory())
      .map((e) => join(e.parentPath ?? (e as unknown as { path: string }).path, e.name)),
  ];
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
 * and says so when it finds such a state (finishing another writer's journal would race it).
 */
export async function openRepository(
  command: string,
  rootFlag: string | undefined,
  io: Io,
  mode: "read" | "write" = "read",
): Promise<string> {
  const root = resolve(io.cwd, rootFlag ?? ".");
  if (mode === "write") {
    const restored = await recover(root, GENERATED_DIR);
    if (restored) io.stderr(`dagops ${command}: ${restored}\n`);
  } else if (!(await exists(join(root, GENERATED_DIR))) && (await exists(join(root, PREVIOUS)))) {
    io.stderr(
      `dagops ${command}: an interrupted synth left ${GENERATED_DIR}/ in ${PREVIOUS}; run \`npm run synth\` to put it back\n`,
    );
  } else if (readJournal(root) && !isAlive(readJournal(root)!.pid)) {
    io.stderr(
      `dagops ${command}: an interrupted synth left ${GENERATED_DIR}/ half-written (${JOURNAL}); run \`npm run synth\` to finish it\n`,
    );
  }
  return root;
}

/**
 * Runs `work` on the repository while holding its lock (see lock.ts): synth and check take it,
 * so a second command waits instead of racing the first. Exit 2 when the wait runs out.
 */
export async function withRepository(
  command: string,
  rootFlag: string | undefined,
  io: Io,
  mode: "read" | "write",
  work: (root: string) => Promise<number>,
): Promise<number> {
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
  return Number.isFinite(s) &&
    s >= 0 &&
    io.env.DAGOPS_LOCK_WAIT_SECONDS !== undefined &&
    io.env.DAGOPS_LOCK_WAIT_SECONDS !== ""
    ? s * 1000
    : 10 * 60_000;
}
