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
import { execFileSync } from "node:child_process";
import { createHash } from "node:crypto";
import { readFileSync, statSync } from "node:fs";
import { join } from "node:path";

export class Blobs {
  private readonly known = new Map<string, string | undefined>();

  /** `indexed`: the ids git's index holds for clean files, by path relative to the root. */
  private constructor(
    private readonly root: string,
    private readonly indexed: ReadonlyMap<string, string>,
    /** Whether git's index answered (for messages and tests). */
    readonly fromGit: boolean,
  ) {}

  /** Reads git's index once; `git: false` reads every file (what a tree outside git gets). */
  static open(root: string, options: { git?: boolean } = {}): Blobs {
    if (options.git === false) return new Blobs(root, new Map(), false);
    const indexed = gitIndex(root);
    return new Blobs(root, indexed ?? new Map(), indexed !== undefined);
  }

  /** The blob id of the regular file at `path` (relative to the root), or undefined when there is none. */
  id(path: string): string | undefined {
    if (this.known.has(path)) return this.known.get(path);
    let id = this.indexed.get(path);
    if (id === undefined) {
      try {
        id = statSync(join(this.root, path)).isFile() ? blobId(readFileSync(join(this.root, path))) : undefined;
      } catch {
        id = undefined;
      }
    }
    this.known.set(path, id);
    return id;
  }

  /** Tells the ids of files this process just wrote, so they are not read back. */
  wrote(path: string, content: string | Buffer): void {
    this.known.set(path, blobId(content));
  }
}

/** git's blob id of some bytes. */
export function blobId(content: string | Buffer): string {
  const bytes = typeof content === "string" ? Buffer.from(content) : content;
  return createHash("sha1").update(`blob ${bytes.length}\0`).update(bytes).digest("hex");
}

/**
 * The ids git's index holds for files that are clean in the work tree below `root` (paths
 * relative to it), or undefined outside a work tree. Symlinks (mode 120000) and submodules are
 * left out: their ids are not a file's bytes.
 */
function gitIndex(root: string): Map<string, string> | undefined {
  const git = (...args: string[]) => execFileSync("git", ["-C", root, ...args], { encoding: "utf8", maxBuffer: 1 << 30, stdio: ["ignore", "pipe", "ignore"] });
  let listed: string;
  let dirty: string;
  try {
    if (git("rev-parse", "--is-inside-work-tree").trim() !== "true") return undefined;
    // -v: a lowercase tag marks assume-unchanged, S skip-worktree; -s: mode, id and stage.
    listed = git("ls-files", "-s", "-v", "-z");
    dirty = git("diff-files", "--relative", "--name-only", "-z");
  } catch {
    return undefined;
  }
  const changed = new Set(dirty.split("\0"));
  const ids = new Map<string, string>();
  for (const entry of listed.split("\0")) {
    // "H 100644 <id> 0\t<path>"
    const tab = entry.indexOf("\t");
    if (tab < 0 || entry[0] !== "H") continue;
    const [, mode, id, stage] = entry.slice(0, tab).split(" ");
    const path = entry.slice(tab + 1);
    if ((mode === "100644" || mode === "100755") && stage === "0" && !changed.has(path)) ids.set(path, id!);
  }
  return ids;
}
