/**
 * What makes a re-synth cost what the change costs: `generated/.dagops-cache.json`, committed with
 * the tree it describes. It keys every definition file (a pipeline, or a template with its
 * tenants file) by a hash of its bytes, and records what synth made of it: its pipelines, the
 * hash of their output files, its warnings, and what the shared capacity check needs of it. All
 * of it is valid only under the same `inputs`: dagops's own code and package.json, the
 * platform configuration, the price snapshots, the helper files in pipelines/ and the year (the
 * daylight-saving warnings look one year ahead). A synth or check then loads and renders only
 * the definitions whose bytes changed; a definition whose files on disk no longer hash to what
 * the cache says (a hand edit) is rendered again too. Same inputs, same bytes: the cache is
 * written in a fixed order and holds no time.
 *
 * A local, uncommitted file (`.dagops-stat.json`) remembers the size, times and inode of each
 * definition's output files, and each output folder's listing, as git's index does, so that an
 * unchanged tree is proved unchanged by `stat` alone (DiskHashes); the same for the definitions
 * and the input files (the code, the platform configuration, the prices). A fresh clone has none
 * and hashes the files instead.
 */
import { createHash } from "node:crypto";
import { lstatSync, mkdirSync, readdirSync, readFileSync, renameSync, statSync, writeFileSync, type Stats } from "node:fs";
import { dirname, join } from "node:path";
import type { CapacityFacts } from "../../checks/capacity.ts";
import { CACHE_FILE, CODE_DIRS, GENERATED_DIR, PIPELINES_DIR, PLATFORM_FILE } from "../../model/files.ts";
import type { ResolvedCluster } from "../../model/platform.ts";
import { sortProblems, type Problem } from "../../model/problems.ts";
import { orphanTenantsFiles, pipelineFiles, tenantsFileOf, tenantsFiles } from "./definitions.ts";

export { CACHE_FILE };
export const CACHE_FORMAT = 3;
/**
 * Local, never committed (.gitignore): like git's index, they belong to this checkout. Two files,
 * each written by the one process that learns it (survey-helper.ts): the output files' (and
 * folders' listings), and the inputs' (definitions, code, configuration, prices).
 */
export const STAT_FILES = { outputs: ".dagops-stat.json", inputs: ".dagops-stat-inputs.json" } as const;

export interface CacheUnit {
  /** Hash of the definition file's bytes (and its tenants file's). */
  readonly input: string;
  readonly pipelines: readonly { readonly name: string; readonly clusters: readonly string[] }[];
  /** Hash of the files under generated/<cluster>/pipelines/<name>/ of its pipelines, folder by folder (combinedHash). */
  readonly output: string;
  /** How many files that is. */
  readonly files: number;
  readonly problems: readonly Problem[];
  readonly facts: readonly CapacityFacts[];
  /**
   * A template's tenants, each by the hash of its resolved pipeline (jsonHash) and of its
   * output folders: when the template or its tenants file changes, a tenant whose resolved
   * pipeline did not change and whose folders are intact is not rendered again. Recorded only
   * when the definition's output raised no warning (those are not kept per tenant).
   */
  readonly members?: Readonly<Record<string, Member>>;
}

export interface Member {
  readonly input: string;
  readonly output: string;
  /**
   * For a template's tenant: the hash of the definition its pipeline was resolved from
   * (jsonHash), recorded only when the definition raised no problem at all. When the
   * template or its tenants file changes, a tenant with the same definition and intact folders
   * is not even resolved again: resolving it would give the same pipeline and no problem.
   */
  readonly definition?: string;
}

/**
 * What a changed template had (its members, capacity facts) and what its tenants' folders hold
 * on disk now (folder → hash and file count), for compiling only the tenants that changed.
 */
export interface Previous {
  readonly members: Readonly<Record<string, Member>>;
  /** Each of its pipelines' clusters. */
  readonly clusters: Readonly<Record<string, readonly string[]>>;
  readonly facts: readonly CapacityFacts[];
  readonly disk: Readonly<Record<string, { readonly hash: string; readonly files: number }>>;
}

/**
 * sha256 of a value's JSON: a resolved pipeline's identity for the cache (Member.input: all its
 * output depends on besides the inputs), or a tenant's before it is resolved (Member.definition).
 */
export function jsonHash(value: unknown): string {
  return sha().update(JSON.stringify(value)).digest("hex");
}

export interface Cache {
  readonly format: typeof CACHE_FORMAT;
  readonly about: string;
  /** sha256 of the file's text with this field empty: proves the text is what cacheText wrote (see trustedCache). */
  readonly check: string;
  readonly inputs: string;
  readonly clusters: readonly ResolvedCluster[];
  /** Warnings that belong to no one definition (the platform's). */
  readonly problems: readonly Problem[];
  /** Hash of the shared files (bootstrap/, apps/, platform/ of every cluster). */
  readonly shared: string;
  readonly sharedFiles: number;
  readonly units: Readonly<Record<string, CacheUnit>>;
}

const sha = () => createHash("sha256");

/**
 * Everything besides the definitions that output depends on (see the module comment): a hash of
 * each input file's own hash. With `disk`, a file whose size, times and inode are the ones the
 * stat cache saw is not read again (some 120 files, 1.3 MB: 20 ms of every command).
 */
export function inputsKey(root: string, clusters: readonly Pick<ResolvedCluster, "prices">[], now = new Date(), disk?: DiskHashes): string {
  const h = sha();
  const hashOf = (path: string) => (disk ? disk.fileHash(path) : fileHash(root, path));
  const add = (label: string, hash: string | undefined) => h.update(`${label}\0${hash ?? "(missing)"}\0`);
  h.update(`year ${now.getUTCFullYear()}\0`);
  add("package", hashOf("package.json"));
  add("lock", hashOf("package-lock.json"));
  add("platform", hashOf(PLATFORM_FILE));
  for (const prices of [...new Set(clusters.map((c) => c.prices))].sort()) add("prices", hashOf(prices));
  for (const dir of CODE_DIRS) {
    let entries: string[];
    try {
      entries = (readdirSync(join(root, dir), { recursive: true }) as string[]).map((e) => e.split("\\").join("/")).sort();
    } catch {
      continue;
    }
    // Source and data only: an editor's swap file or a local build must not change the key.
    for (const e of entries) {
      if (!/\.(ts|mts|mjs|js|json)$/.test(e) || e.split("/").some((part) => part.startsWith("."))) continue;
      const hash = hashOf(`${dir}/${e}`);
      if (hash !== undefined) add(`${dir}/${e}`, hash);
    }
  }
  // Helpers a TypeScript pipeline may import: anything in pipelines/ that is not a definition.
  let entries: string[] = [];
  try {
    entries = readdirSync(join(root, PIPELINES_DIR)).sort();
  } catch {
    // no pipelines
  }
  for (const e of entries) {
    if (!/^[_.]/.test(e)) continue;
    const hash = hashOf(`${PIPELINES_DIR}/${e}`);
    if (hash !== undefined) add(`${PIPELINES_DIR}/${e}`, hash);
  }
  return h.digest("hex");
}

/** sha256 of a regular file's bytes (links followed); undefined when there is none at `path`. */
function fileHash(root: string, path: string): string | undefined {
  try {
    if (!statSync(join(root, path)).isFile()) return undefined;
    return sha().update(readFileSync(join(root, path))).digest("hex");
  } catch {
    return undefined;
  }
}

/** Hash of a definition's bytes, with its tenants file's when it has one. */
export function unitInput(root: string, file: string, tenantsFile: string | undefined): string {
  const h = sha();
  for (const f of [file, tenantsFile]) {
    if (f === undefined) continue;
    h.update(`${f}\0`);
    h.update(readFileSync(join(root, f)));
    h.update("\0");
  }
  return h.digest("hex");
}

/** The folders under generated/ of a unit's pipelines: `prod/pipelines/x`. */
export function unitFolders(unit: Pick<CacheUnit, "pipelines">): string[] {
  return unit.pipelines.flatMap((p) => p.clusters.map((c) => `${c}/pipelines/${p.name}`)).sort();
}

export function isSharedPath(path: string): boolean {
  return /^[^/]+\/(bootstrap|apps|platform)\//.test(path);
}

/** Hash of files (path and content), in path order. */
function filesHash(files: Iterable<{ readonly path: string; readonly content: string | Buffer }>): string {
  const h = sha();
  for (const f of [...files].sort((a, b) => (a.path < b.path ? -1 : a.path > b.path ? 1 : 0))) {
    h.update(`${f.path}\0`);
    h.update(f.content);
    h.update("\0");
  }
  return h.digest("hex");
}

/**
 * The hash of each folder's files (folder → hash): a folder is hashed as soon as its files are
 * rendered, so a definition with thousands of pipelines (a template) is never held whole.
 */
export function folderHashes(files: readonly { readonly path: string; readonly content: string | Buffer }[]): Map<string, { hash: string; files: number }> {
  const byFolder = new Map<string, { path: string; content: string | Buffer }[]>();
  for (const f of files) {
    const folder = f.path.slice(0, Math.max(0, f.path.lastIndexOf("/")));
    (byFolder.get(folder) ?? byFolder.set(folder, []).get(folder)!).push(f);
  }
  return new Map([...byFolder].map(([folder, list]) => [folder, { hash: filesHash(list), files: list.length }]));
}

/** Folders' hashes as one, in folder order: what the cache records for a definition or the shared files. */
export function combinedHash(folders: ReadonlyMap<string, { readonly hash: string }>): string {
  const h = sha();
  for (const folder of [...folders.keys()].sort()) h.update(`${folder}\0${folders.get(folder)!.hash}\0`);
  return h.digest("hex");
}

/** The combined hash of files (see combinedHash). */
export function treeHash(files: readonly { readonly path: string; readonly content: string | Buffer }[]): string {
  return combinedHash(folderHashes(files));
}

/** What the stat cache remembers: a signature of some files' stats and their hash. */
interface Seen {
  readonly sig: string;
  readonly hash: string;
}

/**
 * A folder's listing, as of the folder's own ctime and inode: its names joined by "/" (which no
 * name contains), with the folder's own name written as NUL (which no name contains either), so
 * that the listings of thousands of pipeline folders are a few shapes, stored once each.
 */
interface Listing {
  readonly sig: string;
  readonly shape: string;
}

/** Where the process `pid` writes a stat file before renaming it into place. */
export function statTempFile(file: string, pid: number): string {
  return `${file}.${pid}`;
}

/** What filesIn lists: the files' full paths, the numbers that prove them the folders' names, and whether those numbers are settled. */
interface Listed {
  readonly full: readonly string[];
  readonly proof: readonly number[];
  readonly settled: boolean;
}

const NO_THROW = { throwIfNoEntry: false } as const;

/** The stat file: `listings` maps a folder to "<sig>|<index in shapes>". */
interface StatFile {
  readonly format: number;
  readonly entries: Record<string, Seen>;
  readonly listings: Record<string, string>;
  readonly shapes: readonly string[];
}

/**
 * A stat signature is trusted next time only when every time in it is this much older than the
 * survey: a file (or folder) changed again within the file system's clock tick after it was
 * seen would keep the same times. git's index guards against the same "racy" case.
 */
export const RACY_MS = 2000;

/**
 * The hash of the files now in some folders of generated/, by `stat` when the local stat cache
 * saw exactly these sizes and times for them before, by reading them otherwise. A folder's
 * listing is read again only when the folder's own ctime or inode changed (any file added,
 * removed or renamed in it changes both); its files are stat'ed every time, since editing a file
 * in place changes only the file.
 */
export class DiskHashes {
  private readonly seen: Record<string, Seen>;
  private readonly next: Record<string, Seen> = {};
  /** The stat file's listings as stored ("<sig>|<shape index>"), read one by one as they are needed. */
  private readonly savedListings: Record<string, string>;
  private readonly shapes: readonly string[];
  /** Each shape's names, split once: most pipeline folders share a few shapes. */
  private readonly shapeNames = new Map<string, { names: readonly string[]; own: readonly boolean[] }>();
  private readonly nextListings: Record<string, Listing> = {};
  private readonly startedMs = Date.now();
  /** generated/ with a slash: the files' full paths are this and their path under it. */
  private readonly base: string;
  private readonly file: string;
  /**
   * Whether something was learned that the stat file does not say yet. When not, the file is left
   * as it is, entries this survey did not use included: each says what some files hashed to
   * while they had some sizes and times, which stays true (they are only used when the files
   * have them again), so keeping them is safe, and the next write drops those not used.
   */
  private dirty = false;

  private remember<T extends { sig: string }>(next: Record<string, T>, key: string, value: T, before: T | undefined): void {
    next[key] = value;
    if (before?.sig !== value.sig) this.dirty = true;
  }

  /** Each folder's lstat, or null when it, or a folder above it (up to generated/), is not a real folder. */
  private readonly folders = new Map<string, Stats | null>();

  /** The folder's lstat when it and every folder above it (up to generated/) is a real folder, not a link. */
  private real(folder: string): Stats | null {
    let st = this.folders.get(folder);
    if (st === undefined) {
      const own = lstatSync(this.base + folder, NO_THROW);
      const parent = folder.lastIndexOf("/");
      st = own?.isDirectory() && (parent < 0 || this.real(folder.slice(0, parent))) ? own : null;
      this.folders.set(folder, st);
    }
    return st;
  }

  /** `kind`: which stat file it reads and writes (STAT_FILES). */
  constructor(
    private readonly root: string,
    kind: keyof typeof STAT_FILES,
  ) {
    this.file = join(root, STAT_FILES[kind]);
    this.base = `${join(root, GENERATED_DIR)}/`;
    let seen: Record<string, Seen> = {};
    let listings: Record<string, string> = {};
    let shapes: readonly string[] = [];
    try {
      const saved = JSON.parse(readFileSync(this.file, "utf8")) as Partial<StatFile>;
      // Hashes of another cache format mean something else: hash the files again.
      if (saved.format === CACHE_FORMAT && saved.entries && saved.listings && Array.isArray(saved.shapes)) {
        seen = saved.entries;
        listings = saved.listings;
        shapes = saved.shapes;
      }
    } catch {
      // none yet (a fresh clone): hash the files
    }
    this.seen = seen;
    this.savedListings = listings;
    this.shapes = shapes;
  }

  /** Whether stats taken now may be trusted next time (see RACY_MS). */
  private settled(mtimeMs: number, ctimeMs: number): boolean {
    return mtimeMs < this.startedMs - RACY_MS && ctimeMs < this.startedMs - RACY_MS;
  }

  /** A folder's listing as the stat file has it, when it does. */
  private savedListing(folder: string): Listing | undefined {
    const value = this.savedListings[folder];
    if (value === undefined) return undefined;
    const bar = value.lastIndexOf("|");
    const shape = this.shapes[Number(value.slice(bar + 1))];
    return shape === undefined ? undefined : { sig: value.slice(0, bar), shape };
  }

  /** The names in a real folder, from the stat cache when the folder's ctime and inode are the ones seen then. */
  private names(folder: string, st: Stats): string[] | undefined {
    const sig = `${st.ctimeMs}:${st.ino}`;
    const own = folder.slice(folder.lastIndexOf("/") + 1);
    const before = this.savedListing(folder);
    let names: string[];
    let shape: string;
    if (before && before.sig === sig) {
      shape = before.shape;
      let split = this.shapeNames.get(shape);
      if (!split) {
        const parts = shape === "" ? [] : shape.split("/");
        this.shapeNames.set(shape, (split = { names: parts, own: parts.map((n) => n.includes("\0")) }));
      }
      names = split.names.map((n, i) => (split!.own[i] ? n.replaceAll("\0", own) : n));
    } else {
      try {
        names = readdirSync(this.base + folder).sort();
      } catch {
        return undefined;
      }
      shape = names.map((n) => n.replaceAll(own, "\0")).join("/");
    }
    if (this.settled(st.mtimeMs, st.ctimeMs)) this.remember(this.nextListings, folder, { sig, shape }, before);
    return names;
  }

  /**
   * The files under some folders of generated/ (full paths), and what proves that these are their
   * names: each folder's ctime and inode (a name added, removed or renamed changes both).
   */
  private filesIn(folders: readonly string[]): Listed {
    const full: string[] = [];
    const proof: number[] = [];
    let settled = true;
    for (const folder of folders) {
      const st = this.real(folder);
      // A link on the way (a linked folder, or a linked cluster folder above it) is never followed:
      // it stands for itself, and is never a regular file, so the folder is never "unchanged".
      if (!st) {
        if (lstatSync(this.base + folder, NO_THROW)) full.push(this.base + folder);
        proof.push(-1, -1);
        continue;
      }
      proof.push(st.ctimeMs, st.ino);
      settled &&= this.settled(st.mtimeMs, st.ctimeMs);
      const prefix = `${this.base}${folder}/`;
      for (const n of this.names(folder, st) ?? []) full.push(prefix + n);
    }
    return { full, proof, settled };
  }

  /** The combined hash (combinedHash) of the files in some folders. */
  hashOf(key: string, folders: readonly string[]): string {
    return this.cached(key, this.filesIn(folders), treeHash);
  }

  /** Each folder's own hash and file count (folders without files are left out). */
  foldersOf(folders: readonly string[]): Record<string, { hash: string; files: number }> {
    const out: Record<string, { hash: string; files: number }> = {};
    for (const folder of folders) {
      const files = this.filesIn([folder]);
      if (files.full.length > 0) out[folder] = { hash: this.cached(`folder:${folder}`, files, (list) => folderHashes(list).get(folder)!.hash), files: files.full.length };
    }
    return out;
  }

  /** `hash` of these files, by `stat` when the stat cache saw exactly these files under `key`. */
  private cached(key: string, files: Listed, hash: (files: { path: string; content: Buffer }[]) => string): string {
    // The signature: how many files, each one's size, times and inode, then the folders' proof of
    // their names, as raw numbers (no text is made of 30,000 files' numbers).
    const count = files.full.length;
    const numbers = new Float64Array(1 + count * 4 + files.proof.length);
    numbers[0] = count;
    numbers.set(files.proof, 1 + count * 4);
    let settled = files.settled;
    for (let i = 0; i < count; i++) {
      // lstat: a link is never followed, so a symlinked file is irregular, never "unchanged".
      const st = lstatSync(files.full[i]!, NO_THROW);
      if (!st?.isFile()) return "(irregular)";
      const at = 1 + i * 4;
      numbers[at] = st.size;
      numbers[at + 1] = st.mtimeMs;
      numbers[at + 2] = st.ctimeMs;
      numbers[at + 3] = st.ino;
      settled &&= this.settled(st.mtimeMs, st.ctimeMs);
    }
    const sig = createHash("sha256").update(new Uint8Array(numbers.buffer)).digest("hex");
    return this.bySig(key, sig, settled, () => hash(files.full.map((f) => ({ path: f.slice(this.base.length), content: readFileSync(f) }))));
  }

  /**
   * The hash remembered under `key` when it was taken with this stat signature; else `compute`'s,
   * remembered for next time when the stats are settled (a value of undefined is not).
   */
  private bySig<T extends string | undefined>(key: string, sig: string, settled: boolean, compute: () => T): T {
    const before = this.seen[key];
    if (before && before.sig === sig) {
      if (settled) this.next[key] = before;
      return before.hash as T;
    }
    const hash = compute();
    if (settled && hash !== undefined) this.remember(this.next, key, { sig, hash }, before);
    return hash;
  }

  /**
   * Remembers what was hashed this time (best effort: a read-only checkout just hashes again next
   * time). `folders`: folders whose own entries (foldersOf) are kept even when not used this
   * time: the tenants' folders of templates, proved per tenant only when their template changes.
   * Not written when it would say what it says already.
   */
  save(folders: readonly string[] = []): void {
    try {
      if (!this.dirty) return;
      const file = this.file;
      const entries = { ...this.next };
      const listings = { ...this.nextListings };
      for (const folder of folders) {
        const key = `folder:${folder}`;
        if (!entries[key] && this.seen[key]) entries[key] = this.seen[key]!;
        const before = listings[folder] ? undefined : this.savedListing(folder);
        if (before) listings[folder] = before;
      }
      const shapes = new Map<string, number>();
      const stored: Record<string, string> = {};
      for (const [folder, l] of Object.entries(listings)) {
        let index = shapes.get(l.shape);
        if (index === undefined) shapes.set(l.shape, (index = shapes.size));
        stored[folder] = `${l.sig}|${index}`;
      }
      const content: StatFile = { format: CACHE_FORMAT, entries, listings: stored, shapes: [...shapes.keys()] };
      mkdirSync(dirname(file), { recursive: true });
      writeFileSync(statTempFile(file, process.pid), JSON.stringify(content));
      renameSync(statTempFile(file, process.pid), file);
    } catch {
      // not worth failing a synth over
    }
  }

  /** fileHash (sha256 of a regular file's bytes, relative to the root), by `stat` when the file has the size, times and inode seen before. */
  fileHash(path: string): string | undefined {
    const st = statSync(join(this.root, path), { throwIfNoEntry: false });
    if (!st?.isFile()) return undefined;
    const sig = `${st.size}:${st.mtimeMs}:${st.ctimeMs}:${st.ino}`;
    return this.bySig(`file:${path}`, sig, this.settled(st.mtimeMs, st.ctimeMs), () => fileHash(this.root, path));
  }

  /** unitInput, by `stat` when the definition's files have the size, time and inode seen before. */
  inputOf(file: string, tenantsFile: string | undefined): string {
    const paths = [file, tenantsFile].filter((p): p is string => p !== undefined);
    let settled = true;
    const sig = paths
      .map((p) => {
        const st = statSync(join(this.root, p), { throwIfNoEntry: false });
        if (st) settled &&= this.settled(st.mtimeMs, st.ctimeMs);
        return `${p}:${st?.size}:${st?.mtimeMs}:${st?.ctimeMs}:${st?.ino}`;
      })
      .join("\n");
    return this.bySig(`input:${file}`, sig, settled, () => unitInput(this.root, file, tenantsFile));
  }
}

/** The cache file's text: fixed key order, units and problems sorted, one unit per line for readable diffs. */
export function cacheText(cache: Omit<Cache, "format" | "about" | "check">): string {
  const units = Object.keys(cache.units).sort();
  const head = {
    format: CACHE_FORMAT,
    about: "Written by npm run synth: what each definition in pipelines/ became, so that re-synths and checks render only what changed. Do not edit (an edited file is not trusted: the check below fails); delete it to make the next synth start afresh.",
    check: "",
    inputs: cache.inputs,
    clusters: cache.clusters,
    problems: sortProblems(cache.problems),
    shared: cache.shared,
    sharedFiles: cache.sharedFiles,
  };
  const body = units.map((u) => {
    const unit = cache.units[u]!;
    let line = unitLines.get(unit);
    if (line === undefined) unitLines.set(unit, (line = unitLine(unit)));
    return `    ${JSON.stringify(u)}: ${line}`;
  });
  const headText = JSON.stringify(head, null, 2).replace(/\n}$/, "");
  const text = `${headText},\n  "units": {\n${body.join(",\n")}\n  }\n}\n`;
  // The head comes first: its check field is the first one in the text.
  return text.replace(EMPTY_CHECK, `"check": "${sha().update(text).digest("hex")}"`);
}

const EMPTY_CHECK = '"check": ""';

/**
 * Whether a cache file's text is exactly what cacheText makes of it, by its check: its sha256
 * with the check field emptied. Writing the text again to compare (what this replaces) took
 * tens of milliseconds at 2,000 definitions, in every command. The check catches what the
 * comparison caught: a hand edit, a merge of two synths' files; the file is bookkeeping beside
 * the tree it describes, not a signature (check --full proves the tree itself).
 */
function checkedText(text: string, cache: Cache): boolean {
  if (typeof cache.check !== "string" || !/^[0-9a-f]{64}$/.test(cache.check)) return false;
  const at = text.indexOf(`"check": "${cache.check}"`);
  if (at < 0) return false;
  const emptied = `${text.slice(0, at)}${EMPTY_CHECK}${text.slice(at + EMPTY_CHECK.length + 64)}`;
  return sha().update(emptied).digest("hex") === cache.check && reuseUnitLines(text, cache);
}

/**
 * Gives each unit the line it has in a text cacheText wrote, so that writing the cache again
 * does not make the lines of the definitions it kept. False when a line is not where cacheText
 * puts it.
 */
function reuseUnitLines(text: string, cache: Cache): boolean {
  const names = Object.keys(cache.units);
  const open = '\n  "units": {\n';
  let at = text.indexOf(open);
  if (at < 0) return false;
  at += open.length;
  for (const [i, name] of names.entries()) {
    const prefix = `    ${JSON.stringify(name)}: `;
    const end = text.indexOf("\n", at);
    const last = i === names.length - 1;
    if (end < 0 || !text.startsWith(prefix, at) || (!last && text[end - 1] !== ",")) return false;
    unitLines.set(cache.units[name]!, text.slice(at + prefix.length, last ? end : end - 1));
    at = end + 1;
  }
  return true;
}

/**
 * A unit's line, by the unit object: a re-synth writes the lines of the definitions it kept as the
 * survey made them to check the cache's text, without making them again. (Units are never
 * changed once made.)
 */
const unitLines = new WeakMap<CacheUnit, string>();

function unitLine(unit: CacheUnit): string {
  const ordered: CacheUnit = {
    input: unit.input,
    pipelines: unit.pipelines,
    output: unit.output,
    files: unit.files,
    // (Most units have no problem and a fact or two: nothing to sort.)
    problems: unit.problems.length < 2 ? unit.problems : sortProblems(unit.problems),
    facts: unit.facts.length < 2 ? unit.facts : [...unit.facts].sort((a, b) => (`${a.cluster}/${a.pipeline}` < `${b.cluster}/${b.pipeline}` ? -1 : 1)),
    ...(unit.members ? { members: Object.fromEntries(Object.keys(unit.members).sort().map((k) => [k, memberLine(unit.members![k]!)])) } : {}),
  };
  return JSON.stringify(ordered);
}

/** A member's line, its fields in one order (a kept tenant's object came from the cache file). */
function memberLine(m: Member): Member {
  return { input: m.input, output: m.output, ...(m.definition !== undefined ? { definition: m.definition } : {}) };
}

/** The folders of the shared files: bootstrap/, apps/ and platform/ of every cluster. */
export function sharedFolders(clusters: readonly { readonly name: string }[]): string[] {
  return clusters.flatMap((c) => ["bootstrap", "apps", "platform"].map((a) => `${c.name}/${a}`));
}

/**
 * What a synth or check starts from when the cache can be used: the cache (the one synth wrote,
 * under the same inputs), the definitions, which of them are unchanged (their bytes and their
 * output folders hash to what the cache says) and which changed, and whether the shared files
 * are intact. Every file is hashed (or proved by stat) once, here; the no-op proof and the
 * incremental compile both work from this. Undefined: compile everything.
 */
export interface Survey extends Inputs {
  // kept: proved by their output too; changed: also those whose output was not intact.
  /** Of the changed definitions, the templates the cache knows tenant by tenant. */
  readonly previous: Readonly<Record<string, Previous>>;
  readonly sharedIntact: boolean;
}

/**
 * The cache, when it is exactly what synth writes and was written under the same inputs (so its
 * clusters are what the platform configuration resolves to now); undefined otherwise.
 */
export function trustedCache(root: string, disk?: DiskHashes): Cache | undefined {
  const cache = readCache(root);
  // Written under the same inputs: anything else is not to be trusted.
  return cache && inputsKey(root, cache.clusters, new Date(), disk) === cache.inputs ? cache : undefined;
}

/** The cache, when it is exactly what synth writes (its check holds); its inputs are not looked at. */
export function readCache(root: string): Cache | undefined {
  // generated/ itself must be a folder, not a link to one (synth refuses that, with its reason).
  if (!lstatSync(join(root, GENERATED_DIR), { throwIfNoEntry: false })?.isDirectory()) return undefined;
  let text: string;
  let cache: Cache;
  try {
    text = readFileSync(join(root, GENERATED_DIR, CACHE_FILE), "utf8");
    cache = JSON.parse(text) as Cache;
  } catch {
    return undefined;
  }
  if (cache === null || typeof cache !== "object" || cache.format !== CACHE_FORMAT || typeof cache.inputs !== "string" || !cache.units || !Array.isArray(cache.clusters)) return undefined;
  return checkedText(text, cache) ? cache : undefined;
}

/**
 * The survey's first half, which reads only the cache and the definitions: which definitions'
 * bytes changed (these are compiled whatever else the survey finds) and which did not (kept
 * only once their output is proved intact, the second half). Undefined: no usable cache.
 */
export interface Inputs {
  readonly cache: Cache;
  readonly files: readonly string[];
  readonly tenants: readonly string[];
  /** The definitions whose bytes are the cache's, not yet proved by their output. */
  readonly kept: ReadonlyMap<string, CacheUnit>;
  /** The definitions whose bytes changed, and new ones. */
  readonly changed: readonly string[];
}

export async function surveyInputs(root: string): Promise<Inputs | undefined> {
  const disk = new DiskHashes(root, "inputs");
  const cache = trustedCache(root, disk);
  if (!cache) return undefined;
  const files = await pipelineFiles(root);
  const tenants = await tenantsFiles(root);
  if (orphanTenantsFiles(files, tenants).length) return undefined;
  const kept = new Map<string, CacheUnit>();
  const changed: string[] = [];
  for (const f of files) {
    const unit = cache.units[f];
    if (unit && unit.input === disk.inputOf(f, tenantsFileOf(f, tenants))) kept.set(f, unit);
    else changed.push(f);
  }
  disk.save();
  return { cache, files, tenants, kept, changed };
}

/**
 * Whether compiling the changed definitions needs the second half first: a changed template the
 * cache knows tenant by tenant is compiled against what its tenants' folders hold now
 * (Previous.disk), so that only the tenants that changed are rendered.
 */
export function waitsForProof(inputs: Inputs): boolean {
  return inputs.changed.some((f) => inputs.cache.units[f]?.members !== undefined);
}

/**
 * The survey's second half: which definitions' output folders no longer hash to what the cache
 * recorded (a hand edit, a file added or removed), and whether the shared files are intact.
 */
export interface Proof {
  /** Definitions whose output is not what the cache recorded. */
  readonly broken: readonly string[];
  /** Each template's folders on disk now (Previous.disk), by definition. */
  readonly folders: Readonly<Record<string, Previous["disk"]>>;
  readonly sharedIntact: boolean;
}

/**
 * The Proof for some of the cache's definitions (`files`; those in `skip` are compiled anyway,
 * and only a template's folders are looked at, for its tenants). A template is proved folder by
 * folder: its tenants are compiled against their own folders (Previous).
 */
export function proveOutputs(root: string, cache: Cache, files: readonly string[], skip: ReadonlySet<string> = new Set()): Proof {
  const disk = new DiskHashes(root, "outputs");
  const broken: string[] = [];
  const folders: Record<string, Previous["disk"]> = {};
  for (const f of files) {
    const unit = cache.units[f];
    if (!unit) continue;
    if (unit.members) {
      const mine = (folders[f] = disk.foldersOf(unitFolders(unit)));
      if (!skip.has(f) && combinedHash(new Map(Object.entries(mine))) !== unit.output) broken.push(f);
    } else if (!skip.has(f) && disk.hashOf(f, unitFolders(unit)) !== unit.output) broken.push(f);
  }
  const sharedIntact = disk.hashOf("(shared)", sharedFolders(cache.clusters)) === cache.shared;
  // Like git status refreshing its index: what was hashed now is proved by stat next time. (A
  // file a synth rewrites after this gets a new inode and time, so it is hashed again.)
  disk.save(Object.values(cache.units).flatMap((u) => (u.members ? unitFolders(u) : [])));
  return { broken, folders, sharedIntact };
}

/** The survey of its two halves. */
export function surveyOf(inputs: Inputs, proof: Proof): Survey {
  const broken = new Set(proof.broken);
  const kept = new Map<string, CacheUnit>();
  const changed: string[] = [];
  const previous: Record<string, Previous> = {};
  for (const f of inputs.files) {
    const unit = inputs.kept.get(f);
    if (unit && !broken.has(f)) kept.set(f, unit);
    else {
      changed.push(f);
      const before = inputs.cache.units[f];
      if (before?.members) previous[f] = { members: before.members, clusters: Object.fromEntries(before.pipelines.map((p) => [p.name, p.clusters])), facts: before.facts, disk: proof.folders[f] ?? {} };
    }
  }
  return { ...inputs, kept, changed, previous, sharedIntact: proof.sharedIntact };
}

export async function survey(root: string): Promise<Survey | undefined> {
  const inputs = await surveyInputs(root);
  return inputs && surveyOf(inputs, proveOutputs(root, inputs.cache, inputs.files, new Set(inputs.changed)));
}

/**
 * Nothing changed since the last synth, proved without loading or rendering anything: every
 * definition is unchanged, none was removed, the shared files are intact, and generated/ holds
 * nothing else. The result is what a full compile would report (its warnings, its counts).
 */
export function unchangedTree(root: string, s: Survey): { problems: Problem[]; counts: { pipelines: number; files: number }; clusters: number } | undefined {
  const { cache } = s;
  if (s.changed.length || !s.sharedIntact || s.files.length !== Object.keys(cache.units).length) return undefined;
  // Nothing else in generated/: no stray file or folder, no pipeline folder of no definition.
  const list = (path: string) => {
    try {
      return readdirSync(join(root, GENERATED_DIR, path), { withFileTypes: true });
    } catch {
      return undefined;
    }
  };
  const clusterNames = cache.clusters.map((c) => c.name);
  const top = list("") ?? [];
  if (top.some((e) => (e.name === CACHE_FILE ? !e.isFile() : !(e.isDirectory() && clusterNames.includes(e.name))))) return undefined;
  for (const c of clusterNames) {
    const areas = list(c) ?? [];
    if (areas.some((e) => !e.isDirectory() || !["bootstrap", "apps", "platform", "pipelines"].includes(e.name))) return undefined;
    const expected = Object.values(cache.units).flatMap((u) => u.pipelines.filter((p) => p.clusters.includes(c)).map((p) => p.name)).sort();
    const found = (list(`${c}/pipelines`) ?? []).map((e) => (e.isDirectory() ? e.name : `/${e.name}`)).sort();
    if (found.join("\n") !== expected.join("\n")) return undefined;
  }
  const units = Object.values(cache.units);
  const problems = [...cache.problems, ...units.flatMap((u) => u.problems)];
  const counts = { pipelines: units.reduce((n, u) => n + u.pipelines.length, 0), files: units.reduce((n, u) => n + u.files, 0) + cache.sharedFiles };
  return { problems, counts, clusters: cache.clusters.length };
}

/** The no-op proof from scratch (a survey, then unchangedTree). */
export async function unchanged(root: string): Promise<ReturnType<typeof unchangedTree>> {
  const s = await survey(root);
  return s && unchangedTree(root, s);
}
