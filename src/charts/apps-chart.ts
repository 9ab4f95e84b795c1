import { Chart } from "cdk8s";
import type { Construct } from "constructs";
import type { ResolvedCluster } from "../model/platform.ts";
import { ArgoCdApplication } from "./argocd-application.ts";
import { PLATFORM_APP, PLATFORM_NAMESPACE, PROJECT, pipelineApp, pipelineNamespace } from "../contract/names.ts";

import { GENERATED_DIR } from "../model/files.ts";

/** Repository path of a cluster folder, as Argo CD sees it. */
export function repoPath(cluster: string, ...rest: string[]): string {
  return [GENERATED_DIR, cluster, ...rest].join("/");
}

/** Sync waves: the platform first, then every pipeline. */
export const SYNC_WAVE = { platform: 0, pipelines: 10 } as const;

/**
 * The child Applications the root app syncs: `generated/<cluster>/apps/`. The platform's
 * (`platform: true`) with the platform, each pipeline's with the pipeline.
 */
export class AppsChart extends Chart {
  constructor(
    scope: Construct,
    id: string,
    props: { readonly cluster: ResolvedCluster; readonly platform: boolean; readonly pipelines: readonly string[] },
  ) {
    super(scope, id, { disableResourceNameHashes: true });
    const { cluster } = props;
    if (props.platform)
      new ArgoCdApplication(this, PLATFORM_APP, {
        cluster,
        name: PLATFORM_APP,
        project: PROJECT.platform,
        path: repoPath(cluster.name, "platform"),
        namespace: PLATFORM_NAMESPACE,
        syncWave: SYNC_WAVE.platform,
        serverSideApply: false,
        cascadeDelete: true,
      });
    for (const p of props.pipelines) {
      new ArgoCdApplication(this, pipelineApp(p), {
        cluster,
        name: pipelineApp(p),
        project: PROJECT.apps,
        path: repoPath(cluster.name, "pipelines", p),
        namespace: pipelineNamespace(p),
        syncWave: SYNC_WAVE.pipelines,
        // A plan ConfigMap with ~100 steps outgrows the 256 KiB last-applied annotation of client-side apply.
        serverSideApply: true,
        cascadeDelete: true,
        pipeline: p,
      });
    }
  }
}
