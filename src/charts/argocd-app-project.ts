import { Construct } from "constructs";
import { KubeObject } from "./kube-object.ts";
import type { IAppProject } from "@kubernetes-models/argo-cd/argoproj.io/v1alpha1/AppProject";
import type { ResolvedCluster } from "../model/platform.ts";
import { LABEL, MANAGED_BY } from "../contract/labels.ts";

export interface GroupKind {
  readonly group: string;
  readonly kind: string;
}

export interface ArgoCdAppProjectProps {
  readonly cluster: ResolvedCluster;
  readonly name: string;
  readonly description: string;
  readonly destinationNamespaces: readonly string[];
  readonly clusterResources: readonly GroupKind[];
  readonly namespaceResources: readonly GroupKind[];
}

/**
 * A least-privilege AppProject: this repository only, these namespaces only, and an allow-list of
 * exactly the kinds dagops emits. Anything else in a synced folder fails the sync instead of
 * reaching the cluster.
 * https://argo-cd.readthedocs.io/en/stable/user-guide/projects/
 */
export class ArgoCdAppProject extends Construct {
  constructor(scope: Construct, id: string, props: ArgoCdAppProjectProps) {
    super(scope, id);
    const { cluster } = props;
    const sortKinds = (list: readonly GroupKind[]) =>
      [...list]
        .sort((a, b) => `${a.group}/${a.kind}`.localeCompare(`${b.group}/${b.kind}`, "en"))
        .map((g) => ({ ...g }));
    const manifest: IAppProject = {
      apiVersion: "argoproj.io/v1alpha1",
      kind: "AppProject",
      metadata: { name: props.name, namespace: cluster.argocd.namespace, labels: { [LABEL.managedBy]: MANAGED_BY } },
      spec: {
        description: props.description,
        sourceRepos: [cluster.argocd.repoURL],
        destinations: props.destinationNamespaces.map((namespace) => ({
          server: cluster.argocd.destinationServer,
          namespace,
        })),
        clusterResourceWhitelist: sortKinds(props.clusterResources),
        namespaceResourceWhitelist: sortKinds(props.namespaceResources),
        // Orphans are reported, so a hand-made object in a dagops namespace shows up in the UI.
        orphanedResources: { warn: true },
      },
    };
    new KubeObject(this, "appproject", manifest);
  }
}
