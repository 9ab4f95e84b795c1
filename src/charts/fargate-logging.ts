import { Construct } from "constructs";
import type { IConfigMap } from "kubernetes-models/v1/ConfigMap";
import type { INamespace } from "kubernetes-models/v1/Namespace";
import { KubeObject } from "./kube-object.ts";
import type { ResolvedCluster } from "../model/platform.ts";
import { LABEL, MANAGED_BY } from "../contract/labels.ts";

/** The namespace name and label EKS looks for; neither can be chosen. */
export const AWS_OBSERVABILITY = "aws-observability";

/**
 * Fargate's built-in log router (Fluent Bit, run by EKS beside every Fargate pod) ships
 * run-manager logs to CloudWatch Logs: the only log path a Fargate pod has, as no DaemonSet runs
 * there. EKS reads the `aws-logging` ConfigMap in the `aws-observability` namespace, labelled
 * `aws-observability: enabled`. The Fargate pod execution role needs `logs:CreateLogStream`,
 * `logs:CreateLogGroup`, `logs:DescribeLogStreams` and `logs:PutLogEvents` (docs/run-manager.md, "Logs").
 * JSON log lines are merged into the event, so the run manager's Embedded Metric Format lines
 * become metrics.
 * https://docs.aws.amazon.com/eks/latest/userguide/fargate-logging.html
 */
export class FargateLogging extends Construct {
  constructor(scope: Construct, id: string, props: { readonly cluster: ResolvedCluster; readonly logGroup: string }) {
    super(scope, id);
    const labels = { [LABEL.managedBy]: MANAGED_BY };
    new KubeObject<INamespace>(this, "namespace", {
      apiVersion: "v1",
      kind: "Namespace",
      metadata: {
        name: AWS_OBSERVABILITY,
        labels: {
          ...labels,
          [AWS_OBSERVABILITY]: "enabled",
          // Nothing runs here: restricted costs nothing and keeps it so.
          [LABEL.podSecurityEnforce]: "restricted",
          [LABEL.podSecurityEnforceVersion]: "latest",
        },
      },
    });
    new KubeObject<IConfigMap>(this, "aws-logging", {
      apiVersion: "v1",
      kind: "ConfigMap",
      metadata: { name: "aws-logging", namespace: AWS_OBSERVABILITY, labels },
      data: {
        // Fluent Bit's own logs stay out of the group.
        flb_log_cw: "false",
        "filters.conf": [
          "[FILTER]",
          "    Name kubernetes",
          "    Match kube.*",
          "    Merge_Log On",
          "    Keep_Log Off",
          "    Buffer_Size 0",
          "    Kube_Meta_Cache_TTL 300s",
          "",
        ].join("\n"),
        "output.conf": [
          "[OUTPUT]",
          "    Name cloudwatch_logs",
          "    Match kube.*",
          `    region ${props.cluster.aws.region}`,
          `    log_group_name ${props.logGroup}`,
          "    log_stream_prefix run-manager-",
          "    auto_create_group true",
          "",
        ].join("\n"),
      },
    });
  }
}
