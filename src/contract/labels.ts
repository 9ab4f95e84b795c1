/** Every label and annotation key dagops writes or reads, in one place. */
export const LABEL = {
  managedBy: "app.kubernetes.io/managed-by",
  pipeline: "dagops.dev/pipeline",
  step: "dagops.dev/step",
  role: "dagops.dev/role",
  /** On step Jobs: the name and uid of the run-manager Job (the run) and the attempt number. */
  run: "dagops.dev/run",
  runUid: "dagops.dev/run-uid",
  attempt: "dagops.dev/attempt",
  pool: "dagops.dev/pool",
  /** Karpenter puts the NodePool name on every node it launches. */
  karpenterNodePool: "karpenter.sh/nodepool",
  capacityType: "karpenter.sh/capacity-type",
  podSecurityEnforce: "pod-security.kubernetes.io/enforce",
  podSecurityEnforceVersion: "pod-security.kubernetes.io/enforce-version",
  podSecurityWarn: "pod-security.kubernetes.io/warn",
  podSecurityAudit: "pod-security.kubernetes.io/audit",
} as const;

export const ANNOTATION = {
  /** Karpenter will not voluntarily disrupt a node while such a pod runs on it. */
  doNotDisrupt: "karpenter.sh/do-not-disrupt",
  irsaRole: "eks.amazonaws.com/role-arn",
  syncWave: "argocd.argoproj.io/sync-wave",
  syncOptions: "argocd.argoproj.io/sync-options",
  /** Paths (relative to the app's source path) whose changes make Argo CD regenerate the app's manifests. */
  manifestGeneratePaths: "argocd.argoproj.io/manifest-generate-paths",
  source: "dagops.dev/source",
  description: "dagops.dev/description",
  /** On a tenant's CronJob: the template it comes from. */
  template: "dagops.dev/template",
  /** On the run-manager Job: progress while it runs, and the run summary when it ends. */
  progress: "dagops.dev/progress",
  summary: "dagops.dev/summary",
} as const;

export const MANAGED_BY = "dagops";

export const ROLE = {
  step: "step",
  runManager: "run-manager",
  placeholder: "placeholder",
} as const;

/** The taint on step nodes: only step pods tolerate it, so nothing else lands on Spot step capacity. */
export const STEP_TAINT = { key: "dagops.dev/step", value: "true", effect: "NoSchedule" } as const;
