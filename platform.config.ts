/**
 * Platform configuration: the clusters dagops generates for. Pipelines choose a subset with
 * `clusters:`; by default they go to every cluster here. Karpenter pool settings default to the
 * values in `src/model/platform.ts` (POOL_DEFAULTS), each with its reason.
 */
import { definePlatform } from "#dagops/platform";

const repoURL = "https://github.com/example-org/data-platform-gitops.git";
const runManagerImage = "111122223333.dkr.ecr.us-east-1.amazonaws.com/dagops-run-manager:0.1.0";

export default definePlatform({
  clusters: [
    {
      name: "staging",
      eksClusterName: "data-staging",
      argocd: { repoURL, targetRevision: "main" },
      aws: { region: "us-east-1", accountId: "111122223333" },
      karpenter: {
        discoveryTag: "data-staging",
        nodeRole: "KarpenterNodeRole-data-staging",
        amiAlias: "al2023@v20251120",
        // Staging is small: cap it so a runaway pipeline cannot buy a fleet.
        pools: { limits: { cpu: "200", memory: "800Gi" } },
      },
      fargate: {
        podExecutionRoleArn: "arn:aws:iam::111122223333:role/data-staging-fargate-pod-execution",
        subnets: ["subnet-0a1b2c3d4e5f60718", "subnet-0b1c2d3e4f5a60718"],
      },
      // Steps keep data between them under s3://…/<pipeline>/<run>/ (docs/operating.md, "Data between steps").
      artifacts: "s3://example-data-staging-artifacts/dagops",
      runManager: { image: runManagerImage },
    },
    {
      name: "prod",
      eksClusterName: "data-prod",
      argocd: { repoURL, targetRevision: "main" },
      aws: { region: "us-east-1", accountId: "444455556666" },
      karpenter: {
        discoveryTag: "data-prod",
        nodeRole: "KarpenterNodeRole-data-prod",
        amiAlias: "al2023@v20251120",
      },
      fargate: {
        podExecutionRoleArn: "arn:aws:iam::444455556666:role/data-prod-fargate-pod-execution",
        subnets: ["subnet-0c1d2e3f4a5b60718", "subnet-0d1e2f3a4b5c60718", "subnet-0e1f2a3b4c5d60718"],
      },
      runManager: { image: runManagerImage },
    },
  ],
});
