/**
 * Reading `generated/` at a commit straight from git objects (`ls-tree` + `cat-file --batch`):
 * no checkout, no worktree, one process per tree whatever its size.
 */
import { execFile, spawn } from "node:child_process";
import { promisify } from "node:util";
import { isStamp, STAMP_FILE } from "../model/files.ts";
import { DagopsError } from "../contract/errors.ts";
import { byKey } from "../contract/order.ts";

const run = promisify(execFile);

/** A git failure the user can fix: a ref that does not exist, a directory that is not a repository. */
export class GitError extends DagopsError {
  readonly code = "GIT";
}

async function git(root: string, args: string[]): Promise<string> {
  try {
    const { stdout } = await run("git", args, { cwd: root, maxBuffer: 1 << 30, encoding: "utf8" });
    return stdout;
  } catch (err) {
    const e = err as { stderr?: string; message: string };
    throw new GitError((e.stderr ?? e.message).trim().split("\n")[0] ?? e.message);
  }
}

/** The full commit id of a ref, or a GitError that names the ref. */
export async function resolveCommit(root: string, ref: string): Promise<string> {
  try {
    return (await git(root, ["rev-parse", "--verify", "--quiet", "--end-of-options", `${ref}^{commit}`])).trim();
  } catch {
    throw new GitError(
      `unknown git ref ${JSON.stringify(ref)} in ${root}: not a branch, tag or commit here (in CI, fetch it first: git fetch origin ${ref})`,
    );
  }
}

/**
 * Every regular file under `dir` at `commit`, as `path relative to dir → content`, sorted, and
 * every entry that is not one: a symlink (mode 120000; its blob is the link's target) or a
 * submodule. Argo CD would follow a link, so review reports them.
 *
 * `wanted`: read only these paths' contents (every listed entry is still looked at, so links are
 * still found). `only`: list only these paths under `dir` (files or folders, relative to `dir`),
 * so that git walks a few of the tree's thousands of folders; links are then found only there.
 */
export async function readTreeAt(
  root: string,
  commit: string,
  dir: string,
  wanted?: (path: string) => boolean,
  only?: readonly string[],
): Promise<{ files: Map<string, string>; irregular: { path: string; kind: string }[] }> {
  if (only && only.length === 0) return { files: new Map(), irregular: [] };
  const listing = await git(root, [
    "ls-tree",
    "-r",
    "-z",
    "--full-tree",
    commit,
    "--",
    ...(only ? only.map((p) => `${dir}/${p}`) : [dir]),
  ]);
  // One pass, no object for an entry that is neither wanted nor irregular: a tree of 30,000
  // files is listed in full for the head (to find its links).
  const blobs: { mode: string; sha: string; path: string }[] = [];
  const irregular: { path: string; kind: string }[] = [];
  for (let at = 0; at < listing.length; ) {
    const end = listing.indexOf("\0", at);
    const line = listing.slice(at, end < 0 ? listing.length : end);
    at = end < 0 ? listing.length : end + 1;
    if (!line) continue;
    // "<mode> SP <type> SP <sha> TAB <path>"
    const tab = line.indexOf("\t");
    const path = line.slice(tab + 1 + dir.length + 1);
    const [mode, type, sha] = line.slice(0, tab).split(" ") as [string, string, string];
    if (type !== "blob") irregular.push({ path, kind: `a ${type === "commit" ? "submodule" : type}` });
    else if (!wanted || mode === "120000" || wanted(path)) blobs.push({ mode, sha, path });
  }
  const contents = await catFiles(
    root,
    blobs.map((e) => e.sha),
  );
  const files = new Map<string, string>();
  const links: { path: string; kind: string }[] = [];
  blobs.forEach((e, i) => {
    // The stamps are bookkeeping, synced by no Application: not part of what a change does.
    if (isStamp(e.path)) return;
    if (e.mode === "120000") links.push({ path: e.path, kind: `a symlink to ${contents[i]}` });
    else files.set(e.path, contents[i]!);
  });
  return { files: new Map([...files].sort(byKey)), irregular: [...links, ...irregular] };
}

/** The names of the entries right under `dir` at `commit` (not recursive). */
export async function namesAt(root: string, commit: string, dir: string): Promise<string[]> {
  const listing = await git(root, ["ls-tree", "-z", "--full-tree", "--name-only", commit, "--", `${dir}/`]);
  return listing
    .split("\0")
    .filter(Boolean)
    .map((p) => p.slice(dir.length + 1));
}

function catFiles(root: string, shas: readonly string[]): Promise<string[]> {
  if (shas.length === 0) return Promise.resolve([]);
  return new Promise((resolve, reject) => {
    const child = spawn("git", ["cat-file", "--batch"], { cwd: root, stdio: ["pipe", "pipe", "pipe"] });
    const chunks: Buffer[] = [];
    let stderr = "";
    child.stdout.on("data", (c: Buffer) => chunks.push(c));
    child.stderr.on("data", (c: Buffer) => (stderr += c));
    child.on("error", reject);
    child.on("close", (code) => {
      if (code !== 0) return reject(new GitError(`git cat-file failed: ${stderr.trim()}`));
      // Each answer: "<sha> blob <size>\n<content>\n".
      const data = Buffer.concat(chunks);
      const out: string[] = [];
      let at = 0;
      for (let i = 0; i < shas.length; i++) {
        const eol = data.indexOf(10, at);
        const size = Number(data.subarray(at, eol).toString("utf8").split(" ")[2]);
        out.push(data.subarray(eol + 1, eol + 1 + size).toString("utf8"));
        at = eol + 1 + size + 1;
      }
      resolve(out);
    });
    child.stdin.end(shas.join("\n") + "\n");
  });
}

/**
 * The unified diff of `dir` between `base` and `head` (a commit, or the working tree when
 * undefined), split per file (paths relative to `dir`). Git computes it, so it is the diff
 * reviewers know.
 */
export async function unifiedDiff(
  root: string,
  base: string,
  head: string | undefined,
  dir: string,
): Promise<Map<string, string>> {
  const text = await git(root, [
    "-c",
    "core.quotePath=false",
    "diff",
    "--no-color",
    "--no-ext-diff",
    "--no-renames",
    "-U3",
    base,
    ...(head ? [head] : []),
    "--",
    dir,
    `:(exclude,glob)${dir}/**/${STAMP_FILE}`,
  ]);
  const out = new Map<string, string>();
  for (const part of text.split(/^(?=diff --git )/m).filter(Boolean)) {
    const path = diffPath(part);
    if (path !== undefined) out.set(path.slice(dir.length + 1), part.trimEnd());
  }
  return out;
}

/**
 * The path one `diff --git` section is about. Read from its `+++`/`---` lines, where git quotes
 * names with tabs, quotes or newlines ("a/x\ty") and ends names with spaces with a tab; the
 * header line alone is ambiguous when a name contains " b/".
 */
export function diffPath(part: string): string | undefined {
  const line = (prefix: string) => {
    const m = new RegExp(`^${prefix} (.*)$`, "m").exec(part);
    return m ? unquote(m[1]!.replace(/\t$/, "")) : undefined;
  };
  const plus = line("\\+\\+\\+");
  const minus = line("---");
  const named = plus && plus !== "/dev/null" ? plus : minus && minus !== "/dev/null" ? minus : undefined;
  if (named) return named.replace(/^[ab]\//, "");
  // No content lines (a mode change): "diff --git a/<p> b/<p>" with both halves equal.
  const header = unquoteHeader(
    part.slice("diff --git ".length, part.indexOf("\n") < 0 ? undefined : part.indexOf("\n")),
  );
  return header;
}

function unquoteHeader(header: string): string | undefined {
  if (header.startsWith('"')) {
    const m = /^("(?:[^"\\]|\\.)*") /.exec(header);
    return m ? unquote(m[1]!).replace(/^a\//, "") : undefined;
  }
  // Unquoted: "a/<p> b/<p>", so <p> is half of what remains.
  const len = (header.length - 5) / 2;
  return Number.isInteger(len) && header.startsWith("a/") && header.slice(2, 2 + len) === header.slice(5 + len)
    ? header.slice(2, 2 + len)
    : undefined;
}

/** Git's C-style quoting of a path: "\t", "\n", "\"", "\\", and octal bytes. */
function unquote(s: string): string {
  if (!s.startsWith('"') || !s.endsWith('"')) return s;
  const bytes: number[] = [];
  const body = s.slice(1, -1);
  for (let i = 0; i < body.length; i++) {
    const c = body[i]!;
    if (c !== "\\") {
      bytes.push(...Buffer.from(c, "utf8"));
      continue;
    }
    const n = body[++i]!;
    if (/[0-7]/.test(n)) {
      bytes.push(parseInt(body.slice(i, i + 3), 8));
      i += 2;
    } else
      bytes.push(({ t: 9, n: 10, r: 13, a: 7, b: 8, f: 12, v: 11 } as Record<string, number>)[n] ?? n.charCodeAt(0));
  }
  return Buffer.from(bytes).toString("utf8");
}

/** Files under `dir` in the working tree that git does not track yet appear in no diff: list them. */
/** Paths under `dir` that differ between `base` and `head` (or the working tree), as git sees them. */
export async function changedPaths(
  root: string,
  base: string,
  head: string | undefined,
  dir: string,
): Promise<string[]> {
  return (
    await git(root, [
      "-c",
      "core.quotePath=false",
      "diff",
      "--name-only",
      "--no-renames",
      "-z",
      base,
      ...(head ? [head] : []),
      "--",
      dir,
    ])
  )
    .split("\0")
    .filter(Boolean);
}

export async function untracked(root: string, dir: string): Promise<string[]> {
  return (await git(root, ["ls-files", "--others", "--exclude-standard", "-z", "--", dir])).split("\0").filter(Boolean);
}
