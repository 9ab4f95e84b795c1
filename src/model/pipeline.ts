/**
 * The pipeline definition: what a pipeline author writes, in TypeScript
 * (`export default definePipeline({...})`) or YAML. Both forms are validated by the same JSON
 * Schema (`src/model/pipeline-schema.ts`, published as `schema/pipeline.schema.json`).
 */

/** CPU and memory as Kubernetes quantities, e.g. `{ cpu: "200m", memory: "300Mi" }`. */
export interface ResourceList {
  /** CPU in cores or millicores: `"500m"`, `"1"`, `"1.5"`, or a number of cores: `2`. */
  readonly cpu?: string | number;
  /** Memory in bytes with a binary suffix: `"300Mi"`, `"1Gi"`. `"300m"` means 0.3 bytes and is refused. */
  readonly memory?: string;
}

/**
 * Kubernetes-shaped requests and limits. Karpenter sizes nodes from `requests`; the kernel
 * enforces `limits`. Requests of both cpu and memory are required (after `defaults` apply);
 * limits are emitted exactly as given and omitted when not given.
 */
export interface Resources {
  readonly requests?: ResourceList;
  readonly limits?: ResourceList;
}

export interface KeyRef {
  /** Name of the Secret or ConfigMap in the pipeline's namespace. */
  readonly name: string;
  /** Key inside it. */
  readonly key: string;
  /** Start the step even when the object or key is missing. Default: false. */
  readonly optional?: boolean;
}

/**
 * A container environment variable, Kubernetes-shaped: a literal `value`, or `valueFrom` a
 * Secret or ConfigMap key. Literal values that look like credentials are refused: use
 * `valueFrom.secretKeyRef`.
 */
export interface EnvVar {
  /** e.g. `LOG_LEVEL`. Names starting with `DAGOPS_` are reserved. */
  readonly name: string;
  readonly value?: string;
  readonly valueFrom?: { readonly secretKeyRef: KeyRef } | { readonly configMapKeyRef: KeyRef };
}

/**
 * Where a step runs. `spot` (the default) uses the Spot-first step NodePool, which falls back
 * to on-demand capacity when Spot is short; `on-demand` uses the on-demand-only NodePool.
 */
export type Capacity = "spot" | "on-demand";

/** Settings that every step inherits unless it sets its own. */
export interface StepDefaults {
  /** Merged field by field into each step's `resources`. No default: every step needs requests. */
  readonly resources?: Resources;
  /** How many times the run manager retries a failed step (non-zero exit, timeout), each time as a new Job. Spot interruptions do not count. Default: 2. */
  readonly retries?: number;
  /** Longest a step may run, as `30s`, `45m`, `2h` or `1h30m`, at most `24h` (Job `activeDeadlineSeconds`). Default: `1h`. */
  readonly timeout?: string;
  /** Default: `spot`. */
  readonly capacity?: Capacity;
  /**
   * After this many Spot interruptions of a step, its next attempts run on the on-demand
   * NodePool; `"never"` keeps it on Spot. Interruptions never use up `retries`. Default: 2.
   */
  readonly onDemandAfterInterruptions?: number | "never";
  /**
   * How long a step usually runs, as `20m` or `1h30m`: the cost model's input, nothing more.
   * Without one the cost report assumes 1 h per step and says so.
   */
  readonly estimate?: string;
}

/** A step: what it runs, what it waits for, and any of the defaults set for itself. */
export interface Step extends StepDefaults {
  /** DNS-1123 label, unique in the pipeline, at most 40 characters: `classify-pii`. */
  readonly name: string;
  /** Container image; defaults to the pipeline's `image`. Pin a tag or digest: `repo/app:1.4.2`. */
  readonly image?: string;
  /** Replaces the image's ENTRYPOINT, e.g. `["python", "-m", "scan"]`. Default: the image's. */
  readonly command?: readonly string[];
  /** Replaces the image's CMD, e.g. `["--shard", "3"]`. Default: the image's. */
  readonly args?: readonly string[];
  readonly env?: readonly EnvVar[];
  /** Steps that must succeed before this one starts. Default: none (the step starts the run). */
  readonly dependsOn?: readonly string[];
}

/** Run outcomes an alert can be sent for. */
export type NotifyOutcome = "succeeded" | "failed" | "timed-out";

/**
 * An alert at the end of a run: the run manager POSTs a message to a webhook whose URL is read
 * from a Secret (the URL is a credential: never in git, never printed).
 * `{ on: ["failed", "timed-out"], webhook: { secretKeyRef: { name: "alerts", key: "slack-url" } }, format: "slack" }`
 */
export interface NotifyRule {
  /** The outcomes that send this alert. */
  readonly on: readonly NotifyOutcome[];
  readonly webhook: { readonly secretKeyRef: { readonly name: string; readonly key: string } };
  /** `slack` (an incoming-webhook message) or `json` (the run's facts as a JSON object). Default: `json`. */
  readonly format?: "slack" | "json";
}

/**
 * Settings that differ per cluster, under `overrides.<cluster>`: each replaces the pipeline's own
 * field in that cluster only, and is validated exactly as that field. Example: staging and prod
 * in different AWS accounts assume different roles.
 */
export interface ClusterOverride {
  /** IAM role the steps assume in this cluster. */
  readonly iamRole?: string;
  /** Schedule in this cluster. */
  readonly schedule?: string;
  /** `true`: this cluster runs the pipeline only when started by hand. */
  readonly suspend?: boolean;
  readonly timeZone?: string;
  /** Default image for steps that set none, in this cluster. */
  readonly image?: string;
  readonly maxParallel?: number;
  /** Merged by name over every step's env: an entry here replaces a step's entry of the same name, or is added. */
  readonly env?: readonly EnvVar[];
  /** Replaces the pipeline's `notify` in this cluster (`[]`: no alerts here). */
  readonly notify?: readonly NotifyRule[];
}

/**
 * A run parameter (see src/contract/params.ts): `{ type: "date", default: "scheduled-date" }`. Steps get
 * it as `DAGOPS_PARAM_<NAME>`, and `$(DAGOPS_PARAM_<NAME>)` in `command` and `args` is expanded
 * by Kubernetes.
 */

/**
 * What happens when a run starts while another run of the pipeline is going on, whoever started
 * either: `forbid` (the newcomer ends at once, outcome `skipped`), `replace` (the older run is
 * cancelled first) or `allow` (both run).
 */
/** One tenant of a template (`template: true`): in its `tenants:` list or in `pipelines/<template>.tenants.yaml` (model/template.ts expands them). */
export interface Tenant {
  /** DNS-1123 label; the pipeline is named `<template>-<name>`, at most 40 characters in all. */
  readonly name: string;
  /** Values of the template's params for this tenant: each becomes the param's default. */
  readonly params?: { readonly [name: string]: string | number | boolean };
  readonly iamRole?: string;
  readonly schedule?: string;
  readonly suspend?: boolean;
  readonly clusters?: readonly string[];
  /** Merged over the template's `overrides`, cluster by cluster, field by field. */
  readonly overrides?: { readonly [cluster: string]: ClusterOverride };
}

export type Concurrency = "forbid" | "allow" | "replace";

export interface PipelineDefinition {
  /** DNS-1123 label, at most 40 characters; must equal the file name: `customer-scan`. */
  readonly name: string;
  /** One line for people reading the generated YAML and the PR comment. */
  readonly description?: string;
  /**
   * Five-field cron (`minute hour day-of-month month day-of-week`) or `@hourly`, `@daily`,
   * `@weekly`, `@monthly`, `@yearly`. Default: none; the pipeline then runs only when started
   * with `npx dagops start <name>`.
   */
  readonly schedule?: string;
  /** IANA time zone for `schedule`, e.g. `Europe/Berlin`. Default: `Etc/UTC`. */
  readonly timeZone?: string;
  /** Default image for steps that set none. */
  readonly image?: string;
  /** Names of clusters from the platform configuration to deploy to. Default: all of them. */
  readonly clusters?: readonly string[];
  /**
   * ARN of the IAM role the steps assume through IAM Roles for Service Accounts, e.g.
   * `arn:aws:iam::111122223333:role/customer-scan-steps`. Nodes block instance-metadata
   * credentials (IMDSv2, hop limit 1), so steps that call AWS need it. Default: none.
   */
  readonly iamRole?: string;
  readonly defaults?: StepDefaults;
  /** Most steps of one run that run at once. Default: 10. */
  readonly maxParallel?: number;
  /**
   * Longest a whole run may take, at most `168h`. When it is reached the run manager deletes the
   * running steps and fails the run. Default: `24h`, so a daily run never blocks the next one.
   */
  readonly runTimeout?: string;
  /**
   * How long a step's pod may wait unscheduled (no node can take it, even after Karpenter tried)
   * before its attempt fails with the scheduler's message; it spends a retry, since capacity can
   * come back. Default: `15m`.
   */
  readonly schedulingTimeout?: string;
  /**
   * Whole-run pre-provisioning: at run start the run manager creates low-priority placeholder
   * pods sized like the heaviest set of steps that can run at once, so Karpenter buys that
   * capacity up front and no step waits for a node. Steps preempt the placeholders; the
   * placeholders go once every step has started. Costs more (capacity is held from the start);
   * `npm run cost` shows how much. Default: false.
   */
  readonly prewarm?: boolean;
  /**
   * Run records: every run leaves a ConfigMap `<run>-record` (outcome, trigger, every attempt of
   * every step) that outlives the run's Job. `keep` is how many the cluster keeps per pipeline;
   * the oldest beyond it are deleted when a run ends. Default: `{ keep: 50 }`, at most 1000.
   */
  readonly history?: { readonly keep?: number };
  /** Alerts at the end of a run (see NotifyRule). Default: none. */
  readonly notify?: readonly NotifyRule[];
  /**
   * Run parameters by name: `{ date: { type: "date", default: "scheduled-date" } }`. Types
   * `string`, `int`, `bool`, `date`; a default is a literal or `scheduled-date` / `scheduled-time`.
   * A parameter without a default must be given to every run, so a scheduled pipeline needs
   * defaults for all. Default: none.
   */
  readonly params?: { readonly [name: string]: import("../contract/params.ts").ParamDeclaration };
  /** Overlapping runs (see Concurrency). Default: `forbid`, so two runs never write the same data at once. */
  readonly concurrency?: Concurrency;
  /**
   * `true`: this definition is a template; each of `tenants` (or of `pipelines/<name>.tenants.yaml`)
   * becomes its own pipeline `<name>-<tenant>`. Default: false.
   */
  readonly template?: boolean;
  /** The tenants of a template (see src/model/template.ts). */
  readonly tenants?: readonly Tenant[];
  /** `true`: the CronJob is suspended, so the pipeline runs only when started by hand. Default: false (absent `schedule` suspends it too). */
  readonly suspend?: boolean;
  /**
   * Per-cluster settings, keyed by cluster name from `platform.config.ts`:
   * `{ staging: { iamRole: "arn:aws:iam::111122223333:role/x-staging", schedule: "0 3 * * *" } }`.
   * Default: none (every cluster gets the pipeline's own settings).
   */
  readonly overrides?: { readonly [cluster: string]: ClusterOverride };
  readonly steps: readonly Step[];
}

/**
 * Typed identity: gives TypeScript pipelines completion and type errors. The parameter is the
 * plain interface, not a generic `T extends PipelineDefinition`: a generic turns off TypeScript's
 * excess-property check, so a typo such as `dependson:` would pass `npm run typecheck` silently.
 */
export function definePipeline(definition: PipelineDefinition): PipelineDefinition {
  return definition;
}

/** Tool defaults, each with its reason (see the doc comments above). */
export const PIPELINE_DEFAULTS = {
  retries: 2,
  timeout: "1h",
  capacity: "spot",
  maxParallel: 10,
  timeZone: "Etc/UTC",
  onDemandAfterInterruptions: 2,
  runTimeout: "24h",
  historyKeep: 50,
  schedulingTimeout: "15m",
  concurrency: "forbid",
} as const;

/** How long the cost model assumes a step without an `estimate` runs. */
export const ASSUMED_STEP_SECONDS = 3600;

/** Longest timeout a step may set; the step NodePool's `terminationGracePeriod` matches it. */
export const MAX_TIMEOUT_SECONDS = 24 * 3600;

/** Longest run timeout: a week. */
export const MAX_RUN_TIMEOUT_SECONDS = 7 * 24 * 3600;

/** Length budgets that leave room for the suffixes dagops and the run manager append. */
export const NAME_BUDGET = { pipeline: 40, step: 40 } as const;
