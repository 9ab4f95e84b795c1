/**
 * render(clusters, pipelines) → files. Pure: no file system, no clock, no environment. Each
 * chart gets its own cdk8s App (one App with thousands of charts synthesizes in quadratic time).
 */
import { ApiObject, App, type Chart } from "cdk8s";
import { AppsChart } from "../charts/apps-chart.ts";
import { BootstrapChart } from "../charts/bootstrap-chart.ts";
import { PipelineChart } from "../charts/pipeline-chart.ts";
import type { Plan } from "../contract/plan-format.ts";
import { planDocument, type PlanDocument } from "../charts/plan.ts";
import { PlanObject } from "../charts/plan-config-map.ts";
import { KubeObject, type ManifestShape } from "../charts/kube-object.ts";
import { PipelinePlatformChart, PlatformChart } from "../charts/platform-chart.ts";
import { toYaml } from "../contract/yaml.ts";
import { PLATFORM_FILE } from "../model/files.ts";
import type { ResolvedCluster } from "../model/platform.ts";
import { forCluster, type ResolvedPipeline } from "../model/resolve.ts";
import { getOrSet } from "../contract/order.ts";

export interface Manifest {
  readonly apiVersion: string;
  readonly kind: string;
  readonly metadata: {
    readonly name: string;
    readonly namespace?: string;
    readonly labels?: Record<string, string>;
    readonly annotations?: Record<string, string>;
  };
  readonly [key: string]: unknown;
}

export interface RenderedObject {
  readonly cluster: string;
  /** Path under `generated/`: `prod/pipelines/nightly-etl/cronjob-nightly-etl.yaml`. */
  readonly path: string;
  /** The definition file the object comes from. */
  readonly source: string;
  /** The pipeline whose object it is; none for a cluster's own objects. */
  readonly pipeline?: string;
  readonly manifest: Manifest;
  /** For plan ConfigMaps: the plan the `plan.yaml` text was written from. */
  readonly plan?: Plan;
}

export interface OutputFile {
  readonly path: string;
  readonly content: string;
}

/** Every object of these clusters and pipelines. */
export function render(clusters: readonly ResolvedCluster[], pipelines: readonly ResolvedPipeline[]): RenderedObject[] {
  return [...renderShared(clusters), ...renderPipelines(clusters, pipelines)];
}

/**
 * The files of each cluster that no pipeline owns: bootstrap/, the platform's Application, and
 * platform/ without the pipelines' namespaces and bindings. They depend on the platform
 * configuration alone, so adding or changing a pipeline never touches them.
 */
export function renderShared(clusters: readonly ResolvedCluster[]): RenderedObject[] {
  const objects: RenderedObject[] = [];
  for (const cluster of clusters) {
    const add = chartAdder(objects, cluster);
    add("bootstrap", PLATFORM_FILE, (app) => new BootstrapChart(app, "bootstrap", { cluster }));
    add("apps", PLATFORM_FILE, (app) => new AppsChart(app, "apps", { cluster, platform: true, pipelines: [] }));
    add("platform", PLATFORM_FILE, (app) => new PlatformChart(app, "platform", { cluster }));
  }
  return objects;
}

/**
 * Each pipeline's files in each of its clusters: its folder (pipelines/<name>/, its namespace's
 * objects), its Application (apps/) and its part of the platform (its Namespace and binding).
 */
export function renderPipelines(
  clusters: readonly ResolvedCluster[],
  pipelines: readonly ResolvedPipeline[],
): RenderedObject[] {
  const objects: RenderedObject[] = [];
  // A plan depends on the cluster only through overrides: build, serialize and hash it once per variant.
  // Only prewarm plans depend on the cluster's placeholder image.
  const plans = new Map<ResolvedPipeline, Map<string, PlanDocument>>();
  const planFor = (p: ResolvedPipeline, cluster: ResolvedCluster) => {
    const image = p.prewarm ? cluster.placeholderImage : "";
    const byImage = getOrSet(plans, p, () => new Map());
    return getOrSet(byImage, image, () => planDocument(p, cluster.placeholderImage));
  };
  for (const cluster of clusters) {
    const add = chartAdder(objects, cluster);
    for (const p of pipelines) {
      if (!p.clusters.includes(cluster.name)) continue;
      // A cluster with overrides gets its own variant (and plan); the others share the pipeline's.
      const pipeline = forCluster(p, cluster.name);
      // The pipeline's three charts share one App (an App costs as much as a small chart).
      const app = new App();
      add(
        `pipelines/${p.name}`,
        p.source,
        () => new PipelineChart(app, p.name, { pipeline, cluster, plan: planFor(pipeline, cluster) }),
        p.name,
      );
      add(
        "apps",
        p.source,
        () => new AppsChart(app, "apps", { cluster, platform: false, pipelines: [p.name] }),
        p.name,
      );
      add("platform", p.source, () => new PipelinePlatformChart(app, "platform", { pipeline: p.name }), p.name);
    }
  }
  return objects;
}

function chartAdder(objects: RenderedObject[], cluster: ResolvedCluster) {
  return (area: string, source: string, build: (app: App) => Chart, pipeline?: string) => {
    for (const { manifest, fileName, plan } of synth(build(new App()))) {
      objects.push({
        cluster: cluster.name,
        path: `${cluster.name}/${area}/${fileName}`,
        source,
        ...(pipeline ? { pipeline } : {}),
        manifest,
        ...(plan ? { plan } : {}),
      });
    }
  };
}

function synth(chart: Chart): { manifest: Manifest; fileName: string; plan?: Plan }[] {
  return chart.node
    .findAll()
    .filter((c): c is KubeObject<ManifestShape> => {
      if (c instanceof KubeObject) return true;
      if (c instanceof ApiObject)
        throw new Error(`${c.node.path}: every object a chart makes is a KubeObject (charts/kube-object.ts)`);
      return false;
    })
    .map((o) => {
      const manifest = o.toJson() as Manifest;
      const base = o.fileStem ?? manifest.metadata.name;
      const plan = o instanceof PlanObject ? (o as PlanObject).plan : undefined;
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
