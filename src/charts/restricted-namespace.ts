import { Construct } from "constructs";
import type { INamespace } from "kubernetes-models/v1/Namespace";
import { KubeObject } from "./kube-object.ts";
import { LABEL, MANAGED_BY } from "../contract/labels.ts";

/**
 * A namespace with Pod Security "restricted" enforced: the API server itself refuses any pod that
 * does not meet it, whatever created the pod.
 * https://kubernetes.io/docs/concepts/security/pod-security-admission/
 */
export class RestrictedNamespace extends Construct {
  constructor(scope: Construct, id: string, props: { readonly name: string; readonly pipeline?: string }) {
    super(scope, id);
    new KubeObject<INamespace>(this, "namespace", {
      apiVersion: "v1",
      kind: "Namespace",
      metadata: {
        name: props.name,
        labels: {
          [LABEL.managedBy]: MANAGED_BY,
          ...(props.pipeline ? { [LABEL.pipeline]: props.pipeline } : {}),
          [LABEL.podSecurityEnforce]: "restricted",
          [LABEL.podSecurityEnforceVersion]: "latest",
          [LABEL.podSecurityWarn]: "restricted",
          [LABEL.podSecurityAudit]: "restricted",
        },
      },
    });
  }
}
