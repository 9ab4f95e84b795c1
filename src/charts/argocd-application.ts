import { Construct } from "constructs";
import { KubeObject } from "./kube-object.ts";
import type { IApplication } from "@kubernetes-models/argo-cd/argoproj.io/v1alpha1/Application";
import type { ResolvedCluster } from "../model/platform.ts";
import { ANNOTATION, LABEL, MANAGED_BY } from "../contract/labels.ts";

export interface ArgoCdApplicationProps {
  readonly cluster: ResolvedCluster;
  readonly name: string;
  readonly project: string;
  /** Repository path Argo CD reads: `generated/prod/platform`. */
  readonly path: string;
  /** Namespace for objects without one. */
  readonly namespace: string;
  /** Lower waves sync (and, with the Application health check, become healthy) first. */
  readonly syncWave: number;
  /** Server-side apply: needed where an object can outgrow the 256 KiB last-applied annotation. */
  readonly serverSideApply: boolean;
  /** Delete the app's objects when the Application is deleted (child apps: yes; the root: no). */
  readonly cascadeDelete: boolean;
  readonly pipeline?: string;
}

/**
 * An Argo CD Application syncing one folder of `generated/`: automated, with prune and
 * self-heal; pruning happens last, after every other object of the sync is healthy.
 * https://argo-cd.readthedocs.io/en/stable/user-guide/auto_sync/
 */
export class ArgoCdApplication extends Construct {
  constructor(scope: Construct, id: string, props: ArgoCdApplicationProps) {
    super(scope, id);
    const { cluster } = props;
    const manifest: IApplication = {
      apiVersion: "argoproj.io/v1alpha1",
      kind: "Application",
      metadata: {
        name: props.name,
        namespace: cluster.argocd.namespace,
        labels: { [LABEL.managedBy]: MANAGED_BY, ...(props.pipeline ? { [LABEL.pipeline]: props.pipeline } : {}) },
        annotations: {
          [ANNOTATION.syncWave]: String(props.syncWave),
          // Monorepo scaling: a commit makes Argo CD regenerate this app's manifests only when it
          // touches the app's own folder (with the repository webhook; see docs/gitops.md).
          [ANNOTATION.manifestGeneratePaths]: ".",
        },
        ...(props.cascadeDelete ? { finalizers: ["resources-finalizer.argocd.argoproj.io"] } : {}),
      },
      spec: {
        project: props.project,
        source: {
          repoURL: cluster.argocd.repoURL,
          targetRevision: cluster.argocd.targetRevision,
          path: props.path,
          directory: { recurse: false },
        },
        destination: { server: cluster.argocd.destinationServer, namespace: props.namespace },
        syncPolicy: {
          automated: { prune: true, selfHeal: true },
          syncOptions: [
            "PruneLast=true",
            "FailOnSharedResource=true",
            ...(props.serverSideApply ? ["ServerSideApply=true"] : []),
          ],
          retry: { limit: 5, backoff: { duration: "10s", factor: 2, maxDuration: "5m" } },
        },
      },
    };
    new KubeObject(this, "application", manifest);
  }
}
