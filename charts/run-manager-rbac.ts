import { Construct } from "constructs";
import { k8s } from "cdk8s-plus-27";
import { LABEL, MANAGED_BY } from "./labels.ts";
import { RUN_MANAGER, pipelineNamespace } from "./names.ts";

/**
 * The run manager's identity: a ServiceAccount, and a Role in its own pipeline's namespace with
 * exactly what the program (runner/kube.ts) calls, no wildcards, no cluster scope:
 * - Jobs: create, get, list, watch and delete its step Jobs; patch annotations on its own Job;
 * - Events: create, to report progress on its own Job;
 * - ConfigMaps: create, get and patch its run's plan copy and run record; list and delete the
 *   pipeline's old run records beyond `history.keep`;
 * - Pods: list and watch its steps' pods, to name a failure early (an image that cannot be
 *   pulled, a missing Secret, no capacity) and to keep a failed container's last log lines;
 * - Secrets: get, only those the pipeline's `notify` rules name (`resourceNames`), for webhook URLs.
 * A test records every request the program makes in its runs and compares it with these rules.
 */
export const RUN_MANAGER_RULES = [
  { apiGroups: ["batch"], resources: ["jobs"], verbs: ["create", "delete", "get", "list", "patch", "watch"] },
  { apiGroups: [""], resources: ["events"], verbs: ["create"] },
  { apiGroups: [""], resources: ["configmaps"], verbs: ["create", "delete", "get", "list", "patch"] },
  { apiGroups: [""], resources: ["pods"], verbs: ["list", "watch"] },
] as const;

export interface PolicyRule {
  readonly apiGroups: readonly string[];
  readonly resources: readonly string[];
  readonly verbs: readonly string[];
  readonly resourceNames?: readonly string[];
}

/** The Role's rules: RUN_MANAGER_RULES, plus `get` on exactly the Secrets the pipeline's alerts read. */
export function runManagerRules(secrets: readonly string[]): PolicyRule[] {
  const names = [...new Set(secrets)].sort();
  return [...RUN_MANAGER_RULES, ...(names.length ? [{ apiGroups: [""], resources: ["secrets"], verbs: ["get"], resourceNames: names }] : [])];
}

export class RunManagerRbac extends Construct {
  constructor(scope: Construct, id: string, props: { readonly pipeline: string; readonly secrets?: readonly string[] }) {
    super(scope, id);
    const namespace = pipelineNamespace(props.pipeline);
    const metadata = { name: RUN_MANAGER, namespace, labels: { [LABEL.managedBy]: MANAGED_BY, [LABEL.pipeline]: props.pipeline } };
    new k8s.KubeServiceAccount(this, "serviceaccount", { metadata, automountServiceAccountToken: true });
    const rules = runManagerRules(props.secrets ?? []).map((r) => ({ apiGroups: [...r.apiGroups], resources: [...r.resources], verbs: [...r.verbs], ...(r.resourceNames ? { resourceNames: [...r.resourceNames] } : {}) }));
    new k8s.KubeRole(this, "role", { metadata, rules });
    new k8s.KubeRoleBinding(this, "rolebinding", {
      metadata,
      roleRef: { apiGroup: "rbac.authorization.k8s.io", kind: "Role", name: RUN_MANAGER },
      subjects: [{ kind: "ServiceAccount", name: RUN_MANAGER, namespace }],
    });
  }
}
