/** The check tiers (README, "Checks, in the order they run") up to, but not including, drift: load → validate → render → check output. */
import { join } from "node:path";
import { capacityProblems } from "../../checks/capacity.ts";
import { checkOutput, checkSizes } from "../../checks/cross-object.ts";
import { loadPriceData, type PriceData } from "../../cost/data.ts";
import { PLATFORM_FILE } from "../../model/files.ts";
import type { ResolvedCluster } from "../../model/platform.ts";
import { problem } from "../../model/problems.ts";
import { loadProject, type Project } from "./load.ts";
import { hasErrors, type Problem } from "../../model/problems.ts";
import { pipelineSchema, tenantsSchema } from "../../model/pipeline-schema.ts";
import { SCHEMA_FILE, TENANTS_SCHEMA_FILE } from "../../model/files.ts";
import { render, toFiles, type OutputFile, type RenderedObject } from "../../render/render.ts";

export { SCHEMA_FILE } from "../../model/files.ts";

export interface Compiled {
  readonly project: Project;
  readonly problems: readonly Problem[];
  /** Present when no tier before output found an error. */
  readonly objects?: readonly RenderedObject[];
  readonly files?: readonly OutputFile[];
  /** Each cluster's price snapshot, when it loaded. */
  readonly prices?: ReadonlyMap<string, PriceData>;
}

/** Phase name → milliseconds, filled in when the caller asks for timings. */
export type Timings = Map<string, number>;

export function timed<T>(timings: Timings | undefined, phase: string, fn: () => T): T {
  const start = performance.now();
  const result = fn();
  if (result instanceof Promise) {
    return result.finally(() => timings?.set(phase, performance.now() - start)) as T;
  }
  timings?.set(phase, performance.now() - start);
  return result;
}

export async function compile(root: string, timings?: Timings): Promise<Compiled> {
  const project = await timed(timings, "load and validate definitions", () => loadProject(root));
  if (hasErrors(project.problems)) return { project, problems: project.problems };
  const objects = timed(timings, "render (cdk8s)", () => render(project.clusters, project.pipelines));
  const prices = loadPrices(root, project.clusters);
  const problems = [
    ...project.problems,
    ...prices.problems,
    ...timed(timings, "validate output", () => checkOutput(objects)),
    ...timed(timings, "capacity", () => capacityProblems(objects, prices.byCluster, project.clusters.map((c) => c.name))),
  ];
  if (hasErrors(problems)) return { project, problems };
  const files = timed(timings, "serialize YAML", () => toFiles(objects));
  const sized = [...problems, ...checkSizes(files, new Map(objects.map((o) => [o.path, o.source])))];
  if (hasErrors(sized)) return { project, problems: sized };
  return { project, problems: sized, objects, files, prices: prices.byCluster };
}

/** Each cluster's price snapshot (loaded once per file), or a problem naming the cluster's `prices`. */
export function loadPrices(root: string, clusters: readonly ResolvedCluster[]): { byCluster: Map<string, PriceData>; problems: Problem[] } {
  const files = new Map<string, PriceData | Error>();
  const byCluster = new Map<string, PriceData>();
  const problems: Problem[] = [];
  clusters.forEach((c, i) => {
    if (!files.has(c.prices)) {
      try {
        files.set(c.prices, loadPriceData(join(root, c.prices)));
      } catch (err) {
        files.set(c.prices, err as Error);
      }
    }
    const data = files.get(c.prices)!;
    if (data instanceof Error) problems.push(problem("BAD_PRICE_DATA", PLATFORM_FILE, `clusters[${i}].prices`, data.message.replace(join(root, ""), "")));
    else byCluster.set(c.name, data);
  });
  return { byCluster, problems };
}

export function formatTimings(timings: Timings): string {
  return [...timings].map(([phase, ms]) => `  ${phase.padEnd(34)} ${(ms / 1000).toFixed(2).padStart(7)} s\n`).join("");
}

/** The published JSON Schema, as committed: editors point YAML pipelines at it. */
export function schemaFileContent(): string {
  return `${JSON.stringify(pipelineSchema, null, 2)}\n`;
}

/** Every published schema file and its content: pipelines, and the tenants files of templates. */
export function schemaFiles(): ReadonlyMap<string, string> {
  return new Map([
    [SCHEMA_FILE, schemaFileContent()],
    [TENANTS_SCHEMA_FILE, `${JSON.stringify(tenantsSchema, null, 2)}\n`],
  ]);
}
