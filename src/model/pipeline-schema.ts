/**
 * The one JSON Schema for pipeline definitions, used by ajv for TypeScript and YAML pipelines
 * alike, and published to `schema/pipeline.schema.json` (`npm run schema`) for editors.
 *
 * `x-expected` is an annotation of ours: it says, in words, what a field must hold, and is
 * quoted in error messages.
 */
import { MAX_RUN_TIMEOUT_SECONDS, MAX_TIMEOUT_SECONDS, NAME_BUDGET, PIPELINE_DEFAULTS } from "./pipeline.ts";

export const SCHEMA_ID = "https://dagops.dev/schema/pipeline.schema.json";

const dnsLabel = (max: number) =>
  ({
    type: "string",
    minLength: 1,
    maxLength: max,
    pattern: "^[a-z0-9]([-a-z0-9]*[a-z0-9])?$",
    "x-expected": `a DNS-1123 label: lowercase letters, digits and '-', starting and ending with a letter or digit, at most ${max} characters`,
  }) as const;

const quantity = {
  type: "string",
  pattern: "^[0-9]+(\\.[0-9]+)?(m|k|M|G|T|P|E|Ki|Mi|Gi|Ti|Pi|Ei)?$",
  "x-expected": 'a Kubernetes quantity such as "250m", "1", "300Mi" or "2Gi"',
} as const;

const resourceList = {
  type: "object",
  additionalProperties: false,
  properties: {
    // A number of cores is a valid CPU quantity (Kubernetes accepts `cpu: 2`); a bare number of
    // bytes almost never is what was meant for memory, so memory must be a quoted quantity.
    cpu: {
      ...quantity,
      type: ["string", "number"],
      exclusiveMinimum: 0,
      maximum: 100000,
      description: 'CPU: "500m" is half a core; a number is cores.',
      examples: ["200m", "1", 2],
    },
    memory: {
      ...quantity,
      description: 'Memory: "300Mi", "1Gi".',
      examples: ["300Mi", "1Gi"],
      "x-wrong-type": 'quote it and give a unit, e.g. "300Mi" (a bare number would be bytes)',
    },
  },
} as const;

const resources = {
  type: "object",
  additionalProperties: false,
  description: "Kubernetes requests and limits. Requests of cpu and memory are required after defaults apply.",
  properties: { requests: resourceList, limits: resourceList },
} as const;

const duration = {
  type: "string",
  pattern: "^(?=\\d)(\\d+h)?(\\d+m)?(\\d+s)?$",
  "x-expected": `a duration such as "30s", "45m", "2h" or "1h30m", at most ${MAX_TIMEOUT_SECONDS / 3600}h`,
} as const;

const runDuration = {
  ...duration,
  "x-expected": `a duration such as "6h" or "1h30m", at most ${MAX_RUN_TIMEOUT_SECONDS / 3600}h`,
} as const;

const onDemandAfterInterruptions = {
  oneOf: [{ type: "integer", minimum: 1, maximum: 10 }, { const: "never" }],
  "x-expected": 'a number of Spot interruptions from 1 to 10, or "never"',
  description: "After this many Spot interruptions of a step, its next attempts run on the on-demand NodePool.",
} as const;

const keyRef = {
  type: "object",
  additionalProperties: false,
  required: ["name", "key"],
  properties: {
    name: { ...dnsSubdomain(), description: "Name of the object in the pipeline's namespace." },
    key: {
      type: "string",
      minLength: 1,
      maxLength: 253,
      pattern: "^[-._a-zA-Z0-9]+$",
      "x-expected": "a ConfigMap/Secret key: letters, digits, '-', '_' and '.'",
    },
    optional: { type: "boolean", default: false },
  },
} as const;

function dnsSubdomain() {
  return {
    type: "string",
    minLength: 1,
    maxLength: 253,
    pattern: "^[a-z0-9]([-a-z0-9]*[a-z0-9])?(\\.[a-z0-9]([-a-z0-9]*[a-z0-9])?)*$",
    "x-expected": "a DNS-1123 subdomain: lowercase letters, digits, '-' and '.'",
  } as const;
}

const envVar = {
  type: "object",
  additionalProperties: false,
  required: ["name"],
  properties: {
    name: {
      type: "string",
      minLength: 1,
      maxLength: 256,
      pattern: "^[-._a-zA-Z][-._a-zA-Z0-9]*$",
      "x-expected": "an environment variable name: letters, digits, '_', '-' and '.', not starting with a digit",
    },
    value: {
      type: "string",
      maxLength: 32768,
      description: "A literal value. Never a credential: use valueFrom.secretKeyRef.",
    },
    valueFrom: {
      type: "object",
      additionalProperties: false,
      minProperties: 1,
      maxProperties: 1,
      "x-expected": "exactly one of secretKeyRef or configMapKeyRef",
      properties: { secretKeyRef: keyRef, configMapKeyRef: keyRef },
    },
  },
  oneOf: [{ required: ["value"] }, { required: ["valueFrom"] }],
  "x-expected": "an env entry with exactly one of value or valueFrom",
} as const;

const capacity = {
  type: "string",
  enum: ["spot", "on-demand"],
  description:
    "spot: the Spot-first step NodePool (falls back to on-demand when Spot is short). on-demand: the on-demand-only NodePool.",
} as const;

const retries = {
  type: "integer",
  minimum: 0,
  maximum: 20,
  description: "Retries of a failed step (non-zero exit, timeout), each a new Job; Spot interruptions do not count.",
} as const;

const image = {
  type: "string",
  minLength: 1,
  maxLength: 512,
  description: "Container image, pinned by tag or digest: 111122223333.dkr.ecr.us-east-1.amazonaws.com/scanner:1.4.2",
} as const;

const stringList = (description: string) =>
  ({ type: "array", items: { type: "string", maxLength: 32768 }, maxItems: 256, description }) as const;

const iamRole = {
  type: "string",
  pattern: "^arn:aws[a-z-]*:iam::[0-9]{12}:role/[\\w+=,.@/-]{1,512}$",
  "x-expected": "an IAM role ARN such as arn:aws:iam::111122223333:role/my-steps",
  description: "IAM role the steps assume through IRSA.",
} as const;

const schedule = {
  type: "string",
  minLength: 1,
  maxLength: 128,
  description: "Five-field cron or @hourly/@daily/@weekly/@monthly/@yearly. Absent: run on demand only.",
  examples: ["0 */6 * * *", "@daily"],
} as const;

const timeZone = { type: "string", minLength: 1, maxLength: 64, description: "IANA time zone for schedule." } as const;

const maxParallel = {
  type: "integer",
  minimum: 1,
  maximum: 1000,
  description: "Most steps of one run that run at once.",
} as const;

const suspend = {
  type: "boolean",
  description: "Suspend the CronJob: the pipeline runs only when started by hand.",
} as const;

const envList = {
  type: "array",
  items: envVar,
  maxItems: 256,
  description: "Environment variables: { name, value } or { name, valueFrom: { secretKeyRef | configMapKeyRef } }.",
} as const;

const notify = {
  type: "array",
  maxItems: 10,
  description: "Alerts at the end of a run, to a webhook whose URL is read from a Secret.",
  items: {
    type: "object",
    additionalProperties: false,
    required: ["on", "webhook"],
    properties: {
      on: {
        type: "array",
        minItems: 1,
        uniqueItems: true,
        items: { type: "string", enum: ["succeeded", "failed", "timed-out"] },
      },
      webhook: {
        type: "object",
        additionalProperties: false,
        required: ["secretKeyRef"],
        properties: {
          secretKeyRef: { ...keyRef, properties: { name: keyRef.properties.name, key: keyRef.properties.key } },
        },
      },
      format: { type: "string", enum: ["slack", "json"], default: "json" },
    },
  },
} as const;

const clusterOverride = {
  type: "object",
  additionalProperties: false,
  description:
    "Settings for one cluster; each replaces the pipeline's own field there. env is merged by name over every step's env.",
  properties: { iamRole, schedule, suspend, timeZone, image, maxParallel, env: envList, notify },
} as const;

/** One tenant of a template: its name, its params' values, and what it sets for itself. */
const tenant = {
  type: "object",
  additionalProperties: false,
  required: ["name"],
  properties: {
    name: { ...dnsLabel(NAME_BUDGET.pipeline), description: "The tenant; its pipeline is <template>-<name>." },
    params: {
      type: "object",
      additionalProperties: { type: ["string", "integer", "boolean"] },
      description: "Values of the template's params; each becomes this tenant's default.",
    },
    iamRole,
    schedule,
    suspend,
    clusters: { type: "array", items: dnsLabel(63), minItems: 1, uniqueItems: true },
    overrides: {
      type: "object",
      propertyNames: dnsLabel(63),
      additionalProperties: clusterOverride,
      description: "Merged over the template's overrides, per cluster and field.",
    },
  },
} as const;

/** `pipelines/<template>.tenants.yaml`: a list of tenants, one per line if you like. */
export const tenantsSchema = {
  $schema: "http://json-schema.org/draft-07/schema#",
  title: "dagops tenants of a template",
  type: "array",
  maxItems: 10000,
  items: tenant,
} as const;

export const pipelineSchema = {
  $schema: "http://json-schema.org/draft-07/schema#",
  $id: SCHEMA_ID,
  title: "dagops pipeline",
  description:
    "A DAG of steps that dagops compiles into a run-manager CronJob on Fargate and per-step Jobs on Karpenter Spot nodes.",
  type: "object",
  additionalProperties: false,
  required: ["name", "steps"],
  properties: {
    $schema: { type: "string", description: "Editor hint; ignored by dagops." },
    name: { ...dnsLabel(NAME_BUDGET.pipeline), description: "Pipeline name; must equal the file name." },
    description: { type: "string", maxLength: 1024, description: "One line, shown on the CronJob." },
    schedule,
    timeZone: { ...timeZone, default: PIPELINE_DEFAULTS.timeZone },
    image,
    clusters: {
      type: "array",
      items: dnsLabel(63),
      minItems: 1,
      uniqueItems: true,
      description: "Clusters to deploy to. Default: every cluster in the platform configuration.",
    },
    iamRole,
    defaults: {
      type: "object",
      additionalProperties: false,
      description: "Settings every step inherits unless it sets its own.",
      properties: {
        resources,
        retries: { ...retries, default: PIPELINE_DEFAULTS.retries },
        timeout: {
          ...duration,
          default: PIPELINE_DEFAULTS.timeout,
          description: "Longest one attempt of a step may run (the Job's activeDeadlineSeconds).",
        },
        capacity: { ...capacity, default: PIPELINE_DEFAULTS.capacity },
        onDemandAfterInterruptions: {
          ...onDemandAfterInterruptions,
          default: PIPELINE_DEFAULTS.onDemandAfterInterruptions,
        },
        estimate: { ...duration, description: "How long a step usually runs: the cost model's input." },
      },
    },
    maxParallel: { ...maxParallel, default: PIPELINE_DEFAULTS.maxParallel },
    suspend: { ...suspend, default: false },
    overrides: {
      type: "object",
      description: "Per-cluster settings, keyed by cluster name from platform.config.ts.",
      propertyNames: dnsLabel(63),
      additionalProperties: clusterOverride,
    },
    notify,
    history: {
      type: "object",
      additionalProperties: false,
      description: "Run records kept in the cluster for this pipeline.",
      properties: {
        keep: {
          type: "integer",
          minimum: 1,
          maximum: 1000,
          default: PIPELINE_DEFAULTS.historyKeep,
          description: "How many run records to keep; the oldest beyond it are deleted when a run ends.",
        },
      },
    },
    params: {
      type: "object",
      maxProperties: 20,
      description: "Run parameters by name; steps get each as DAGOPS_PARAM_<NAME>.",
      additionalProperties: {
        type: "object",
        additionalProperties: false,
        required: ["type"],
        properties: {
          type: {
            type: "string",
            enum: ["string", "int", "bool", "date"],
            description: "The value's type, checked before a run starts.",
          },
          default: {
            type: ["string", "integer", "boolean"],
            description: "A literal of the type, or scheduled-date / scheduled-time.",
          },
          pattern: {
            type: "string",
            minLength: 1,
            maxLength: 256,
            description: "string only: a regular expression the whole value must match.",
          },
          description: {
            type: "string",
            maxLength: 1024,
            description: "What the parameter means, for whoever starts a run.",
          },
        },
      },
    },
    template: {
      type: "boolean",
      default: false,
      description:
        "A template: each tenant (tenants, or pipelines/<name>.tenants.yaml) becomes a pipeline <name>-<tenant>.",
    },
    tenants: { type: "array", maxItems: 10000, items: tenant, description: "The tenants of a template." },
    concurrency: {
      type: "string",
      enum: ["forbid", "allow", "replace"],
      default: PIPELINE_DEFAULTS.concurrency,
      description: "Overlapping runs: forbid (the newcomer is skipped), replace (the older run is cancelled) or allow.",
    },
    prewarm: {
      type: "boolean",
      default: false,
      description: "Pre-provision the run's peak capacity at start with low-priority placeholder pods.",
    },
    schedulingTimeout: {
      ...duration,
      default: PIPELINE_DEFAULTS.schedulingTimeout,
      description: "How long a step's pod may stay unschedulable before its attempt fails (spending a retry).",
    },
    runTimeout: {
      ...runDuration,
      default: PIPELINE_DEFAULTS.runTimeout,
      description: "Longest a whole run may take; the run manager then cancels it.",
    },
    steps: {
      type: "array",
      description: "The steps of the DAG, each a Kubernetes Job per attempt.",
      minItems: 1,
      maxItems: 500,
      items: {
        type: "object",
        additionalProperties: false,
        required: ["name"],
        properties: {
          name: { ...dnsLabel(NAME_BUDGET.step), description: "Step name, unique in the pipeline." },
          image,
          command: stringList("Replaces the image's ENTRYPOINT."),
          args: stringList("Replaces the image's CMD."),
          env: envList,
          dependsOn: {
            type: "array",
            items: { type: "string", minLength: 1, maxLength: 63 },
            uniqueItems: true,
            description: "Steps that must succeed before this one starts.",
          },
          resources,
          retries,
          timeout: {
            ...duration,
            description: "Longest one attempt of this step may run (the Job's activeDeadlineSeconds).",
          },
          capacity,
          onDemandAfterInterruptions,
          estimate: { ...duration, description: "How long this step usually runs: the cost model's input." },
        },
      },
    },
  },
} as const;
