import { Construct } from "constructs";
import type { IConfigMap } from "kubernetes-models/v1/ConfigMap";
import { KubeObject } from "./kube-object.ts";
import { ANNOTATION, LABEL, MANAGED_BY } from "../contract/labels.ts";
import { PLAN_KEY } from "../contract/names.ts";
import type { Plan } from "../contract/plan-format.ts";
import type { PlanDocument } from "./plan.ts";

/** The plan ConfigMap's object, with the plan it was built from, so checks need not parse the YAML back. */
export class PlanObject extends KubeObject<IConfigMap> {
  constructor(
    scope: Construct,
    id: string,
    manifest: IConfigMap,
    readonly plan: Plan,
  ) {
    super(scope, id, manifest, { fileStem: "plan" });
  }
}

export interface PlanConfigMapProps {
  readonly document: PlanDocument;
}

/**
 * The immutable plan ConfigMap. Its name carries a hash of the plan, so a change creates a new
 * object (immutable ConfigMaps cannot be edited) and the CronJob that mounts it by name moves to
 * the new revision in the same sync; the old one is pruned last. Its file path never changes, so
 * a pull request shows a normal diff.
 */
export class PlanConfigMap extends Construct {
  public readonly name: string;
  public readonly apiObject: PlanObject;

  constructor(scope: Construct, id: string, props: PlanConfigMapProps) {
    super(scope, id);
    const { plan, text, hash } = props.document;
    this.name = `${plan.pipeline}-plan-${hash}`;
    this.apiObject = new PlanObject(
      this,
      "plan",
      {
        apiVersion: "v1",
        kind: "ConfigMap",
        metadata: {
          name: this.name,
          namespace: plan.namespace,
          labels: { [LABEL.managedBy]: MANAGED_BY, [LABEL.pipeline]: plan.pipeline },
          annotations: { [ANNOTATION.source]: plan.source },
        },
        immutable: true,
        data: { [PLAN_KEY]: text },
      },
      plan,
    );
  }
}
