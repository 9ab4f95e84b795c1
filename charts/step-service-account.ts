import { Construct } from "constructs";
import { k8s } from "cdk8s-plus-27";
import { ANNOTATION, LABEL, MANAGED_BY } from "./labels.ts";
import { STEPS_SERVICE_ACCOUNT, pipelineNamespace } from "./names.ts";

/**
 * The identity steps run under. With `iamRole`, the EKS pod identity webhook injects web-identity
 * credentials for that role (IRSA); nodes block instance-metadata credentials, so this is the only
 * way a step gets AWS permissions.
 */
export class StepServiceAccount extends Construct {
  constructor(scope: Construct, id: string, props: { readonly pipeline: string; readonly iamRole?: string }) {
    super(scope, id);
    new k8s.KubeServiceAccount(this, "serviceaccount", {
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
