/** Test helpers: temp repositories with real files, real git, and an in-memory Io. */
import { execFileSync } from "node:child_process";
import { cp, mkdir, mkdtemp, readdir, readFile, rm, symlink, writeFile } from "node:fs/promises";
import { tmpdir } from "node:os";
import { dirname, join, resolve } from "node:path";
import { fileURLToPath } from "node:url";
import { CODE_DIRS } from "../model/files.ts";
import type { Io } from "../cli/kit.ts";

export const REPO = resolve(dirname(fileURLToPath(import.meta.url)), "..");

/** Folders of code a temp repository links to (so its TypeScript files import the real thing). */
const CODE = [...CODE_DIRS, "node_modules"];

export interface TempRepo {
  readonly root: string;
  write(path: string, content: string): Promise<void>;
  read(path: string): Promise<string>;
  remove(path: string): Promise<void>;
  cleanup(): Promise<void>;
}

/**
 * A repository in a temp dir: the code linked from this checkout, and copies of the platform
 * configuration, the example pipelines and (with `generated: true`) the committed generated/ tree.
 */
export async function tempRepo(options: { pipelines?: boolean; generated?: boolean } = {}): Promise<TempRepo> {
  const root = await mkdtemp(join(tmpdir(), "dagops-test-"));
  for (const d of CODE) await symlink(join(REPO, d), join(root, d), "dir");
  await cp(join(REPO, "platform.config.ts"), join(root, "platform.config.ts"));
  await cp(join(REPO, "package.json"), join(root, "package.json"));
  await cp(join(REPO, "package-lock.json"), join(root, "package-lock.json"));
  if (options.pipelines !== false) await cp(join(REPO, "pipelines"), join(root, "pipelines"), { recursive: true });
  else await writeFile(join(root, ".keep"), "");
  if (options.generated) {
    await cp(join(REPO, "generated"), join(root, "generated"), { recursive: true });
    await cp(join(REPO, "schema"), join(root, "schema"), { recursive: true });
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

export interface Captured extends Io {
  readonly out: string[];
  readonly err: string[];
  text(): string;
}

export function captureIo(cwd: string, env: Record<string, string | undefined> = {}): Captured {
  const out: string[] = [];
  const err: string[] = [];
  return { cwd, env, out, err, stdout: (t) => void out.push(t), stderr: (t) => void err.push(t), text: () => out.join("") + err.join("") };
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
  return new Map([...out].sort(([a], [b]) => (a < b ? -1 : 1)));
}

export function git(cwd: string, ...args: string[]): string {
  return execFileSync("git", args, {
    cwd,
    encoding: "utf8",
    env: { ...process.env, GIT_AUTHOR_NAME: "test", GIT_AUTHOR_EMAIL: "test@example.com", GIT_COMMITTER_NAME: "test", GIT_COMMITTER_EMAIL: "test@example.com" },
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
