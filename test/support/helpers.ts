/** Test helpers: temp repositories with real files, real git, and an in-memory Io. */
import { execFileSync } from "node:child_process";
import { rmSync } from "node:fs";
import { cp, mkdir, mkdtemp, readdir, readFile, rm, symlink, writeFile } from "node:fs/promises";
import { tmpdir } from "node:os";
import { dirname, join, resolve } from "node:path";
import { fileURLToPath } from "node:url";
import { CODE_DIRS, isStamp } from "../../src/model/files.ts";
import type { Io } from "../../src/cli/kit.ts";
import { byKey } from "../../src/contract/order.ts";

export const REPO = resolve(dirname(fileURLToPath(import.meta.url)), "../..");

/** Folders of code a temp repository links to (so its TypeScript files import the real thing). */
const CODE = [...CODE_DIRS, "node_modules"];

/**
 * The tests' own example repository: a platform configuration, pipelines (YAML, TypeScript
 * importing helpers inside and outside pipelines/, a template with a tenants file) and the
 * files they import. Never the repository's own pipelines/ or platform.config.ts: a team that
 * deletes or edits those keeps a green `npm test`.
 */
export const EXAMPLE = join(REPO, "test", "fixtures", "example");

export interface TempRepo {
  readonly root: string;
  write(path: string, content: string): Promise<void>;
  read(path: string): Promise<string>;
  remove(path: string): Promise<void>;
  cleanup(): Promise<void>;
}

/**
 * A repository in a temp dir: the code linked from this checkout, and copies of the example's
 * platform configuration, its helpers and its pipelines; with `generated: true`, also generated/
 * and schema/ as synth writes them (synthesized once per test process, then copied); with
 * `git: true`, all of it committed in a git repository of its own.
 */
export async function tempRepo(
  options: { pipelines?: boolean; generated?: boolean; git?: boolean } = {},
): Promise<TempRepo> {
  const root = await mkdtemp(join(tmpdir(), "dagops-test-"));
  for (const d of CODE) await symlink(join(REPO, d), join(root, d), "dir");
  await cp(join(EXAMPLE, "platform.config.ts"), join(root, "platform.config.ts"));
  await cp(join(EXAMPLE, "lib"), join(root, "lib"), { recursive: true });
  await cp(join(REPO, "package.json"), join(root, "package.json"));
  await cp(join(REPO, "package-lock.json"), join(root, "package-lock.json"));
  await cp(join(REPO, "tsconfig.json"), join(root, "tsconfig.json"));
  if (options.pipelines !== false) await cp(join(EXAMPLE, "pipelines"), join(root, "pipelines"), { recursive: true });
  else await writeFile(join(root, ".keep"), "");
  if (options.generated) {
    const made = await exampleTree();
    await cp(join(made, "generated"), join(root, "generated"), { recursive: true });
    await cp(join(made, "schema"), join(root, "schema"), { recursive: true });
  }
  if (options.git) {
    await writeFile(join(root, ".gitignore"), "node_modules\n.dagops.lock\n.generated.*\n");
    git(root, "init", "-q");
    git(root, "add", "-A");
    git(root, "commit", "-q", "-m", "base");
  }
  return {
    root,
    write: async (path, content) => {
      const full = join(root, path);
      await mkdir(dirname(full), { recursive: true });
      await writeFile(full, content);
    },
    read: (path) => readFile(join(root, path), "utf8"),
    remove: (path) => rm(join(root, path), { recursive: true, force: true }),
    cleanup: () => rm(root, { recursive: true, force: true }),
  };
}

let example: Promise<string> | undefined;

/**
 * The example repository with generated/ and schema/ as `npm run synth` writes them, made once
 * per test process (its folder is removed when the process exits). Read it; copy it to change it.
 */
export function exampleTree(): Promise<string> {
  example ??= (async () => {
    const repo = await tempRepo();
    const { main } = await import("../../src/commands/synth.ts");
    const io = captureIo(repo.root);
    if ((await main(["--full"], io)) !== 0) throw new Error(`synth of the example failed:\n${io.text()}`);
    process.once("exit", () => rmSync(repo.root, { recursive: true, force: true }));
    return repo.root;
  })();
  return example;
}

export interface Captured extends Io {
  readonly out: string[];
  readonly err: string[];
  text(): string;
}

export function captureIo(cwd: string, env: Record<string, string | undefined> = {}): Captured {
  const out: string[] = [];
  const err: string[] = [];
  return {
    cwd,
    env,
    out,
    err,
    stdout: (t) => void out.push(t),
    stderr: (t) => void err.push(t),
    text: () => out.join("") + err.join(""),
  };
}

/** The manifests under a generated/ folder (its files without the stamps) as path → content. */
export async function manifests(dir: string): Promise<Map<string, string>> {
  return new Map([...(await snapshot(dir))].filter(([path]) => !isStamp(path)));
}

/** Every file under `dir` as path → content; equal maps mean byte-identical trees. */
export async function snapshot(dir: string): Promise<Map<string, string>> {
  const out = new Map<string, string>();
  let entries;
  try {
    entries = await readdir(dir, { recursive: true, withFileTypes: true });
  } catch {
    return out;
  }
  for (const e of entries) {
    if (!e.isFile()) continue;
    const full = join(e.parentPath, e.name);
    out.set(full.slice(dir.length + 1), await readFile(full, "utf8"));
  }
  return new Map([...out].sort(byKey));
}

export function git(cwd: string, ...args: string[]): string {
  return execFileSync("git", args, {
    cwd,
    encoding: "utf8",
    env: {
      ...process.env,
      GIT_AUTHOR_NAME: "test",
      GIT_AUTHOR_EMAIL: "test@example.com",
      GIT_COMMITTER_NAME: "test",
      GIT_COMMITTER_EMAIL: "test@example.com",
    },
  });
}

/** A minimal valid YAML pipeline, to break one rule at a time. */
export function yamlPipeline(name: string, body = ""): string {
  return `name: ${name}
image: registry.example.com/team/app:1.0.0
defaults:
  resources:
    requests: { cpu: 100m, memory: 128Mi }
    limits: { cpu: 500m, memory: 256Mi }
steps:
  - name: extract
  - name: transform
    dependsOn: [extract]
${body}`;
}
