import { Chart } from "cdk8s";
import type { Construct } from "constructs";
import type { ResolvedCluster } from "../model/platform.ts";
import { ArgoCdAppProject, type GroupKind } from "./argocd-app-project.ts";
import { ArgoCdApplication } from "./argocd-application.ts";
import { ArgoCdHealthConfig } from "./argocd-health-config.ts";
import { AWS_OBSERVABILITY } from "./fargate-logging.ts";
import { repoPath } from "./apps-chart.ts";
import { PIPELINE_NAMESPACE_PREFIX, PLATFORM_NAMESPACE, PROJECT, ROOT_APP } from "./names.ts";

/** Cluster-scoped kinds the child apps may create: exactly the ones dagops emits. */
export const CLUSTER_KINDS: readonly GroupKind[] = [
  { group: "", kind: "Namespace" },
  { group: "karpenter.sh", kind: "NodePool" },
  { group: "karpenter.k8s.aws", kind: "EC2NodeClass" },
  { group: "scheduling.k8s.io", kind: "PriorityClass" },
];

/** Namespaced kinds the child apps may create. */
export const NAMESPACED_KINDS: readonly GroupKind[] = [
  { group: "", kind: "ConfigMap" },
  { group: "", kind: "ServiceAccount" },
  { group: "batch", kind: "CronJob" },
  { group: "rbac.authorization.k8s.io", kind: "Role" },
  { group: "rbac.authorization.k8s.io", kind: "RoleBinding" },
  { group: "eks.services.k8s.aws", kind: "FargateProfile" },
];

/**
 * Applied once by an admin (`kubectl apply -f generated/<cluster>/bootstrap/`): the root
 * Application, the two AppProjects, and the Application health check. The root app lives in its
 * own project that may create nothing but Applications in the Argo CD namespace; the child apps'
 * project may not touch the Argo CD namespace at all.
 */
export class BootstrapChart extends Chart {
  constructor(scope: Construct, id: string, props: { readonly cluster: ResolvedCluster }) {
    super(scope, id, { disableResourceNameHashes: true });
    const { cluster } = props;
    new ArgoCdAppProject(this, PROJECT.bootstrap, {
      cluster,
      name: PROJECT.bootstrap,
      description: "dagops root app: may only create the child Applications in generated/<cluster>/apps.",
      destinationNamespaces: [cluster.argocd.namespace],
      clusterResources: [],
      namespaceResources: [{ group: "argoproj.io", kind: "Application" }],
    });
    new ArgoCdAppProject(this, PROJECT.apps, {
      cluster,
      name: PROJECT.apps,
      description: "dagops platform and pipelines: only the kinds dagops emits, only in dagops namespaces.",
      destinationNamespaces: [PLATFORM_NAMESPACE, `${PIPELINE_NAMESPACE_PREFIX}*`, ...(cluster.logging ? [AWS_OBSERVABILITY] : [])],
      clusterResources: CLUSTER_KINDS,
      namespaceResources: NAMESPACED_KINDS,
    });
    new ArgoCdApplication(this, ROOT_APP, {
      cluster,
      name: ROOT_APP,
      project: PROJECT.bootstrap,
      path: repoPath(cluster.name, "apps"),
      namespace: cluster.argocd.namespace,
      syncWave: 0,
      serverSideApply: false,
      // Deleting the root app must not cascade into every pipeline and the platform.
      cascadeDelete: false,
    });
    new ArgoCdHealthConfig(this, "argocd-cm", { cluster });
  }
}
