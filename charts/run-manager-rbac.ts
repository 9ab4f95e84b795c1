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
 *   pipeline's old run records beyond `history.keep`.
 * A test records every request the program makes in its runs and compares it with these rules.
 */
export const RUN_MANAGER_RULES = [
  { apiGroups: ["batch"], resources: ["jobs"], verbs: ["create", "delete", "get", "list", "patch", "watch"] },
  { apiGroups: [""], resources: ["events"], verbs: ["create"] },
  { apiGroups: [""], resources: ["configmaps"], verbs: ["create", "delete", "get", "list", "patch"] },
] as const;

export class RunManagerRbac extends Construct {
  constructor(scope: Construct, id: string, props: { readonly pipeline: string }) {
    super(scope, id);
    const namespace = pipelineNamespace(props.pipeline);
    const metadata = { name: RUN_MANAGER, namespace, labels: { [LABEL.managedBy]: MANAGED_BY, [LABEL.pipeline]: props.pipeline } };
    new k8s.KubeServiceAccount(this, "serviceaccount", { metadata, automountServiceAccountToken: true });
    new k8s.KubeRole(this, "role", { metadata, rules: RUN_MANAGER_RULES.map((r) => ({ apiGroups: [...r.apiGroups], resources: [...r.resources], verbs: [...r.verbs] })) });
    new k8s.KubeRoleBinding(this, "rolebinding", {
      metadata,
      roleRef: { apiGroup: "rbac.authorization.k8s.io", kind: "Role", name: RUN_MANAGER },
      subjects: [{ kind: "ServiceAccount", name: RUN_MANAGER, namespace }],
    });
  }
}
