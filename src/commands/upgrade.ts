/**
 * `npx dagops upgrade <git-ref>`: takes a newer dagops into a team's repository. dagops's own
 * files are the folders package.json lists in "dagops.code" and the files in "dagops.files" (the
 * manifests, the tests, CI); the team's are everything else (pipelines/, platform.config.ts,
 * generated/, the README). The upgrade replaces exactly dagops's files with the ref's, as
 * the ref lists them (a file dagops dropped goes, one it added comes), and touches nothing of
 * the team's: no merge, so no conflict with the examples the team removed. Then `npm ci` and
 * `npm run synth` (every stamp changes with dagops's code) make the commit to review.
 */
import { execFileSync } from "node:child_process";
import { resolve } from "node:path";
import { EXIT, parseCommand, type Io } from "../cli/kit.ts";

const HELP = `Usage: npx dagops upgrade <git-ref> [--root <dir>]

Replaces dagops's own files (package.json "dagops.code" and "dagops.files") with those of
<git-ref>, a commit of dagops's repository that you fetched, and leaves your pipelines,
platform.config.ts and generated/ alone. Then run \`npm ci && npm run synth\`, review, and commit.

Examples:
  git fetch https://github.com/dagops/dagops.git v0.2.0
  npx dagops upgrade FETCH_HEAD

Exit codes:
  0  done: dagops's files are the ref's (staged in git's index)
  2  usage error, not a git work tree, uncommitted changes in dagops's files, or an unknown ref
`;

interface Manifest {
  readonly dagops?: { readonly code?: readonly string[]; readonly files?: readonly string[] };
}

export async function main(argv: string[], io: Io): Promise<number> {
  const parsed = parseCommand("upgrade", argv, io, { root: { type: "string" } } as const, HELP, true);
  if (parsed.kind === "exit") return parsed.exit;
  const [ref, ...more] = parsed.positionals;
  const fail = (message: string) => (io.stderr(`dagops upgrade: ${message}\n`), EXIT.usage);
  if (!ref || more.length)
    return fail(`expected one git ref (a commit of dagops you fetched, such as FETCH_HEAD)\n\n${HELP}`);
  const root = resolve(io.cwd, parsed.values.root ?? ".");
  const git = (...args: string[]) =>
    execFileSync("git", ["-C", root, ...args], { encoding: "utf8", stdio: ["ignore", "pipe", "pipe"] });
  let commit: string;
  try {
    commit = git("rev-parse", "--verify", "--quiet", `${ref}^{commit}`).trim();
  } catch {
    return fail(
      `${JSON.stringify(ref)} is not a commit here (not a git work tree, or not fetched: git fetch <dagops repository> <tag>)`,
    );
  }
  const owned = (text: string) => {
    const m = JSON.parse(text) as Manifest;
    return [...(m.dagops?.code ?? []), ...(m.dagops?.files ?? [])];
  };
  let theirs: string[];
  try {
    theirs = owned(git("show", `${commit}:package.json`));
  } catch {
    return fail(`${ref} has no package.json with "dagops.code": is it a commit of dagops?`);
  }
  if (theirs.length === 0) return fail(`${ref}'s package.json lists no "dagops.code": is it a commit of dagops?`);
  let ours: string[] = [];
  try {
    ours = owned(git("show", "HEAD:package.json"));
  } catch {
    // a repository without dagops yet: only the ref's list
  }
  const paths = [...new Set([...ours, ...theirs, "package.json"])].sort();
  const dirty = git("status", "--porcelain", "--", ...paths).trim();
  if (dirty) return fail(`dagops's own files have uncommitted changes; commit or stash them first:\n${dirty}`);
  // The ref's files, exactly: what it does not have goes.
  git("rm", "-r", "-q", "--ignore-unmatch", "--", ...paths);
  const present = git("ls-tree", "--name-only", commit, "--", ...paths)
    .split("\n")
    .filter(Boolean);
  if (present.length) git("checkout", commit, "--", ...present);
  const changed = git("diff", "--cached", "--stat", "HEAD", "--", ...paths).trim();
  io.stdout(
    changed
      ? `dagops upgrade: dagops's files are ${ref}'s (${commit.slice(0, 12)}):\n${changed}\nNext: npm ci && npm run synth, then review and commit.\n`
      : `dagops upgrade: dagops's files are already ${ref}'s.\n`,
  );
  return EXIT.ok;
}
