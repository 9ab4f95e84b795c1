import { Construct } from "constructs";
import { KubeObject } from "./kube-object.ts";
import type { IEC2NodeClass } from "@kubernetes-models/karpenter/karpenter.k8s.aws/v1/EC2NodeClass";
import type { ResolvedCluster } from "../model/platform.ts";
import { LABEL, MANAGED_BY } from "../contract/labels.ts";
import { NODE_CLASS } from "../contract/names.ts";

/**
 * How step nodes are launched. Any change here drifts every step node, and Karpenter replaces
 * them (running steps are protected by do-not-disrupt until they finish).
 * https://karpenter.sh/docs/concepts/nodeclasses/
 */
export class Ec2NodeClass extends Construct {
  constructor(scope: Construct, id: string, props: { readonly cluster: ResolvedCluster }) {
    super(scope, id);
    const { cluster } = props;
    const discovery = { "karpenter.sh/discovery": cluster.karpenter.discoveryTag };
    const manifest: IEC2NodeClass = {
      apiVersion: "karpenter.k8s.aws/v1",
      kind: "EC2NodeClass",
      metadata: { name: NODE_CLASS, labels: { [LABEL.managedBy]: MANAGED_BY } },
      spec: {
        role: cluster.karpenter.nodeRole,
        // Pinned: a new AMI reaches the nodes through a reviewed commit, not on Karpenter's schedule.
        amiSelectorTerms: [{ alias: cluster.karpenter.amiAlias }],
        subnetSelectorTerms: [{ tags: discovery }],
        securityGroupSelectorTerms: [{ tags: discovery }],
        // IMDSv2 only, and a hop limit of 1: containers cannot reach the node's instance
        // credentials, so steps get AWS access only through their own IRSA role.
        metadataOptions: {
          httpEndpoint: "enabled",
          httpProtocolIPv6: "disabled",
          httpPutResponseHopLimit: 1,
          httpTokens: "required",
        },
        blockDeviceMappings: [
          {
            deviceName: "/dev/xvda",
            ebs: {
              volumeSize: cluster.karpenter.pools.rootVolumeSize,
              volumeType: "gp3",
              encrypted: true,
              deleteOnTermination: true,
            },
          },
        ],
        tags: { "dagops.dev/cluster": cluster.name, "app.kubernetes.io/managed-by": MANAGED_BY },
      },
    };
    new KubeObject(this, "ec2nodeclass", manifest);
  }
}
