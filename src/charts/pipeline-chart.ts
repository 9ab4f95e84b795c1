import { Chart } from "cdk8s";
import type { Construct } from "constructs";
import type { ResolvedCluster } from "../model/platform.ts";
import type { ResolvedPipeline } from "../model/resolve.ts";
import type { PlanDocument } from "./plan.ts";
import { PlanConfigMap } from "./plan-config-map.ts";
import { RunManagerCronJob } from "./run-manager-cron-job.ts";
import { RunManagerRbac } from "./run-manager-rbac.ts";
import { StepServiceAccount } from "./step-service-account.ts";

/** Everything one pipeline needs in one cluster: `generated/<cluster>/pipelines/<name>/`. */
export class PipelineChart extends Chart {
  constructor(
    scope: Construct,
    id: string,
    props: { readonly pipeline: ResolvedPipeline; readonly cluster: ResolvedCluster; readonly plan: PlanDocument },
  ) {
    super(scope, id, { disableResourceNameHashes: true });
    const { pipeline, cluster } = props;
    const plan = new PlanConfigMap(this, "plan", { document: props.plan });
    new RunManagerCronJob(this, "run-manager", { pipeline, cluster, planConfigMap: plan.name });
    new RunManagerRbac(this, "rbac", {
      pipeline: pipeline.name,
      secrets: pipeline.notify.map((n) => n.webhook.secretKeyRef.name),
    });
    new StepServiceAccount(this, "steps", {
      pipeline: pipeline.name,
      ...(pipeline.iamRole ? { iamRole: pipeline.iamRole } : {}),
    });
  }
}
