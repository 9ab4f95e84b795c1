import { Construct } from "constructs";
import type { IConfigMap } from "kubernetes-models/v1/ConfigMap";
import { KubeObject } from "./kube-object.ts";
import type { ResolvedCluster } from "../model/platform.ts";
import { HEALTH_CHECKS } from "./argocd-health-checks.ts";

/**
 * dagops's health checks (`src/charts/argocd-health-checks.ts`): child Applications (so sync waves
 * between them wait), dagops CronJobs (a failed run never fails a sync), ACK FargateProfiles
 * (Healthy only once ACTIVE). One-time admin step; apply with server-side apply so that the
 * other keys of argocd-cm are kept:
 *
 *   kubectl apply --server-side --field-manager=dagops -f generated/<cluster>/bootstrap/configmap-argocd-cm.yaml
 *
 * It is the one object without `app.kubernetes.io/managed-by: dagops`: argocd-cm belongs to the
 * Argo CD installation; dagops only owns these keys.
 *
 * https://argo-cd.readthedocs.io/en/stable/operator-manual/upgrading/1.7-1.8/#health-assessment-of-argoprojioapplication-crd-has-been-removed
 */
export class ArgoCdHealthConfig extends Construct {
  constructor(scope: Construct, id: string, props: { readonly cluster: ResolvedCluster }) {
    super(scope, id);
    new KubeObject<IConfigMap>(this, "argocd-cm", {
      apiVersion: "v1",
      kind: "ConfigMap",
      metadata: {
        name: "argocd-cm",
        namespace: props.cluster.argocd.namespace,
        labels: { "app.kubernetes.io/name": "argocd-cm", "app.kubernetes.io/part-of": "argocd" },
      },
      data: { ...HEALTH_CHECKS },
    });
  }
}
