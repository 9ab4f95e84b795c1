import { Construct } from "constructs";
import { KubeObject } from "./kube-object.ts";
import type { ResolvedCluster } from "../model/platform.ts";
import { LABEL, MANAGED_BY } from "../contract/labels.ts";
import { PLATFORM_NAMESPACE, contentHash } from "../contract/names.ts";
import { canonical } from "../contract/yaml.ts";

export interface FargateSelector {
  /** Namespace, with the `*` and `?` wildcards EKS accepts. */
  readonly namespace: string;
  readonly labels: Record<string, string>;
}

export interface FargateProfileProps {
  readonly cluster: ResolvedCluster;
  /** Stable part of the name and the file name: `run-managers`. */
  readonly role: string;
  readonly selectors: readonly FargateSelector[];
}

/**
 * An EKS Fargate profile, managed through the ACK EKS controller
 * (`eks.services.k8s.aws/v1alpha1`). EKS profiles are immutable, so the name carries a hash of
 * everything in it: a change creates a new profile, and the old one is pruned last. Deleting a
 * profile deletes every pod it scheduled, so selectors are kept stable (a namespace pattern and a
 * role label, never anything per pipeline).
 * https://aws-controllers-k8s.github.io/community/reference/eks/v1alpha1/fargateprofile/
 */
export class FargateProfile extends Construct {
  public readonly profileName: string;

  constructor(scope: Construct, id: string, props: FargateProfileProps) {
    super(scope, id);
    const { cluster } = props;
    const body = canonical({
      clusterName: cluster.eksClusterName,
      podExecutionRoleARN: cluster.fargate.podExecutionRoleArn,
      selectors: props.selectors.map((s) => ({ namespace: s.namespace, labels: { ...s.labels } })),
      subnets: [...cluster.fargate.subnets].sort(),
    });
    this.profileName = `dagops-${props.role}-${contentHash(JSON.stringify(body), 8)}`;
    new KubeObject(
      this,
      "fargateprofile",
      {
        apiVersion: "eks.services.k8s.aws/v1alpha1",
        kind: "FargateProfile",
        metadata: {
          name: this.profileName,
          namespace: PLATFORM_NAMESPACE,
          labels: { [LABEL.managedBy]: MANAGED_BY },
        },
        spec: {
          name: this.profileName,
          ...body,
          tags: { "dagops.dev/cluster": cluster.name, "app.kubernetes.io/managed-by": MANAGED_BY },
        },
      },
      { fileStem: props.role },
    );
  }
}
