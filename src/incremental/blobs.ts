/**
 * What a file holds, as git names it: the blob id, sha1 of `blob <size>\0<bytes>`. Stamps
 * (stamps.ts) record inputs and outputs by these ids, so a file's id is the same whether git's
 * index tells it or the file is read.
 *
 * In a git work tree, the index already knows the id of every tracked file it holds, with the
 * size and times it had when git last saw it: `git diff-files` lists the tracked files whose
 * size or times changed since (an edit, a checkout by another tool), and only those are read
 * and hashed here, as is every file git does not track. Entries marked assume-unchanged or
 * skip-worktree are read too: git does not look at them. Outside a work tree (or when git is
 * missing or fails) every file is read.
 */
import { spawn } from "node:child_process";
import { createHash } from "node:crypto";
import { closeSync, lstatSync, mkdtempSync, openSync, readFileSync, rmSync, statSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { GENERATED_DIR } from "../model/files.ts";
import { kindOf, type Irregular } from "../write/tree.ts";

export class Blobs {
  private readonly known = new Map<string, string | undefined>();

  /** `indexed`: the ids git's index holds for clean files, by path relative to the root. */
  private constructor(
    private readonly root: string,
    private readonly indexed: ReadonlyMap<string, string>,
    /** What git says a folder of the work tree holds (see files), when git answered. */
    private readonly git?: GitView,
  ) {}

  /** Whether git's index answered (for messages and tests). */
  get fromGit(): boolean {
    return this.git !== undefined;
  }

  /**
   * Asks git at once, in processes of their own that write to files (so they run on while this
   * thread reads other files); the Blobs come when they are done. `git: false` reads every file
   * (what a tree outside git gets).
   */
  static start(root: string, options: { git?: boolean } = {}): Promise<Blobs> {
    if (options.git === false) return Promise.resolve(new Blobs(root, new Map()));
    return gitView(root).then((view) => new Blobs(root, view?.ids ?? new Map(), view));
  }

  /** The blob id of the regular file at `path` (relative to the root), or undefined when there is none. */
  id(path: string): string | undefined {
    const indexed = this.indexed.get(path);
    if (indexed !== undefined) return indexed;
    if (this.known.has(path)) return this.known.get(path);
    let id: string | undefined;
    try {
      id = statSync(join(this.root, path)).isFile() ? blobId(readFileSync(join(this.root, path))) : undefined;
    } catch {
      id = undefined;
    }
    this.known.set(path, id);
    return id;
  }

  /**
   * The files under `dir` (generated/, the one folder whose untracked files git is asked for) as git sees them: tracked ones still there and
   * untracked ones (ignored ones too), paths relative to `dir`; what git tracks that is no
   * regular file (a symlink, a submodule) and untracked symlinks are irregular. Undefined outside
   * git (then the folder is walked). git does not see FIFOs, sockets or devices, nor does Argo CD.
   */
  files(dir: string): { files: string[]; irregular: Irregular[] } | undefined {
    if (!this.git) return undefined;
    const prefix = `${dir}/`;
    const files: string[] = [];
    const irregular: Irregular[] = [];
    const kind = (path: string) => {
      const st = lstatSync(join(this.root, path), { throwIfNoEntry: false });
      return !st ? undefined : st.isFile() ? "file" : st.isDirectory() ? "folder" : kindOf(join(this.root, path), st);
    };
    for (const [path, mode] of this.git.tracked) {
      if (!path.startsWith(prefix)) continue;
      const rel = path.slice(prefix.length);
      // A changed entry may be gone, or be something else now.
      const now =
        this.git.dirty.has(path) || mode === "120000" ? kind(path) : mode === "160000" ? "a submodule" : "file";
      if (now === "file") files.push(rel);
      else if (now !== undefined && now !== "folder") irregular.push({ path: rel, kind: now });
    }
    for (const path of this.git.untracked) {
      if (!path.startsWith(prefix)) continue;
      const now = kind(path);
      if (now === "file") files.push(path.slice(prefix.length));
      else if (now !== undefined && now !== "folder") irregular.push({ path: path.slice(prefix.length), kind: now });
    }
    return { files, irregular };
  }
}

/** git's blob id of some bytes. */
export function blobId(content: string | Buffer): string {
  const bytes = typeof content === "string" ? Buffer.from(content) : content;
  return createHash("sha1").update(`blob ${bytes.length}\0`).update(bytes).digest("hex");
}

interface GitView {
  /** Clean files' ids. */
  readonly ids: Map<string, string>;
  /** Every tracked path, with its mode. */
  readonly tracked: Map<string, string>;
  /** Tracked paths whose size or times changed. */
  readonly dirty: Set<string>;
  /** Untracked paths (ignored ones too). */
  readonly untracked: readonly string[];
}

/**
 * git's index below `root` (paths relative to it), which of its files changed, and what it does
 * not track; undefined outside a work tree (or without git). The three questions run at once.
 */
async function gitView(root: string): Promise<GitView | undefined> {
  const scratch = mkdtempSync(join(tmpdir(), "dagops-git-"));
  try {
    // -v: a lowercase tag marks assume-unchanged, S skip-worktree; -s: mode, id and stage.
    const [listed, dirty, others] = await Promise.all([
      git(root, scratch, "index", ["ls-files", "-s", "-v", "-z"]),
      git(root, scratch, "dirty", ["diff-files", "--relative", "--name-only", "-z"]),
      // Only below generated/: the rest of the work tree (node_modules/) is no one's business here.
      git(root, scratch, "others", ["ls-files", "--others", "-z", "--", GENERATED_DIR]),
    ]);
    if (listed === undefined || dirty === undefined || others === undefined) return undefined;
    const changed = new Set(dirty.split("\0").filter(Boolean));
    const ids = new Map<string, string>();
    const tracked = new Map<string, string>();
    // "H 100644 <id> 0\t<path>\0", read in place: 40,000 entries, no split.
    for (let at = 0; at < listed.length; ) {
      const end = listed.indexOf("\0", at);
      const stop = end < 0 ? listed.length : end;
      const tab = listed.indexOf("\t", at);
      if (tab > at && tab < stop) {
        const path = listed.slice(tab + 1, stop);
        const mode = listed.slice(at + 2, at + 8);
        tracked.set(path, mode);
        const regular = mode === "100644" || mode === "100755";
        if (regular && listed[at] === "H" && listed[tab - 1] === "0" && !changed.has(path))
          ids.set(path, listed.slice(at + 9, tab - 2));
        // Assume-unchanged and skip-worktree entries: git does not look, so they count as changed.
        else changed.add(path);
      }
      at = stop + 1;
    }
    return { ids, tracked, dirty: changed, untracked: others.split("\0").filter(Boolean) };
  } finally {
    rmSync(scratch, { recursive: true, force: true });
  }
}

/** A git command's output, written to a file (no pipe to fill while this thread is busy); undefined when it fails. */
function git(root: string, scratch: string, name: string, args: string[]): Promise<string | undefined> {
  const file = join(scratch, name);
  const fd = openSync(file, "w");
  return new Promise<string | undefined>((resolve) => {
    const child = spawn("git", ["-C", root, ...args], { stdio: ["ignore", fd, "ignore"] });
    child.on("error", () => resolve(undefined));
    child.on("exit", (code) => resolve(code === 0 ? readFileSync(file, "utf8") : undefined));
  }).finally(() => closeSync(fd));
}
