import { Construct } from "constructs";
import type { IClusterRole } from "kubernetes-models/rbac.authorization.k8s.io/v1/ClusterRole";
import type { IClusterRoleBinding } from "kubernetes-models/rbac.authorization.k8s.io/v1/ClusterRoleBinding";
import type { IRole } from "kubernetes-models/rbac.authorization.k8s.io/v1/Role";
import type { IRoleBinding } from "kubernetes-models/rbac.authorization.k8s.io/v1/RoleBinding";
import type { IServiceAccount } from "kubernetes-models/v1/ServiceAccount";
import { KubeObject } from "./kube-object.ts";
import { LABEL, MANAGED_BY } from "../contract/labels.ts";
import { RUN_MANAGER, pipelineNamespace } from "../contract/names.ts";

/**
 * The run manager's identity: a ServiceAccount, and a Role in its own pipeline's namespace with
 * exactly what the program (src/kube/kube.ts) calls, no wildcards, no cluster scope:
 * - Jobs: create, get, list, watch and delete its step Jobs; patch annotations on its own Job;
 * - Events: create, to report progress on its own Job;
 * - ConfigMaps: create, get and patch its run's plan copy and run record; list and delete the
 *   pipeline's old run records beyond `history.keep`;
 * - Pods: list and watch its steps' pods, to name a failure early (an image that cannot be
 *   pulled, a missing Secret, no capacity) and to keep a failed container's last log lines;
 * - Secrets: get, only those the pipeline's `notify` rules name (`resourceNames`), for webhook URLs;
 * - Leases: get, create and update the pipeline's Lease (one run at a time, `concurrency`);
 *   `resourceNames` cannot limit `create`, so the rule names no Lease.
 * Cluster scope, in the platform (RUN_MANAGER_NODE_RULES): get on nodes, for the instance type and
 * capacity type of the node each attempt ran on.
 * A test records every request the program makes in its runs and compares it with these rules.
 */
export const RUN_MANAGER_RULES = [
  { apiGroups: ["batch"], resources: ["jobs"], verbs: ["create", "delete", "get", "list", "patch", "watch"] },
  { apiGroups: [""], resources: ["events"], verbs: ["create"] },
  { apiGroups: [""], resources: ["configmaps"], verbs: ["create", "delete", "get", "list", "patch"] },
  { apiGroups: [""], resources: ["pods"], verbs: ["list", "watch"] },
  { apiGroups: ["coordination.k8s.io"], resources: ["leases"], verbs: ["create", "get", "update"] },
] as const;

/** The run managers' only cluster-scoped right: read a node's labels. */
export const RUN_MANAGER_NODE_RULES = [{ apiGroups: [""], resources: ["nodes"], verbs: ["get"] }] as const;
export const RUN_MANAGER_NODE_READER = "dagops-run-manager-node-reader";

/** The ClusterRole every pipeline's run manager is bound to (in the platform app). */
export class RunManagerNodeReader extends Construct {
  constructor(scope: Construct, id: string) {
    super(scope, id);
    const metadata = { name: RUN_MANAGER_NODE_READER, labels: { [LABEL.managedBy]: MANAGED_BY } };
    new KubeObject<IClusterRole>(this, "clusterrole", {
      apiVersion: "rbac.authorization.k8s.io/v1",
      kind: "ClusterRole",
      metadata,
      rules: RUN_MANAGER_NODE_RULES.map((r) => ({
        apiGroups: [...r.apiGroups],
        resources: [...r.resources],
        verbs: [...r.verbs],
      })),
    });
  }
}

/**
 * One pipeline's run manager bound to the node reader: a binding per pipeline, not one listing
 * them all, so that two pull requests adding two pipelines never edit the same file.
 */
export class RunManagerNodeReaderBinding extends Construct {
  constructor(scope: Construct, id: string, props: { readonly pipeline: string }) {
    super(scope, id);
    new KubeObject<IClusterRoleBinding>(this, "clusterrolebinding", {
      apiVersion: "rbac.authorization.k8s.io/v1",
      kind: "ClusterRoleBinding",
      metadata: {
        name: `${RUN_MANAGER_NODE_READER}-${props.pipeline}`,
        labels: { [LABEL.managedBy]: MANAGED_BY, [LABEL.pipeline]: props.pipeline },
      },
      roleRef: { apiGroup: "rbac.authorization.k8s.io", kind: "ClusterRole", name: RUN_MANAGER_NODE_READER },
      subjects: [{ kind: "ServiceAccount", name: RUN_MANAGER, namespace: pipelineNamespace(props.pipeline) }],
    });
  }
}

export interface PolicyRule {
  readonly apiGroups: readonly string[];
  readonly resources: readonly string[];
  readonly verbs: readonly string[];
  readonly resourceNames?: readonly string[];
}

/** The Role's rules: RUN_MANAGER_RULES, plus `get` on exactly the Secrets the pipeline's alerts read. */
export function runManagerRules(secrets: readonly string[]): PolicyRule[] {
  const names = [...new Set(secrets)].sort();
  return [
    ...RUN_MANAGER_RULES,
    ...(names.length ? [{ apiGroups: [""], resources: ["secrets"], verbs: ["get"], resourceNames: names }] : []),
  ];
}

export class RunManagerRbac extends Construct {
  constructor(
    scope: Construct,
    id: string,
    props: { readonly pipeline: string; readonly secrets?: readonly string[] },
  ) {
    super(scope, id);
    const namespace = pipelineNamespace(props.pipeline);
    const metadata = {
      name: RUN_MANAGER,
      namespace,
      labels: { [LABEL.managedBy]: MANAGED_BY, [LABEL.pipeline]: props.pipeline },
    };
    new KubeObject<IServiceAccount>(this, "serviceaccount", {
      apiVersion: "v1",
      kind: "ServiceAccount",
      metadata,
      automountServiceAccountToken: true,
    });
    const rules = runManagerRules(props.secrets ?? []).map((r) => ({
      apiGroups: [...r.apiGroups],
      resources: [...r.resources],
      verbs: [...r.verbs],
      ...(r.resourceNames ? { resourceNames: [...r.resourceNames] } : {}),
    }));
    new KubeObject<IRole>(this, "role", { apiVersion: "rbac.authorization.k8s.io/v1", kind: "Role", metadata, rules });
    new KubeObject<IRoleBinding>(this, "rolebinding", {
      apiVersion: "rbac.authorization.k8s.io/v1",
      kind: "RoleBinding",
      metadata,
      roleRef: { apiGroup: "rbac.authorization.k8s.io", kind: "Role", name: RUN_MANAGER },
      subjects: [{ kind: "ServiceAccount", name: RUN_MANAGER, namespace }],
    });
  }
}
