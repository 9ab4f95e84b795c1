/**
 * render(clusters, pipelines) → files. Pure: no file system, no clock, no environment. Each
 * chart gets its own cdk8s App (one App with thousands of charts synthesizes in quadratic time).
 */
import { ApiObject, App, type Chart } from "cdk8s";
import { AppsChart, GENERATED_DIR } from "../charts/apps-chart.ts";
import { BootstrapChart } from "../charts/bootstrap-chart.ts";
import { stableName } from "../charts/names.ts";
import { PipelineChart } from "../charts/pipeline-chart.ts";
import { planDocument, type Plan, type PlanDocument } from "../charts/plan.ts";
import { planOf } from "../charts/plan-config-map.ts";
import { PlatformChart } from "../charts/platform-chart.ts";
import { toYaml } from "../charts/serialize.ts";
import { PLATFORM_FILE } from "../model/files.ts";
import type { ResolvedCluster } from "../model/platform.ts";
import { forCluster, type ResolvedPipeline } from "../model/resolve.ts";

export interface Manifest {
  readonly apiVersion: string;
  readonly kind: string;
  readonly metadata: { readonly name: string; readonly namespace?: string; readonly labels?: Record<string, string>; readonly annotations?: Record<string, string> };
  readonly [key: string]: unknown;
}

export interface RenderedObject {
  readonly cluster: string;
  /** Path under `generated/`: `prod/pipelines/nightly-etl/cronjob-nightly-etl.yaml`. */
  readonly path: string;
  /** The definition file the object comes from. */
  readonly source: string;
  readonly manifest: Manifest;
  /** For plan ConfigMaps: the plan the `plan.yaml` text was written from. */
  readonly plan?: Plan;
}

export interface OutputFile {
  readonly path: string;
  readonly content: string;
}

/**
 * Every object of these clusters and pipelines. `sharedNames`: the names of every pipeline per
 * cluster, when `pipelines` holds only some of them: the shared charts (Applications,
 * namespaces, the node reader's binding) still name them all.
 */
export function render(clusters: readonly ResolvedCluster[], pipelines: readonly ResolvedPipeline[], sharedNames?: (cluster: string) => readonly string[]): RenderedObject[] {
  const byCluster = (cluster: string) => pipelines.filter((p) => p.clusters.includes(cluster)).map((p) => p.name);
  return [...renderShared(clusters, sharedNames ?? byCluster), ...renderPipelines(clusters, pipelines)];
}

/** The shared charts of each cluster (bootstrap/, apps/, platform/), naming these pipelines. */
export function renderShared(clusters: readonly ResolvedCluster[], names: (cluster: string) => readonly string[]): RenderedObject[] {
  const objects: RenderedObject[] = [];
  for (const cluster of clusters) {
    const add = chartAdder(objects, cluster);
    add("bootstrap", PLATFORM_FILE, (app) => new BootstrapChart(app, "bootstrap", { cluster }));
    add("apps", PLATFORM_FILE, (app) => new AppsChart(app, "apps", { cluster, pipelines: [...names(cluster.name)] }));
    add("platform", PLATFORM_FILE, (app) => new PlatformChart(app, "platform", { cluster, pipelines: [...names(cluster.name)] }));
  }
  return objects;
}

/** The folder of each pipeline in each of its clusters (pipelines/<name>/): its namespace's objects. */
export function renderPipelines(clusters: readonly ResolvedCluster[], pipelines: readonly ResolvedPipeline[]): RenderedObject[] {
  const objects: RenderedObject[] = [];
  // A plan depends on the cluster only through overrides: build, serialize and hash it once per variant.
  // Only prewarm plans depend on the cluster's placeholder image.
  const plans = new Map<ResolvedPipeline, Map<string, PlanDocument>>();
  const planFor = (p: ResolvedPipeline, cluster: ResolvedCluster) => {
    const image = p.prewarm ? cluster.placeholderImage : "";
    const byImage = plans.get(p) ?? plans.set(p, new Map()).get(p)!;
    return byImage.get(image) ?? byImage.set(image, planDocument(p, cluster.placeholderImage)).get(image)!;
  };
  for (const cluster of clusters) {
    const add = chartAdder(objects, cluster);
    for (const p of pipelines) {
      if (!p.clusters.includes(cluster.name)) continue;
      // A cluster with overrides gets its own variant (and plan); the others share the pipeline's.
      const pipeline = forCluster(p, cluster.name);
      add(`pipelines/${p.name}`, p.source, (app) => new PipelineChart(app, p.name, { pipeline, cluster, plan: planFor(pipeline, cluster) }));
    }
  }
  return objects;
}

function chartAdder(objects: RenderedObject[], cluster: ResolvedCluster) {
  return (area: string, source: string, build: (app: App) => Chart) => {
    for (const { manifest, fileName, plan } of synth(build(new App()))) {
      objects.push({ cluster: cluster.name, path: `${cluster.name}/${area}/${fileName}`, source, manifest, ...(plan ? { plan } : {}) });
    }
  };
}

function synth(chart: Chart): { manifest: Manifest; fileName: string; plan?: Plan }[] {
  return chart.node
    .findAll()
    .filter((c): c is ApiObject => c instanceof ApiObject)
    .map((o) => {
      const manifest = o.toJson() as Manifest;
      const base = stableName(o) ?? manifest.metadata.name;
      const plan = planOf(o);
      return { manifest, fileName: `${manifest.kind.toLowerCase()}-${base}.yaml`, ...(plan ? { plan } : {}) };
    });
}

export function header(source: string): string {
  return `# Generated by dagops from ${source}. Do not edit: change the source and run \`npm run synth\`.\n`;
}

export function toFiles(objects: readonly RenderedObject[]): OutputFile[] {
  return objects
    .map((o) => ({ path: o.path, content: toYaml(o.manifest, header(o.source)) }))
    .sort((a, b) => (a.path < b.path ? -1 : a.path > b.path ? 1 : 0));
}

export { GENERATED_DIR };
