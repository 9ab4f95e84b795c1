/**
 * Reading `generated/` at a commit straight from git objects (`ls-tree` + `cat-file --batch`):
 * no checkout, no worktree, one process per tree whatever its size.
 */
import { execFile, spawn } from "node:child_process";
import { promisify } from "node:util";

const run = promisify(execFile);

/** A git failure the user can fix: a ref that does not exist, a directory that is not a repository. */
export class GitError extends Error {}

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
    throw new GitError(`unknown git ref ${JSON.stringify(ref)} in ${root}: not a branch, tag or commit here (in CI, fetch it first: git fetch origin ${ref})`);
  }
}

/** Every file under `dir` at `commit`, as `path relative to dir → content`, sorted. */
export async function readTreeAt(root: string, commit: string, dir: string): Promise<Map<string, string>> {
  const listing = await git(root, ["ls-tree", "-r", "-z", "--full-tree", commit, "--", dir]);
  const entries = listing
    .split("\0")
    .filter(Boolean)
    .map((line) => {
      const [meta, path] = line.split("\t") as [string, string];
      const [, type, sha] = meta.split(" ") as [string, string, string];
      return { type, sha, path };
    })
    .filter((e) => e.type === "blob");
  const contents = await catFiles(root, entries.map((e) => e.sha));
  const out = new Map<string, string>();
  entries.forEach((e, i) => out.set(e.path.slice(dir.length + 1), contents[i]!));
  return new Map([...out].sort(([a], [b]) => (a < b ? -1 : a > b ? 1 : 0)));
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
export async function unifiedDiff(root: string, base: string, head: string | undefined, dir: string): Promise<Map<string, string>> {
  const text = await git(root, ["-c", "core.quotePath=false", "diff", "--no-color", "--no-ext-diff", "--no-renames", "-U3", base, ...(head ? [head] : []), "--", dir]);
  const out = new Map<string, string>();
  for (const part of text.split(/^(?=diff --git )/m).filter(Boolean)) {
    const m = /^diff --git a\/(\S+) b\/(\S+)/.exec(part);
    if (m) out.set((m[2] ?? m[1])!.slice(dir.length + 1), part.trimEnd());
  }
  return out;
}

/** Files under `dir` in the working tree that git does not track yet appear in no diff: list them. */
export async function untracked(root: string, dir: string): Promise<string[]> {
  return (await git(root, ["ls-files", "--others", "--exclude-standard", "-z", "--", dir])).split("\0").filter(Boolean);
}
