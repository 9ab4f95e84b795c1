/**
 * Reads the platform configuration and every pipeline, and runs the definition tiers in order:
 * reading, schema, graph, semantics. A file that fails a tier is not checked by later tiers (their
 * messages would only echo the first problem); every file is checked, so all problems come at once.
 */
import { createHash } from "node:crypto";
import { realpathSync } from "node:fs";
import { basename, extname, join, sep } from "node:path";
import { fileURLToPath, pathToFileURL } from "node:url";
import { Worker } from "node:worker_threads";
import { LineCounter, parseDocument, type Document } from "yaml";
import { OUTSIDE, READ_OPTIONS, readFastYaml } from "./fast-yaml.ts";
import { dstProblems } from "../model/dst.ts";
import { graphProblems } from "../contract/graph.ts";
import type { PipelineDefinition, Tenant } from "../model/pipeline.ts";
import { pipelineSchema, tenantsSchema } from "../model/pipeline-schema.ts";
import { expandTemplate } from "../model/template.ts";
import { jsonHash, orphanTenantsFiles, pipelineFiles, tenantsFileOf, tenantsFiles } from "./definitions.ts";
import { resolveCluster, type PlatformConfig, type ResolvedCluster } from "../model/platform.ts";
import { platformSchema } from "../model/platform-schema.ts";
import { fieldPath, hasErrors, problem, type Problem } from "../contract/problems.ts";
import { resolvePipeline, sharedRoleProblems, type ResolvedPipeline } from "../model/resolve.ts";
import { validateAgainst } from "../model/schema-validator.ts";
import { unpairedSurrogates } from "../contract/text.ts";

import { CODE_DIRS, PIPELINES_DIR, PLATFORM_FILE, RESERVED_PIPELINE_NAMES } from "../model/files.ts";
import { firstLine, readSource } from "./source.ts";
import { getOrSet } from "../contract/order.ts";

export interface Project {
  readonly clusters: readonly ResolvedCluster[];
  readonly pipelines: readonly ResolvedPipeline[];
  readonly problems: readonly Problem[];
}

/** `now`: the start of the year that daylight-saving warnings look at (a parameter, so tests fix it). */
export async function loadProject(root: string, now: Date = new Date()): Promise<Project> {
  const loader = new TsLoader();
  const problems: Problem[] = [];
  const pipelines: ResolvedPipeline[] = [];
  const platform = await loadPlatform(root, loader);
  const clusterNames = platform.clusters.map((c) => c.name);
  problems.push(...platform.problems);
  const files = await pipelineFiles(root);
  const tenantFiles = await tenantsFiles(root);
  for (const file of files) {
    const r = await loadPipeline(root, file, clusterNames, loader, tenantFiles);
    problems.push(...r.problems);
    pipelines.push(...r.pipelines);
  }
  // A tenants file needs its template next to it.
  for (const t of orphanTenantsFiles(files, tenantFiles)) {
    const template = t.replace(/\.tenants\.ya?ml$/, "");
    problems.push(
      problem(
        "INVALID_VALUE",
        t,
        "",
        `a tenants file without its template: expected ${template}.yaml (or .ts) with template: true`,
      ),
    );
  }
  problems.push(...duplicateNames(pipelines));
  pipelines.sort((a, b) => (a.name < b.name ? -1 : a.name > b.name ? 1 : 0));
  problems.push(...pipelineWarnings(pipelines, platform.clusters, now));
  loader.close();
  return { clusters: platform.clusters, pipelines, problems };
}

/** Two definitions of one pipeline name, in file order (the later one is reported). */
export function duplicateNames(pipelines: readonly { readonly name: string; readonly source: string }[]): Problem[] {
  const problems: Problem[] = [];
  const byName = new Map<string, string>();
  for (const p of pipelines) {
    const other = byName.get(p.name);
    if (other)
      problems.push(
        problem(
          "DUPLICATE_PIPELINE",
          p.source,
          "name",
          `pipeline ${JSON.stringify(p.name)} is also defined in ${other}; keep one of the two files`,
        ),
      );
    else byName.set(p.name, p.source);
  }
  return problems;
}

/** A pipeline's warnings that need the platform: one IAM role across accounts, daylight saving. */
export function pipelineWarnings(
  pipelines: readonly ResolvedPipeline[],
  clusters: readonly ResolvedCluster[],
  now: Date,
): Problem[] {
  const accountOf = new Map(clusters.map((c) => [c.name, c.aws.accountId]));
  return pipelines.flatMap((p) => [...sharedRoleProblems(p, accountOf), ...dstProblems(p, now)]);
}

/** The platform configuration alone: its clusters with defaults filled in, or its problems. */
export async function loadPlatform(
  root: string,
  loader?: TsLoader,
): Promise<{ clusters: ResolvedCluster[]; problems: Problem[]; inputs: string[] }> {
  const loaded = await importDefault(root, PLATFORM_FILE, loader);
  if ("problems" in loaded) return { clusters: [], problems: loaded.problems, inputs: [] };
  const { inputs } = loaded;
  const problems = validateAgainst(platformSchema, loaded.value, PLATFORM_FILE);
  if (problems.length > 0) return { clusters: [], problems, inputs };
  const config = loaded.value as PlatformConfig;
  const seen = new Set<string>();
  config.clusters.forEach((c, i) => {
    if (seen.has(c.name))
      problems.push(
        problem(
          "BAD_CONFIG",
          PLATFORM_FILE,
          `clusters[${i}].name`,
          `cluster ${JSON.stringify(c.name)} is defined twice`,
        ),
      );
    seen.add(c.name);
  });
  if (problems.length) return { clusters: [], problems, inputs };
  config.clusters.forEach((c, i) => {
    if (c.logging === false) {
      problems.push(
        problem(
          "NO_LOG_DESTINATION",
          PLATFORM_FILE,
          `clusters[${i}].logging`,
          `cluster ${c.name}: run-manager logs go nowhere (logging: false). On Fargate they end with the pod, an hour after a run; remove "logging: false" to send them to CloudWatch Logs, or route them yourself (docs/run-manager.md, "Logs")`,
          "warning",
        ),
      );
    }
  });
  return { clusters: config.clusters.map(resolveCluster), problems, inputs };
}

export async function loadPipeline(
  root: string,
  file: string,
  clusterNames: readonly string[],
  loader?: TsLoader,
  tenantFiles: readonly string[] = [],
  keep?: KeepTenant,
): Promise<LoadResult> {
  const source: Source = extname(file) === ".ts" ? await importDefault(root, file, loader) : await readYaml(root, file);
  if ("problems" in source) return { pipelines: [], problems: source.problems, inputs: [] };
  const { yaml } = source;
  const withLines = (ps: Problem[]) => locateAll(ps, yaml);
  const result = await definitionOf(root, file, source, withLines, clusterNames, tenantFiles, keep);
  return { ...result, inputs: source.inputs ?? [file] };
}

async function definitionOf(
  root: string,
  file: string,
  source: { value: unknown },
  withLines: (ps: Problem[]) => Problem[],
  clusterNames: readonly string[],
  tenantFiles: readonly string[],
  keep: KeepTenant | undefined,
): Promise<Omit<LoadResult, "inputs">> {
  const unreadable = unpairedSurrogates(source.value, file);
  if (unreadable.length > 0) return { pipelines: [], problems: withLines(unreadable) };
  const schemaProblems = validateAgainst(pipelineSchema, source.value, file);
  if (schemaProblems.length > 0) return { pipelines: [], problems: withLines(schemaProblems) };
  const def = source.value as PipelineDefinition;

  const expected = basename(file, extname(file));
  const structural = graphProblems(def.steps, file);
  if (def.name !== expected) {
    structural.push(
      problem(
        "NAME_MISMATCH",
        file,
        "name",
        `pipeline name ${JSON.stringify(def.name)} does not match the file name; expected ${JSON.stringify(expected)} (rename the file or the pipeline)`,
      ),
    );
  }
  if (RESERVED_PIPELINE_NAMES.includes(def.name)) {
    structural.push(
      problem(
        "RESERVED_NAME",
        file,
        "name",
        `pipeline name ${JSON.stringify(def.name)} is reserved (its namespace would be dagops-${def.name}, which dagops itself uses); choose another name`,
      ),
    );
  }
  if (hasErrors(structural)) return { pipelines: [], problems: withLines(structural) };
  const ownTenants = tenantsFileOf(file, tenantFiles);
  if (!def.template) {
    if (def.tenants)
      return {
        pipelines: [],
        problems: withLines([
          problem(
            "INVALID_VALUE",
            file,
            "tenants",
            "tenants belong to a template: add template: true, or remove tenants",
          ),
        ]),
      };
    const r = resolvePipeline(def, file, clusterNames);
    return { pipelines: r.pipeline ? [r.pipeline] : [], problems: withLines(r.problems) };
  }
  return loadTemplate(root, file, def, ownTenants, clusterNames, withLines, keep);
}

/** What loadPipeline returns: the pipelines resolved, and for a template every tenant's pipeline in order. */
export interface LoadResult {
  readonly pipelines: ResolvedPipeline[];
  readonly problems: Problem[];
  /**
   * A template's pipelines in the tenants' order, each with its clusters (sorted): those
   * resolved (in `pipelines`) and those a KeepTenant kept (not resolved, not in `pipelines`).
   */
  readonly listed?: readonly { readonly name: string; readonly clusters: readonly string[]; readonly kept: boolean }[];
  /**
   * The files the definition was read from: the file itself and, for TypeScript, every file of
   * the repository it imports (dagops's own code and node_modules/ are not listed: the stamps'
   * key covers them). A template's tenants file is in `tenants`.
   */
  readonly inputs: readonly string[];
  /** For a template with a tenants file: each pipeline's tenant, and the hash of its entry. */
  readonly tenants?: ReadonlyMap<string, { readonly file: string; readonly name: string; readonly entry: string }>;
}

/**
 * Asked for each tenant of a template, with the definition the tenant's pipeline is resolved
 * from (the template with the tenant's entry applied): the pipeline's clusters when the caller
 * already has everything resolving it would give (its output, its capacity facts, and no
 * problems), so that it is not resolved again; otherwise undefined.
 */
export type KeepTenant = (instance: PipelineDefinition) => readonly string[] | undefined;

/**
 * A template's pipelines: the template is resolved once as a pipeline of its own (so a mistake
 * in it is reported once, not once per tenant), then each tenant's pipeline; a tenant's own
 * problems name the tenant and its place in the list.
 */
async function loadTemplate(
  root: string,
  file: string,
  def: PipelineDefinition,
  tenantsFile: string | undefined,
  clusterNames: readonly string[],
  withLines: (ps: Problem[]) => Problem[],
  keep: KeepTenant | undefined,
): Promise<Omit<LoadResult, "inputs">> {
  let tenants: readonly Tenant[] = def.tenants ?? [];
  let listFile = file;
  let at: (string | number)[] = ["tenants"];
  let listLines = withLines;
  if (tenantsFile) {
    if (def.tenants)
      return {
        pipelines: [],
        problems: withLines([
          problem("INVALID_VALUE", file, "tenants", `tenants are listed here and in ${tenantsFile}; keep one list`),
        ]),
      };
    const list = await readYaml(root, tenantsFile);
    if ("problems" in list) return { pipelines: [], problems: list.problems };
    listLines = (ps) => locateAll(ps, list.yaml);
    const invalid = validateAgainst(tenantsSchema, list.value, tenantsFile);
    if (invalid.length) return { pipelines: [], problems: listLines(invalid) };
    tenants = list.value as Tenant[];
    listFile = tenantsFile;
    at = [];
  }
  const { template: _t, tenants: _ts, ...plain } = def;
  const base = resolvePipeline(plain, file, clusterNames);
  if (hasErrors(base.problems)) return { pipelines: [], problems: withLines(base.problems) };
  const expanded = expandTemplate(def, tenants, listFile, at);
  if (expanded.problems.length) return { pipelines: [], problems: listLines(expanded.problems) };
  const problems = withLines(base.problems); // warnings, once
  const seen = new Set(base.problems.map((p) => `${p.code}\u0000${p.path}`));
  const pipelines: ResolvedPipeline[] = [];
  const listed: { name: string; clusters: readonly string[]; kept: boolean }[] = [];
  const entries = new Map<string, { file: string; name: string; entry: string }>();
  expanded.instances.forEach((instance, i) => {
    if (tenantsFile)
      entries.set(instance.name, { file: tenantsFile, name: tenants[i]!.name, entry: jsonHash(tenants[i]) });
    const kept = keep?.(instance);
    if (kept) {
      listed.push({ name: instance.name, clusters: kept, kept: true });
      return;
    }
    const r = resolvePipeline(instance, file, clusterNames);
    for (const p of r.problems) {
      if (p.severity !== "error" && seen.has(`${p.code}\u0000${p.path}`)) continue;
      // What a tenant can get wrong is what it sets itself: the same path under its entry.
      const own = p.path.replace(/^params\.([^.]+)\.default$/, "params.$1");
      problems.push(
        ...listLines([
          {
            ...p,
            file: listFile,
            path: own ? `${fieldPath([...at, i])}.${own}` : fieldPath([...at, i]),
            message: `tenant ${tenants[i]!.name} (pipeline ${instance.name}): ${p.message}`,
          },
        ]),
      );
    }
    if (r.pipeline) {
      pipelines.push({
        ...r.pipeline,
        template: def.name,
        overridden: Object.fromEntries(
          Object.entries(r.pipeline.overridden).map(([c, v]) => [c, { ...v, template: def.name }]),
        ),
      });
      listed.push({ name: r.pipeline.name, clusters: [...r.pipeline.clusters].sort(), kept: false });
    }
  });
  return { pipelines, problems, ...(keep ? { listed } : {}), ...(tenantsFile ? { tenants: entries } : {}) };
}

type YamlDocument = { doc: Document; lines: LineCounter };
/** A definition's value; for YAML, its document, made on demand (see readYaml). */
type Source = { value: unknown; yaml?: () => YamlDocument; inputs?: string[] } | { problems: Problem[] };

/** What loading a TypeScript definition in the worker came to (ts-load-worker.mjs posts all but the last two). */
type Loaded =
  | { kind: "loaded"; json: string; imports: [string, string][] }
  | { kind: "loadError"; message: string; code?: string }
  | { kind: "noDefault"; found: string }
  | { kind: "dataError"; message: string }
  | { kind: "timedOut" }
  | { kind: "crashed"; message: string };

/**
 * Loads TypeScript definition files in a worker thread (`ts-load-worker.mjs`), one at a time,
 * each with a deadline: a file that hangs is named, its worker is terminated, and the rest
 * load in a fresh one. One worker per loader, so that a loader sees the files as they are when
 * it starts (a module is loaded once per worker) and close() ends it; it is unreferenced, so it
 * never keeps a command alive; a file's leftover timer that throws ends only that worker.
 */
export class TsLoader {
  private worker: Worker | undefined;
  private next = 0;
  constructor(readonly timeoutMs: number = loadTimeoutMs()) {}

  private thread(): Worker {
    if (!this.worker) {
      const w = new Worker(new URL("./ts-load-worker.mjs", import.meta.url));
      w.unref();
      const drop = () => {
        if (this.worker === w) this.worker = undefined;
      };
      w.on("error", drop);
      w.on("exit", drop);
      this.worker = w;
    }
    return this.worker;
  }

  /** Ends the worker (loading again starts a fresh one). */
  close(): void {
    void this.worker?.terminate();
    this.worker = undefined;
  }

  load(url: string): Promise<Loaded> {
    const worker = this.thread();
    const id = `${process.pid}-${this.next++}`;
    return new Promise((resolve) => {
      const done = (result: Loaded) => {
        clearTimeout(timer);
        worker.off("message", onMessage);
        worker.off("error", onError);
        worker.off("exit", onExit);
        resolve(result);
      };
      const discard = () => {
        if (this.worker === worker) this.worker = undefined;
        void worker.terminate();
      };
      const onMessage = (m: Loaded & { id: string }) => m.id === id && done(m);
      const onError = (e: Error) => (discard(), done({ kind: "crashed", message: e.message }));
      const onExit = (code: number) => (
        discard(), done({ kind: "crashed", message: `it ended its thread (exit code ${code})` })
      );
      // This timer also keeps the process alive while the (unreferenced) worker loads.
      const timer = setTimeout(() => (discard(), done({ kind: "timedOut" })), this.timeoutMs);
      worker.on("message", onMessage);
      worker.on("error", onError);
      worker.on("exit", onExit);
      worker.postMessage({ id, url });
    });
  }
}

/** How long one TypeScript file may take to load: `DAGOPS_LOAD_TIMEOUT_SECONDS`, default 30. */
export function loadTimeoutMs(env: Readonly<Record<string, string | undefined>> = process.env): number {
  const s = Number(env.DAGOPS_LOAD_TIMEOUT_SECONDS);
  return Number.isFinite(s) && s > 0 ? s * 1000 : 30_000;
}

async function importDefault(
  root: string,
  file: string,
  given?: TsLoader,
): Promise<{ value: unknown; inputs: string[] } | { problems: Problem[] }> {
  const source = readSource(root, file);
  if (source.kind === "refused") return { problems: source.problems };
  // Keyed by content: a loader that loads the same path twice sees edits.
  const version = createHash("sha256").update(source.bytes).digest("hex").slice(0, 16);
  const loader = given ?? new TsLoader();
  const r = await loader.load(`${pathToFileURL(join(root, file)).href}?v=${version}`);
  if (!given) loader.close();
  const fail = (message: string, line?: number) => ({
    problems: [{ ...problem("MODULE_LOAD_FAILED", file, "", message), ...(line ? { line } : {}) }],
  });
  if (r.kind === "timedOut")
    return fail(
      `${file} did not finish loading within ${Math.round((loader?.timeoutMs ?? loadTimeoutMs()) / 1000)} s: a top-level await that never settles, or an endless loop? Definitions must load at once`,
    );
  if (r.kind === "crashed")
    return fail(
      `loading ${file} stopped: ${r.message.split("\n")[0]} (this file, or one loaded before it, called process.exit or left a timer that threw)`,
    );
  if (r.kind === "dataError")
    return fail(
      `the default export of ${file} is not plain data: ${r.message.split("\n")[0]}; export objects, arrays, strings, numbers and booleans only`,
    );
  if (r.kind === "noDefault") {
    return {
      problems: [
        problem(
          "NO_DEFAULT_EXPORT",
          file,
          "",
          `expected \`export default definePipeline({...})\` (or definePlatform for ${PLATFORM_FILE}), found ${r.found}`,
        ),
      ],
    };
  }
  if (r.kind === "loadError") {
    const code = r.code === "ENOENT" ? "FILE_UNREADABLE" : "MODULE_LOAD_FAILED";
    // esbuild (through tsx) puts the location on the second line: "<path>:<line>:<col>: ERROR: <text>".
    const syntax = /:(\d+):(\d+): ERROR: (.*)/.exec(r.message);
    if (syntax)
      return {
        problems: [
          {
            ...problem(code, file, "", `cannot compile ${file}: ${syntax[3]} at ${syntax[1]}:${syntax[2]}`),
            line: Number(syntax[1]),
          },
        ],
      };
    return { problems: [problem(code, file, "", `cannot load ${file}: ${r.message.split("\n")[0]}`)] };
  }
  const inputs = importedFiles(root, file, r.imports, pathToFileURL(join(root, file)).href);
  if ("problems" in inputs) return inputs;
  return { value: JSON.parse(r.json) as unknown, inputs: inputs.files };
}

/**
 * The files of the repository a definition imports, directly or through others (repository
 * paths, sorted), from the imports its loader resolved (`imports`, [parent, child] URLs):
 * dagops's own code folders and node_modules/ are left out, with all they import (the stamps'
 * key holds them, package-lock.json for node_modules/), and a file outside the repository is
 * refused, since nothing would notice it change.
 */
function importedFiles(
  root: string,
  file: string,
  imports: readonly (readonly [string, string])[],
  url: string,
): { files: string[] } | { problems: Problem[] } {
  const real = (p: string) => {
    try {
      return realpathSync(p);
    } catch {
      return p;
    }
  };
  const top = real(root);
  // The folders are often links (a checkout's node_modules, a test's copy of the code): by both names.
  const covered = [...CODE_DIRS, "node_modules"]
    .flatMap((d) => [join(root, d), real(join(root, d))])
    .map((d) => `${d}${sep}`);
  const children = new Map<string, string[]>();
  for (const [from, to] of imports) getOrSet(children, from, () => []).push(to);
  const files = new Set([file]);
  const seen = new Set<string>();
  const stack = [...imports.filter(([from]) => from.replace(/[?#].*$/, "") === url).map(([from]) => from)];
  while (stack.length) {
    for (const child of children.get(stack.pop()!) ?? []) {
      if (seen.has(child) || !child.startsWith("file:")) continue; // node:fs and the like
      seen.add(child);
      const path = fileURLToPath(child.replace(/[?#].*$/, ""));
      if (covered.some((d) => path.startsWith(d))) continue;
      const rel = path.startsWith(`${top}${sep}`)
        ? path.slice(top.length + 1)
        : path.startsWith(`${root}${sep}`)
          ? path.slice(root.length + 1)
          : undefined;
      if (rel === undefined) {
        return {
          problems: [
            problem(
              "MODULE_LOAD_FAILED",
              file,
              "",
              `${file} imports ${path}, which is outside the repository: synth and check could not tell when it changes. Move it into the repository (for example lib/) and import it from there`,
            ),
          ],
        };
      }
      files.add(rel.split(sep).join("/"));
      stack.push(child);
    }
  }
  return { files: [...files].sort() };
}

async function readYaml(root: string, file: string): Promise<Source> {
  // Synchronous: thousands of small files read one after another, with nothing to overlap.
  const source = readSource(root, file);
  if (source.kind === "refused") return { problems: source.problems };
  const text = source.bytes.toString("utf8");
  // Most definitions are plain data, which js-yaml reads as `yaml` does, and faster; `yaml`'s
  // document (for the lines of problems) is made only when there are problems to place.
  const plain = readFastYaml(text);
  if (plain !== OUTSIDE) return { value: plain, yaml: lazyDocument(text) };
  const yaml = documentOf(text);
  const { doc, lines } = yaml;
  // Only the first error: the parser's later ones are mostly echoes of it.
  const first = doc.errors[0] ?? doc.warnings[0];
  if (first) {
    const { line, col } = lines.linePos(first.pos[0]);
    // An unclosed quote is noticed where the document ends: point at the line that opened it.
    const opened =
      first.code === "MISSING_CHAR" && /quote/.test(first.message) ? openingQuoteLine(text, line) : undefined;
    const at = opened ? { line: opened } : { line, column: col };
    if (/call stack/i.test(first.message))
      return {
        problems: [
          problem(
            "YAML_UNSAFE",
            file,
            "",
            "collections are nested too deeply to read; a pipeline needs a handful of levels",
          ),
        ],
      };
    const message = first.message.split("\n")[0]!.replace(/ at line \d+, column \d+:?$/, "");
    return doc.errors.length
      ? {
          problems: [
            {
              ...problem(
                "YAML_SYNTAX",
                file,
                "",
                opened ? `${message}: the quote opened on line ${opened} is never closed` : message,
              ),
              ...at,
            },
          ],
        }
      : {
          problems: [
            { ...problem("YAML_UNSAFE", file, "", `${message}; dagops reads plain YAML only (no tags)`), ...at },
          ],
        };
  }
  let value: unknown;
  try {
    value = doc.toJS({ maxAliasCount: 20 });
  } catch (e) {
    return { problems: [problem("YAML_UNSAFE", file, "", firstLine(e))] };
  }
  if (value === null || value === undefined)
    return { problems: [problem("YAML_SYNTAX", file, "", "the file is empty; expected a pipeline definition")] };
  return { value, yaml: () => yaml };
}

/**
 * A YAML text as `yaml`'s document, with its line counter. The YAML 1.2 core schema: no custom
 * tags (no !!js/function, no !!binary), no merge keys, duplicate keys refused, few aliases (a
 * "billion laughs" document stops at toJS).
 */
function documentOf(text: string): YamlDocument {
  const lines = new LineCounter();
  return { doc: parseDocument(text, { ...READ_OPTIONS, lineCounter: lines }), lines };
}

/** The last line up to `upTo` (1-based) with an odd number of unescaped double or single quotes: where an unclosed quote opened. */
function openingQuoteLine(text: string, upTo: number): number | undefined {
  let found: number | undefined;
  text
    .split("\n")
    .slice(0, upTo)
    .forEach((l, i) => {
      const code = l.replace(/\\./g, "").replace(/(^|\s)#.*$/, "");
      if ((code.match(/"/g) ?? []).length % 2 === 1 || (code.replace(/''/g, "").match(/'/g) ?? []).length % 2 === 1)
        found = i + 1;
    });
  return found;
}

function lazyDocument(text: string): () => YamlDocument {
  let made: YamlDocument | undefined;
  return () => (made ??= documentOf(text));
}

/** Adds to each problem the YAML line of the field it points at. */
function locateAll(ps: Problem[], yaml: (() => YamlDocument) | undefined): Problem[] {
  if (!yaml || ps.length === 0) return ps;
  const { doc, lines } = yaml();
  return ps.map((p) => locate(p, doc, lines));
}

/** Adds the YAML line of the field a problem points at. */
function locate(p: Problem, doc: Document, lines: LineCounter): Problem {
  const segments: (string | number)[] = [];
  const re = /([A-Za-z_$][\w$-]*)|\[(\d+)\]|\[("(?:[^"\\]|\\.)*")\]/g;
  for (const m of p.path.matchAll(re))
    segments.push(m[1] ?? (m[2] !== undefined ? Number(m[2]) : (JSON.parse(m[3]!) as string)));
  for (let n = segments.length; n >= 0; n--) {
    const node = doc.getIn(segments.slice(0, n), true) as { range?: [number, number, number] } | undefined;
    if (node && typeof node === "object" && node.range) return { ...p, line: lines.linePos(node.range[0]).line };
  }
  return p;
}
