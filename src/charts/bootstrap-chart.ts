import { Chart } from "cdk8s";
import type { Construct } from "constructs";
import type { ResolvedCluster } from "../model/platform.ts";
import { ArgoCdAppProject, type GroupKind } from "./argocd-app-project.ts";
import { ArgoCdApplication } from "./argocd-application.ts";
import { ArgoCdHealthConfig } from "./argocd-health-config.ts";
import { AWS_OBSERVABILITY } from "./fargate-logging.ts";
import { repoPath } from "./apps-chart.ts";
import { PIPELINE_NAMESPACE_PREFIX, PLATFORM_NAMESPACE, PROJECT, ROOT_APP } from "../contract/names.ts";

/** Cluster-scoped kinds the platform app may create: exactly the ones it emits. */
export const PLATFORM_CLUSTER_KINDS: readonly GroupKind[] = [
  { group: "", kind: "Namespace" },
  { group: "karpenter.sh", kind: "NodePool" },
  { group: "karpenter.k8s.aws", kind: "EC2NodeClass" },
  { group: "scheduling.k8s.io", kind: "PriorityClass" },
  // The run managers' read-only access to nodes (instance type and capacity type in run records).
  { group: "rbac.authorization.k8s.io", kind: "ClusterRole" },
  { group: "rbac.authorization.k8s.io", kind: "ClusterRoleBinding" },
];

/** Namespaced kinds the platform app may create. */
export const PLATFORM_NAMESPACED_KINDS: readonly GroupKind[] = [
  { group: "", kind: "ConfigMap" },
  { group: "eks.services.k8s.aws", kind: "FargateProfile" },
];

/** Namespaced kinds the pipeline apps may create; they may create nothing cluster-scoped. */
export const PIPELINE_NAMESPACED_KINDS: readonly GroupKind[] = [
  { group: "", kind: "ConfigMap" },
  { group: "", kind: "ServiceAccount" },
  { group: "batch", kind: "CronJob" },
  { group: "rbac.authorization.k8s.io", kind: "Role" },
  { group: "rbac.authorization.k8s.io", kind: "RoleBinding" },
];

/**
 * Applied once by an admin (`kubectl apply -f generated/<cluster>/bootstrap/`): the root
 * Application, three AppProjects, and the health checks. The root app lives in its own project
 * that may create nothing but Applications in the Argo CD namespace. The platform app's project
 * holds every cluster-scoped kind (namespaces, node pools, the run managers' node reader); the
 * pipeline apps' project may create nothing cluster-scoped, so no pipeline folder can grant
 * itself cluster rights. Neither may touch the Argo CD namespace.
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
    new ArgoCdAppProject(this, PROJECT.platform, {
      cluster,
      name: PROJECT.platform,
      description:
        "dagops platform: namespaces, node pools, Fargate profiles, log routing; only the kinds dagops emits.",
      destinationNamespaces: [PLATFORM_NAMESPACE, ...(cluster.logging ? [AWS_OBSERVABILITY] : [])],
      clusterResources: PLATFORM_CLUSTER_KINDS,
      namespaceResources: PLATFORM_NAMESPACED_KINDS,
    });
    new ArgoCdAppProject(this, PROJECT.apps, {
      cluster,
      name: PROJECT.apps,
      description:
        "dagops pipelines: only the kinds dagops emits, only in pipeline namespaces, nothing cluster-scoped.",
      destinationNamespaces: [`${PIPELINE_NAMESPACE_PREFIX}*`],
      clusterResources: [],
      namespaceResources: PIPELINE_NAMESPACED_KINDS,
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
