import { Construct } from "constructs";
import type { IServiceAccount } from "kubernetes-models/v1/ServiceAccount";
import { KubeObject } from "./kube-object.ts";
import { ANNOTATION, LABEL, MANAGED_BY } from "../contract/labels.ts";
import { STEPS_SERVICE_ACCOUNT, pipelineNamespace } from "../contract/names.ts";

/**
 * The identity steps run under. With `iamRole`, the EKS pod identity webhook injects web-identity
 * credentials for that role (IRSA); nodes block instance-metadata credentials, so this is the only
 * way a step gets AWS permissions.
 */
export class StepServiceAccount extends Construct {
  constructor(scope: Construct, id: string, props: { readonly pipeline: string; readonly iamRole?: string }) {
    super(scope, id);
    new KubeObject<IServiceAccount>(this, "serviceaccount", {
      apiVersion: "v1",
      kind: "ServiceAccount",
      metadata: {
        name: STEPS_SERVICE_ACCOUNT,
        namespace: pipelineNamespace(props.pipeline),
        labels: { [LABEL.managedBy]: MANAGED_BY, [LABEL.pipeline]: props.pipeline },
        ...(props.iamRole ? { annotations: { [ANNOTATION.irsaRole]: props.iamRole } } : {}),
      },
      automountServiceAccountToken: false,
    });
  }
}
