/**
 * The platform configuration: one typed file (`platform.config.ts`) that says which clusters
 * exist and how each is wired to AWS, Argo CD, Karpenter and Fargate. Pipelines say what to run;
 * this says where.
 */
import { DEFAULT_PRICES_FILE } from "./files.ts";

/** Karpenter step-pool settings. Every field has a best-practice default (`POOL_DEFAULTS`). */
export interface PoolSettings {
  /** EC2 instance categories. Default: `["c", "m", "r"]` (compute, general, memory: wide Spot choice). */
  readonly categories?: readonly string[];
  /** Oldest instance generation allowed. Default: 5 (Nitro; older ones are scarcer and slower). */
  readonly minGeneration?: number;
  /** CPU architectures. Default: `["amd64"]`; add `arm64` only when every step image is multi-arch. */
  readonly architectures?: readonly ("amd64" | "arm64")[];
  /** Instance families Karpenter must be able to choose from per launch. Default: 5 (Spot best practice: flexibility). */
  readonly minFamilies?: number;
  /** Instance sizes never used. Default: nano, micro, small (too small for kube overhead), and every bare-metal size (`metal`, `metal-24xl`, …: slow to boot). */
  readonly excludedSizes?: readonly string[];
  /** How long an empty or underused node lives before consolidation. Default: `1m` (steps are short; running ones are protected by do-not-disrupt). */
  readonly consolidateAfter?: string;
  /** Node lifetime before replacement (picks up AMI patches). Default: `720h`. */
  readonly expireAfter?: string;
  /** Share of nodes Karpenter may disrupt at once. Default: `10%`. */
  readonly disruptionBudget?: string;
  /** Cap on all step nodes of a pool together. Default: 1000 CPUs and 4000Gi. */
  readonly limits?: { readonly cpu: string; readonly memory: string };
  /** Root volume size. Default: `50Gi` (room for large data images). */
  readonly rootVolumeSize?: string;
}

export interface ClusterConfig {
  /** Folder name under `generated/` and the name pipelines use in `clusters`: `staging`. */
  readonly name: string;
  /** The EKS cluster name in AWS (FargateProfile `clusterName`). Default: `name`. */
  readonly eksClusterName?: string;
  readonly argocd: {
    /** Git URL Argo CD reads this repository from. */
    readonly repoURL: string;
    /** Branch, tag or commit Argo CD syncs: `main`. */
    readonly targetRevision: string;
    /** Namespace Argo CD runs in. Default: `argocd`. */
    readonly namespace?: string;
    /** API server Argo CD deploys to. Default: `https://kubernetes.default.svc` (Argo CD in the same cluster). */
    readonly destinationServer?: string;
  };
  readonly aws: {
    readonly region: string;
    /** Twelve digits. */
    readonly accountId: string;
  };
  readonly karpenter: {
    /** Value of the `karpenter.sh/discovery` tag on the cluster's private subnets and node security group. */
    readonly discoveryTag: string;
    /** Name of the IAM role step nodes get (EC2NodeClass `role`). */
    readonly nodeRole: string;
    /** Pinned AMI alias: `al2023@v20251120`. Pinned so that AMI releases roll out through git, not by surprise. */
    readonly amiAlias: string;
    /** Namespace the Karpenter controller runs in. Default: `karpenter`. */
    readonly namespace?: string;
    readonly pools?: PoolSettings;
  };
  readonly fargate: {
    /** ARN of the Fargate pod execution role. */
    readonly podExecutionRoleArn: string;
    /** Private subnet IDs for Fargate pods. */
    readonly subnets: readonly string[];
  };
  readonly runManager: {
    /** Run-manager image, pinned: `111122223333.dkr.ecr.us-east-1.amazonaws.com/dagops-run-manager:0.1.0`. */
    readonly image: string;
  };
  /**
   * Price and instance snapshot for this cluster's region, relative to the repository root, in
   * the shape of `data/aws-us-east-1.json` (see src/cost/data.ts). Default: that file (us-east-1).
   */
  readonly prices?: string;
  /**
   * Image of the `prewarm` placeholder pods, pinned by digest. Default: `DEFAULT_PLACEHOLDER_IMAGE`
   * (registry.k8s.io). Clusters whose nodes cannot reach public registries (private VPCs without
   * a NAT gateway) point this at a mirror in ECR.
   */
  readonly placeholderImage?: string;
  /**
   * Where run-manager logs go. Run managers run on Fargate, whose only log path is its built-in
   * Fluent Bit router, configured by the `aws-observability` namespace and its `aws-logging`
   * ConfigMap, which synth emits. Default: CloudWatch Logs, group `/dagops/<eksClusterName>/run-managers`.
   * `false` routes nothing: a run manager's logs then go with its pod.
   */
  /**
   * Where steps keep data between them: `s3://bucket/prefix`. Every step then gets
   * `DAGOPS_RUN_URI=<prefix>/<pipeline>/<run>/` and, per dependency, `DAGOPS_INPUT_<STEP>`
   * (docs/operating.md, "Data between steps"). Default: none.
   */
  readonly artifacts?: string;
  /** The kubeconfig context of this cluster, for `dagops --cluster <name>`. Default: a context named like the cluster. */
  readonly kubeContext?: string;
  readonly logging?:
    | false
    | {
        readonly logGroup?: string;
        /**
         * Where the node log agent sends step logs, named in run records so a reader knows where to
         * look. Default: `/aws/containerinsights/<eksClusterName>/application`, the group of the
         * Amazon CloudWatch Observability add-on.
         */
        readonly stepsLogGroup?: string;
      };
}

export interface PlatformConfig {
  readonly clusters: readonly ClusterConfig[];
}

/** Typed identity; not generic, so unknown fields are type errors (see definePipeline). */
export function definePlatform(config: PlatformConfig): PlatformConfig {
  return config;
}

/** The pause image, pinned by digest: a placeholder pod only holds capacity, and a digest cannot change under it. */
export const DEFAULT_PLACEHOLDER_IMAGE =
  "registry.k8s.io/pause:3.10@sha256:ee6521f290b2168b6e0935a181d4cff9be1ac3f505666ef0e3c98fae8199917a";

export const POOL_DEFAULTS: Required<PoolSettings> = {
  categories: ["c", "m", "r"],
  minGeneration: 5,
  architectures: ["amd64"],
  minFamilies: 5,
  excludedSizes: [
    "nano",
    "micro",
    "small",
    "metal",
    "metal-12xl",
    "metal-16xl",
    "metal-24xl",
    "metal-32xl",
    "metal-48xl",
    "metal-96xl",
  ],
  consolidateAfter: "1m",
  expireAfter: "720h",
  disruptionBudget: "10%",
  limits: { cpu: "1000", memory: "4000Gi" },
  rootVolumeSize: "50Gi",
};

/** A cluster with every default filled in: what the charts read. */
export interface ResolvedCluster {
  readonly name: string;
  readonly eksClusterName: string;
  readonly argocd: {
    readonly repoURL: string;
    readonly targetRevision: string;
    readonly namespace: string;
    readonly destinationServer: string;
  };
  readonly aws: { readonly region: string; readonly accountId: string };
  readonly karpenter: {
    readonly discoveryTag: string;
    readonly nodeRole: string;
    readonly amiAlias: string;
    readonly namespace: string;
    readonly pools: Required<PoolSettings>;
  };
  readonly fargate: { readonly podExecutionRoleArn: string; readonly subnets: readonly string[] };
  readonly runManager: { readonly image: string };
  readonly prices: string;
  readonly placeholderImage: string;
  /** `s3://bucket/prefix` without a trailing slash, or null. */
  readonly artifacts: string | null;
  readonly kubeContext: string;
  /** CloudWatch Logs groups for run-manager and step logs; null: no log routing. */
  readonly logging: { readonly logGroup: string; readonly stepsLogGroup: string } | null;
}

export function resolveCluster(c: ClusterConfig): ResolvedCluster {
  return {
    name: c.name,
    eksClusterName: c.eksClusterName ?? c.name,
    argocd: {
      repoURL: c.argocd.repoURL,
      targetRevision: c.argocd.targetRevision,
      namespace: c.argocd.namespace ?? "argocd",
      destinationServer: c.argocd.destinationServer ?? "https://kubernetes.default.svc",
    },
    aws: { ...c.aws },
    karpenter: {
      discoveryTag: c.karpenter.discoveryTag,
      nodeRole: c.karpenter.nodeRole,
      amiAlias: c.karpenter.amiAlias,
      namespace: c.karpenter.namespace ?? "karpenter",
      pools: { ...POOL_DEFAULTS, ...c.karpenter.pools },
    },
    fargate: { podExecutionRoleArn: c.fargate.podExecutionRoleArn, subnets: [...c.fargate.subnets] },
    runManager: { image: c.runManager.image },
    prices: c.prices ?? DEFAULT_PRICES_FILE,
    placeholderImage: c.placeholderImage ?? DEFAULT_PLACEHOLDER_IMAGE,
    artifacts: c.artifacts === undefined ? null : c.artifacts.replace(/\/+$/, ""),
    kubeContext: c.kubeContext ?? c.name,
    logging:
      c.logging === false
        ? null
        : {
            logGroup: c.logging?.logGroup ?? `/dagops/${c.eksClusterName ?? c.name}/run-managers`,
            stepsLogGroup:
              c.logging?.stepsLogGroup ?? `/aws/containerinsights/${c.eksClusterName ?? c.name}/application`,
          },
  };
}
