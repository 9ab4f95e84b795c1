import { Construct } from "constructs";
import { k8s } from "cdk8s-plus-27";
import type { ResolvedCluster } from "../model/platform.ts";

/**
 * The `argoproj.io/Application` health check that Argo CD removed in 1.8. Without it a parent
 * app sees its child Applications as healthy the moment they exist, so sync waves between them
 * (platform before pipelines) do not wait. One-time admin step; apply with server-side apply so
 * that the other keys of argocd-cm are kept:
 *
 *   kubectl apply --server-side --field-manager=dagops -f generated/<cluster>/bootstrap/configmap-argocd-cm.yaml
 *
 * It is the one object without `app.kubernetes.io/managed-by: dagops`: argocd-cm belongs to the
 * Argo CD installation; dagops only owns this one key.
 *
 * https://argo-cd.readthedocs.io/en/stable/operator-manual/upgrading/1.7-1.8/#health-assessment-of-argoprojioapplication-crd-has-been-removed
 */
export const APPLICATION_HEALTH_LUA = `hs = {}
hs.status = "Progressing"
hs.message = ""
if obj.status ~= nil then
  if obj.status.health ~= nil then
    hs.status = obj.status.health.status
    if obj.status.health.message ~= nil then
      hs.message = obj.status.health.message
    end
  end
end
return hs
`;

export class ArgoCdHealthConfig extends Construct {
  constructor(scope: Construct, id: string, props: { readonly cluster: ResolvedCluster }) {
    super(scope, id);
    new k8s.KubeConfigMap(this, "argocd-cm", {
      metadata: {
        name: "argocd-cm",
        namespace: props.cluster.argocd.namespace,
        labels: { "app.kubernetes.io/name": "argocd-cm", "app.kubernetes.io/part-of": "argocd" },
      },
      data: { "resource.customizations.health.argoproj.io_Application": APPLICATION_HEALTH_LUA },
    });
  }
}
