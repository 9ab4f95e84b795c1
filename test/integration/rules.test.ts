/**
 * One test per validation rule. Each fixture breaks exactly one rule; the test asserts the
 * problem's code and field path, that synth exits 1, and that generated/ was not touched.
 */
import assert from "node:assert/strict";
import { join } from "node:path";
import { after, before, describe, test } from "node:test";
import { loadProject } from "../../src/load/load.ts";
import { forCluster } from "../../src/model/resolve.ts";
import type { Problem } from "../../src/contract/problems.ts";
import { main as synth } from "../../src/commands/synth.ts";
import { captureIo, snapshot, tempRepo, yamlPipeline, type TempRepo } from "../support/helpers.ts";

interface Case {
  readonly rule: string;
  readonly files: Record<string, string>;
  readonly code: Problem["code"];
  readonly file?: string;
  readonly path: string;
  readonly message?: RegExp;
}

const P = "pipelines/broken.yaml";
const steps = (extra: string) => yamlPipeline("broken", extra);
const withStep = (step: string) =>
  `name: broken
image: registry.example.com/team/app:1.0.0
defaults:
  resources:
    requests: { cpu: 100m, memory: 128Mi }
steps:
${step}`;

const CASES: Case[] = [
  // Reading
  { rule: "broken YAML", files: { [P]: "name: broken\nsteps: [\n  - name: a\n" }, code: "YAML_SYNTAX", path: "" },
  {
    rule: "duplicate keys",
    files: { [P]: `${yamlPipeline("broken")}name: again\n` },
    code: "YAML_SYNTAX",
    path: "",
    message: /unique/i,
  },
  {
    rule: "two YAML documents",
    files: { [P]: `${yamlPipeline("broken")}---\nname: other\n` },
    code: "YAML_SYNTAX",
    path: "",
  },
  { rule: "empty file", files: { [P]: "# nothing here\n" }, code: "YAML_SYNTAX", path: "", message: /empty/ },
  {
    rule: "hostile YAML: a language tag",
    files: { [P]: `${yamlPipeline("broken")}description: !!js/function "function(){}"\n` },
    code: "YAML_UNSAFE",
    path: "",
  },
  {
    rule: "hostile YAML: billion laughs",
    files: {
      [P]: `a: &a ["x","x","x","x","x","x","x","x","x"]\nb: &b [*a,*a,*a,*a,*a,*a,*a,*a,*a]\nc: &c [*b,*b,*b,*b,*b,*b,*b,*b,*b]\nd: &d [*c,*c,*c,*c,*c,*c,*c,*c,*c]\ne: [*d,*d,*d,*d,*d,*d,*d,*d,*d]\n`,
    },
    code: "YAML_UNSAFE",
    path: "",
  },
  {
    rule: "hostile YAML: deep nesting",
    files: { [P]: `name: broken\nsteps: ${"[".repeat(50000)}${"]".repeat(50000)}\n` },
    code: "YAML_UNSAFE",
    path: "",
    message: /nested too deeply/,
  },
  {
    rule: "hostile YAML: oversized file",
    files: { [P]: `${yamlPipeline("broken")}description: "${"x".repeat(1024 * 1024)}"\n` },
    code: "YAML_UNSAFE",
    path: "",
  },
  {
    rule: "hostile YAML: __proto__ key",
    files: { [P]: `${yamlPipeline("broken")}__proto__: { polluted: true }\n` },
    code: "UNKNOWN_FIELD",
    path: "__proto__",
  },
  {
    rule: "hostile YAML: merge key",
    files: { [P]: `${yamlPipeline("broken")}x: &x { maxParallel: 2 }\n` },
    code: "UNKNOWN_FIELD",
    path: "x",
  },
  {
    rule: "TypeScript that does not compile",
    files: { "pipelines/broken.ts": "export default definePipeline({ name: 'broken', steps: [ }" },
    code: "MODULE_LOAD_FAILED",
    file: "pipelines/broken.ts",
    path: "",
  },
  {
    rule: "TypeScript without a default export",
    files: { "pipelines/broken.ts": "export const pipeline = { name: 'broken' };\n" },
    code: "NO_DEFAULT_EXPORT",
    file: "pipelines/broken.ts",
    path: "",
  },
  // Schema
  {
    rule: "unknown field (typo)",
    files: { [P]: steps("    comand: [run]\n") },
    code: "UNKNOWN_FIELD",
    path: "steps[1].comand",
    message: /Did you mean "command"/,
  },
  {
    rule: "missing steps",
    files: { [P]: "name: broken\nimage: registry.example.com/a:1\n" },
    code: "MISSING_FIELD",
    path: "steps",
  },
  { rule: "wrong type", files: { [P]: steps("    retries: many\n") }, code: "WRONG_TYPE", path: "steps[1].retries" },
  {
    rule: "invalid name: uppercase",
    files: { "pipelines/Broken.yaml": yamlPipeline("Broken") },
    code: "INVALID_VALUE",
    file: "pipelines/Broken.yaml",
    path: "name",
    message: /DNS-1123/,
  },
  {
    rule: "invalid name: too long",
    files: { [`pipelines/${"a".repeat(41)}.yaml`]: yamlPipeline("a".repeat(41)) },
    code: "INVALID_VALUE",
    file: `pipelines/${"a".repeat(41)}.yaml`,
    path: "name",
    message: /at most 40/,
  },
  {
    rule: "invalid step name",
    files: { [P]: withStep("  - name: Extract_Data\n") },
    code: "INVALID_VALUE",
    path: "steps[0].name",
  },
  {
    rule: "unknown capacity",
    files: { [P]: steps("    capacity: cheap\n") },
    code: "INVALID_VALUE",
    path: "steps[1].capacity",
    message: /spot/,
  },
  {
    rule: "bad quantity syntax",
    files: { [P]: steps("    resources: { requests: { cpu: lots } }\n") },
    code: "INVALID_VALUE",
    path: "steps[1].resources.requests.cpu",
  },
  {
    rule: "bad timeout syntax",
    files: { [P]: steps("    timeout: 10 minutes\n") },
    code: "INVALID_VALUE",
    path: "steps[1].timeout",
  },
  {
    rule: "env with value and valueFrom",
    files: { [P]: steps("    env: [{ name: A, value: x, valueFrom: { configMapKeyRef: { name: c, key: k } } }]\n") },
    code: "INVALID_VALUE",
    path: "steps[1].env[0]",
  },
  {
    rule: "bad IAM role",
    files: { [P]: `${yamlPipeline("broken")}iamRole: my-role\n` },
    code: "INVALID_VALUE",
    path: "iamRole",
  },
  // Graph
  {
    rule: "duplicate step",
    files: { [P]: steps("  - name: extract\n") },
    code: "DUPLICATE_STEP",
    path: "steps[2].name",
  },
  {
    rule: "unknown step",
    files: { [P]: steps("  - name: load\n    dependsOn: [transfrom]\n") },
    code: "UNKNOWN_STEP",
    path: "steps[2].dependsOn[0]",
    message: /Did you mean "transform"/,
  },
  {
    rule: "self dependency",
    files: { [P]: steps("  - name: load\n    dependsOn: [load]\n") },
    code: "SELF_DEPENDENCY",
    path: "steps[2].dependsOn[0]",
  },
  {
    rule: "cycle",
    files: {
      [P]: withStep(
        "  - name: a\n    dependsOn: [c]\n  - name: b\n    dependsOn: [a]\n  - name: c\n    dependsOn: [b]\n",
      ),
    },
    code: "CYCLE",
    path: "steps",
    message: /a → b → c → a|c → a → b → c|b → c → a → b/,
  },
  {
    rule: "file name differs from name",
    files: { "pipelines/other.yaml": yamlPipeline("broken") },
    code: "NAME_MISMATCH",
    file: "pipelines/other.yaml",
    path: "name",
  },
  {
    rule: "reserved name",
    files: { "pipelines/system.yaml": yamlPipeline("system") },
    code: "RESERVED_NAME",
    file: "pipelines/system.yaml",
    path: "name",
  },
  {
    rule: "two files, one pipeline",
    files: { [P]: yamlPipeline("broken"), "pipelines/broken.yml": yamlPipeline("broken") },
    code: "DUPLICATE_PIPELINE",
    file: "pipelines/broken.yml",
    path: "name",
  },
  // Semantics
  {
    rule: "unknown cluster",
    files: { [P]: `${yamlPipeline("broken")}clusters: [prod, qa]\n` },
    code: "UNKNOWN_CLUSTER",
    path: "clusters[1]",
  },
  {
    rule: "memory in millis",
    files: { [P]: steps("    resources: { requests: { memory: 300m } }\n") },
    code: "BAD_QUANTITY",
    path: "steps[1].resources.requests.memory",
    message: /300Mi/,
  },
  {
    rule: "cpu with a memory suffix",
    files: { [P]: steps("    resources: { requests: { cpu: 1Gi } }\n") },
    code: "BAD_QUANTITY",
    path: "steps[1].resources.requests.cpu",
  },
  {
    rule: "missing requests",
    files: {
      [P]: "name: broken\nimage: registry.example.com/a:1\nsteps:\n  - name: a\n    resources: { requests: { cpu: 100m } }\n",
    },
    code: "MISSING_REQUESTS",
    path: "steps[0].resources.requests.memory",
  },
  {
    rule: "limit below request",
    files: { [P]: steps("    resources: { requests: { memory: 1Gi } }\n") },
    code: "LIMIT_BELOW_REQUEST",
    path: "defaults.resources.limits.memory",
  },
  {
    rule: "cron: minute out of range",
    files: { [P]: `${yamlPipeline("broken")}schedule: "61 * * * *"\n` },
    code: "BAD_CRON",
    path: "schedule",
    message: /minute/,
  },
  {
    rule: "cron: wrong field count",
    files: { [P]: `${yamlPipeline("broken")}schedule: "0 * * *"\n` },
    code: "BAD_CRON",
    path: "schedule",
    message: /5 fields/,
  },
  {
    rule: "cron: time zone inside",
    files: { [P]: `${yamlPipeline("broken")}schedule: "TZ=UTC 0 * * * *"\n` },
    code: "BAD_CRON",
    path: "schedule",
    message: /timeZone/,
  },
  {
    rule: "cron: day of week 7 (robfig/cron refuses it)",
    files: { [P]: `${yamlPipeline("broken")}schedule: "0 0 * * 7"\n` },
    code: "BAD_CRON",
    path: "schedule",
    message: /no 7 for Sunday: use 0 or SUN/,
  },
  {
    rule: "cron: a weekday range up to 7",
    files: { [P]: `${yamlPipeline("broken")}schedule: "0 0 * * 5-7"\n` },
    code: "BAD_CRON",
    path: "schedule",
  },
  {
    rule: "time zone in the wrong case (Go's names are case-sensitive)",
    files: { [P]: `${yamlPipeline("broken")}schedule: "@daily"\ntimeZone: europe/berlin\n` },
    code: "BAD_TIME_ZONE",
    path: "timeZone",
    message: /case-sensitive\. Did you mean "Europe\/Berlin"\?/,
  },
  {
    rule: "time zone etc/utc",
    files: { [P]: `${yamlPipeline("broken")}schedule: "@daily"\ntimeZone: etc/utc\n` },
    code: "BAD_TIME_ZONE",
    path: "timeZone",
  },
  {
    rule: "time zone removed from the database (SystemV)",
    files: { [P]: `${yamlPipeline("broken")}schedule: "@daily"\ntimeZone: SystemV/AST4\n` },
    code: "BAD_TIME_ZONE",
    path: "timeZone",
    message: /removed from the time-zone database/,
  },
  {
    rule: "time zone removed from the database (US/Pacific-New)",
    files: { [P]: `${yamlPipeline("broken")}schedule: "@daily"\ntimeZone: US/Pacific-New\n` },
    code: "BAD_TIME_ZONE",
    path: "timeZone",
    message: /use "America\/Los_Angeles"/,
  },
  {
    rule: "unknown time zone",
    files: { [P]: `${yamlPipeline("broken")}schedule: "@daily"\ntimeZone: Mars/Olympus_Mons\n` },
    code: "BAD_TIME_ZONE",
    path: "timeZone",
  },
  {
    rule: "timeout over 24h",
    files: { [P]: steps("    timeout: 25h\n") },
    code: "BAD_DURATION",
    path: "steps[1].timeout",
  },
  { rule: "zero timeout", files: { [P]: steps("    timeout: 0s\n") }, code: "BAD_DURATION", path: "steps[1].timeout" },
  {
    rule: "run timeout over a week",
    files: { [P]: `${yamlPipeline("broken")}runTimeout: 169h\n` },
    code: "BAD_DURATION",
    path: "runTimeout",
    message: /from 1s to 168h/,
  },
  {
    rule: "on-demand fallback after 0 interruptions",
    files: { [P]: steps("    onDemandAfterInterruptions: 0\n") },
    code: "INVALID_VALUE",
    path: "steps[1].onDemandAfterInterruptions",
    message: /from 1 to 10, or "never"/,
  },
  {
    rule: "bad image reference",
    files: { [P]: steps("    image: Registry/UPPER:1\n") },
    code: "BAD_IMAGE",
    path: "steps[1].image",
  },
  {
    rule: "image without tag",
    files: { [P]: steps("    image: registry.example.com/team/app\n") },
    code: "UNPINNED_IMAGE",
    path: "steps[1].image",
  },
  {
    rule: "image :latest",
    files: { [P]: steps("    image: registry.example.com/team/app:latest\n") },
    code: "UNPINNED_IMAGE",
    path: "steps[1].image",
  },
  {
    rule: "no image at all",
    files: {
      [P]: "name: broken\ndefaults: { resources: { requests: { cpu: 1m, memory: 8Mi } } }\nsteps:\n  - name: a\n",
    },
    code: "MISSING_IMAGE",
    path: "steps[0].image",
  },
  {
    rule: "secret as a literal value",
    files: { [P]: steps("    env: [{ name: DB_PASSWORD, value: hunter2 }]\n") },
    code: "SECRET_LITERAL",
    path: "steps[1].env[0].value",
  },
  {
    rule: "AWS key in args",
    files: { [P]: steps("    args: [--key, AKIAIOSFODNN7EXAMPLE]\n") },
    code: "SECRET_LITERAL",
    path: "steps[1].args[1]",
  },
  {
    rule: "password in a URL",
    files: { [P]: steps("    env: [{ name: DATABASE_URL, value: 'postgres://app:s3cret@db:5432/app' }]\n") },
    code: "SECRET_LITERAL",
    path: "steps[1].env[0].value",
  },
  {
    rule: "did you mean: a quantity in another convention",
    files: { [P]: yamlPipeline("broken").replace("memory: 128Mi", "memory: 16GB") },
    code: "INVALID_VALUE",
    path: "defaults.resources.requests.memory",
    message: /found "16GB"\. Did you mean "16Gi"\?/,
  },
  {
    rule: "did you mean: a field name's stem",
    files: { [P]: steps("    retry: 2\n") },
    code: "UNKNOWN_FIELD",
    path: "steps[1].retry",
    message: /Did you mean "retries"\?/,
  },
  {
    rule: "did you mean: a time zone",
    files: { [P]: `${yamlPipeline("broken")}schedule: "0 3 * * *"\ntimeZone: Europe/Berln\n` },
    code: "BAD_TIME_ZONE",
    path: "timeZone",
    message: /Did you mean "Europe\/Berlin"\?/,
  },
  {
    rule: "did you mean: a cluster",
    files: { [P]: `${yamlPipeline("broken")}clusters: [prd]\n` },
    code: "UNKNOWN_CLUSTER",
    path: "clusters[0]",
    message: /Did you mean "prod"\?/,
  },
  {
    rule: "an unclosed quote points at the line that opened it",
    files: { [P]: yamlPipeline("broken").replace("  - name: extract\n", '  - name: extract\n    command: [a, "b]\n') },
    code: "YAML_SYNTAX",
    path: "",
    message: /the quote opened on line 9 is never closed/,
  },
  {
    rule: "a parameter reference nobody declared",
    files: {
      [P]: `${steps("    command: [export, --day, $(DAGOPS_PARAM_DAY)]\n")}params:\n  date: { type: date, default: scheduled-date }\n`,
    },
    code: "UNKNOWN_PARAM",
    path: "steps[1].command[2]",
    message:
      /\$\(DAGOPS_PARAM_DAY\) names no parameter[^\n]*declared: DAGOPS_PARAM_DATE\. Did you mean "DAGOPS_PARAM_DATE"\?/,
  },
  {
    rule: "a parameter reference in env, with no params at all",
    files: { [P]: steps("    env: [{ name: DAY, value: $(DAGOPS_PARAM_DATE) }]\n") },
    code: "UNKNOWN_PARAM",
    path: "steps[1].env[0].value",
    message: /the pipeline declares no params/,
  },
  {
    rule: "reserved env name",
    files: { [P]: steps("    env: [{ name: DAGOPS_STEP, value: x }]\n") },
    code: "RESERVED_ENV",
    path: "steps[1].env[0].name",
  },
  {
    rule: "duplicate env name",
    files: { [P]: steps("    env: [{ name: A, value: x }, { name: A, value: y }]\n") },
    code: "DUPLICATE_ENV",
    path: "steps[1].env[1].name",
  },
  {
    rule: "an unpaired surrogate (a YAML escape)",
    files: { [P]: steps('    args: ["x\\uD800y"]\n') },
    code: "INVALID_VALUE",
    path: "steps[1].args[0]",
    message: /unpaired UTF-16 surrogate \(U\+D800\)/,
  },
  {
    rule: "memory as a bare number",
    files: { [P]: steps("    resources: { requests: { memory: 300 } }\n") },
    code: "WRONG_TYPE",
    path: "steps[1].resources.requests.memory",
    message: /quote it and give a unit, e\.g\. "300Mi"/,
  },
  {
    rule: "capacity typo gets a did-you-mean",
    files: { [P]: steps("    capacity: spott\n") },
    code: "INVALID_VALUE",
    path: "steps[1].capacity",
    message: /Did you mean "spot"\?/,
  },
  // Per-cluster overrides: each field validated as the base field, at its own path
  {
    rule: "override for an unknown cluster",
    files: { [P]: `${yamlPipeline("broken")}overrides:\n  stagin:\n    maxParallel: 2\n` },
    code: "UNKNOWN_CLUSTER",
    path: "overrides.stagin",
    message: /Did you mean "staging"\?/,
  },
  {
    rule: "override: unknown field",
    files: { [P]: `${yamlPipeline("broken")}overrides:\n  prod:\n    retries: 2\n` },
    code: "UNKNOWN_FIELD",
    path: "overrides.prod.retries",
    message: /iamRole, schedule, suspend/,
  },
  {
    rule: "override: bad IAM role",
    files: { [P]: `${yamlPipeline("broken")}overrides:\n  prod:\n    iamRole: my-role\n` },
    code: "INVALID_VALUE",
    path: "overrides.prod.iamRole",
  },
  {
    rule: "override: bad cron",
    files: { [P]: `${yamlPipeline("broken")}overrides:\n  staging:\n    schedule: "61 * * * *"\n` },
    code: "BAD_CRON",
    path: "overrides.staging.schedule",
  },
  {
    rule: "override: unknown time zone",
    files: { [P]: `${yamlPipeline("broken")}overrides:\n  staging:\n    timeZone: Mars/Olympus_Mons\n` },
    code: "BAD_TIME_ZONE",
    path: "overrides.staging.timeZone",
  },
  {
    rule: "override: unpinned image",
    files: { [P]: `${yamlPipeline("broken")}overrides:\n  prod:\n    image: registry.example.com/team/app:latest\n` },
    code: "UNPINNED_IMAGE",
    path: "overrides.prod.image",
  },
  {
    rule: "override: maxParallel 0",
    files: { [P]: `${yamlPipeline("broken")}overrides:\n  prod:\n    maxParallel: 0\n` },
    code: "INVALID_VALUE",
    path: "overrides.prod.maxParallel",
  },
  {
    rule: "override: secret in env",
    files: { [P]: `${yamlPipeline("broken")}overrides:\n  prod:\n    env: [{ name: API_TOKEN, value: abc123 }]\n` },
    code: "SECRET_LITERAL",
    path: "overrides.prod.env[0].value",
  },
  {
    rule: "override: reserved env",
    files: { [P]: `${yamlPipeline("broken")}overrides:\n  prod:\n    env: [{ name: DAGOPS_STEP, value: x }]\n` },
    code: "RESERVED_ENV",
    path: "overrides.prod.env[0].name",
  },
  // Parameters
  {
    rule: "params: a name that is not an env name",
    files: { [P]: `${yamlPipeline("broken")}params:\n  Run-Date: { type: date, default: scheduled-date }\n` },
    code: "INVALID_VALUE",
    path: "params.Run-Date",
    message: /lower-case letters, digits and _/,
  },
  {
    rule: "params: an unknown type",
    files: { [P]: `${yamlPipeline("broken")}params:\n  day: { type: datetime }\n` },
    code: "INVALID_VALUE",
    path: "params.day.type",
  },
  {
    rule: "params: a default of the wrong type",
    files: { [P]: `${yamlPipeline("broken")}params:\n  batch: { type: int, default: "ten" }\n` },
    code: "INVALID_VALUE",
    path: "params.batch.default",
    message: /parameter batch is an int: expected a whole number/,
  },
  {
    rule: "params: a date default that is no day",
    files: { [P]: `${yamlPipeline("broken")}params:\n  day: { type: date, default: "2026-02-30" }\n` },
    code: "INVALID_VALUE",
    path: "params.day.default",
  },
  {
    rule: "params: scheduled-date for an int",
    files: { [P]: `${yamlPipeline("broken")}params:\n  day: { type: int, default: scheduled-date }\n` },
    code: "INVALID_VALUE",
    path: "params.day.default",
    message: /scheduled-date gives a date; day is int/,
  },
  {
    rule: "params: a pattern on an int",
    files: { [P]: `${yamlPipeline("broken")}params:\n  n: { type: int, default: 1, pattern: "^[0-9]$" }\n` },
    code: "INVALID_VALUE",
    path: "params.n.pattern",
  },
  {
    rule: "params: a pattern that is no regular expression",
    files: { [P]: `${yamlPipeline("broken")}params:\n  t: { type: string, default: a, pattern: "([a-z" }\n` },
    code: "INVALID_VALUE",
    path: "params.t.pattern",
    message: /not a regular expression/,
  },
  {
    rule: "params: a default the pattern refuses",
    files: { [P]: `${yamlPipeline("broken")}params:\n  t: { type: string, default: ALL, pattern: "^[a-z]+$" }\n` },
    code: "INVALID_VALUE",
    path: "params.t.default",
    message: /must match/,
  },
  {
    rule: "params: no default on a scheduled pipeline",
    files: { [P]: `${yamlPipeline("broken")}schedule: "0 3 * * *"\nparams:\n  tenant: { type: string }\n` },
    code: "INVALID_VALUE",
    path: "params.tenant",
    message: /runs on a schedule, which gives no values/,
  },
  {
    rule: "concurrency: an unknown policy",
    files: { [P]: `${yamlPipeline("broken")}concurrency: queue\n` },
    code: "INVALID_VALUE",
    path: "concurrency",
  },

  // Tenant templates
  {
    rule: "template: tenants without template: true",
    files: { [P]: `${yamlPipeline("broken")}tenants: [{ name: acme }]\n` },
    code: "INVALID_VALUE",
    path: "tenants",
    message: /add template: true/,
  },
  {
    rule: "template: no tenants at all",
    files: { [P]: `${yamlPipeline("broken")}template: true\n` },
    code: "MISSING_FIELD",
    path: "tenants",
    message: /at least one tenant/,
  },
  {
    rule: "template: a tenant twice",
    files: { [P]: `${yamlPipeline("broken")}template: true\ntenants: [{ name: acme }, { name: acme }]\n` },
    code: "DUPLICATE_PIPELINE",
    path: "tenants[1].name",
  },
  {
    rule: "template: a tenant name that makes the pipeline name too long",
    files: {
      [P]: `${yamlPipeline("broken")}template: true\ntenants: [{ name: a-very-long-tenant-name-for-a-customer }]\n`,
    },
    code: "INVALID_VALUE",
    path: "tenants[0].name",
    message: /has 45 characters; a pipeline name has at most 40/,
  },
  {
    rule: "template: a value for a parameter the template does not declare",
    files: { [P]: `${yamlPipeline("broken")}template: true\ntenants: [{ name: acme, params: { region: eu } }]\n` },
    code: "INVALID_VALUE",
    path: "tenants[0].params.region",
    message: /declares no parameter region/,
  },
  {
    rule: "template: a tenant's value of the wrong type",
    files: {
      [P]: `${yamlPipeline("broken")}template: true\nparams: { shard: { type: int, default: 0 } }\ntenants: [{ name: acme, params: { shard: two } }]\n`,
    },
    code: "INVALID_VALUE",
    path: "tenants[0].params.shard",
    message: /tenant acme: parameter shard is an int/,
  },
  {
    rule: "template: a tenant's own override is checked, and named",
    files: {
      [P]: `${yamlPipeline("broken")}template: true\ntenants: [{ name: acme, overrides: { prod: { schedule: "61 * * * *" } } }]\n`,
    },
    code: "BAD_CRON",
    path: "tenants[0].overrides.prod.schedule",
    message: /tenant acme \(pipeline broken-acme\): invalid cron schedule "61/,
  },
  {
    rule: "template: tenants listed in the template and in a tenants file",
    files: {
      [P]: `${yamlPipeline("broken")}template: true\ntenants: [{ name: acme }]\n`,
      ["pipelines/broken.tenants.yaml"]: "- { name: globex }\n",
    },
    code: "INVALID_VALUE",
    path: "tenants",
    message: /listed here and in pipelines\/broken.tenants.yaml/,
  },
  {
    rule: "template: a tenants file with an unknown field",
    files: {
      [P]: `${yamlPipeline("broken")}template: true\n`,
      ["pipelines/broken.tenants.yaml"]: "- { name: acme }\n- { name: globex, iamRle: x }\n",
    },
    code: "UNKNOWN_FIELD",
    file: "pipelines/broken.tenants.yaml",
    path: "[1].iamRle",
    message: /Did you mean "iamRole"/,
  },
  {
    rule: "template: a tenants file without its template",
    files: { ["pipelines/broken.tenants.yaml"]: "- { name: acme }\n" },
    code: "INVALID_VALUE",
    file: "pipelines/broken.tenants.yaml",
    path: "",
    message: /without its template/,
  },
  {
    rule: "H: a schedule with H is still checked",
    files: { [P]: `${yamlPipeline("broken")}schedule: "H 25 * * *"\n` },
    code: "BAD_CRON",
    path: "schedule",
    message: /\(\d+ 25 \* \* \*\)/,
  },
];

describe("every validation rule: code, path, exit 1, nothing written", () => {
  let repo: TempRepo;
  let committed: Map<string, string>;
  before(async () => {
    repo = await tempRepo({ generated: true });
    committed = await snapshot(join(repo.root, "generated"));
  });
  after(() => repo.cleanup());

  for (const c of CASES) {
    test(c.rule, async () => {
      for (const [path, content] of Object.entries(c.files)) await repo.write(path, content);
      try {
        const { problems } = await loadProject(repo.root);
        const file = c.file ?? P;
        const hit = problems.find((p) => p.code === c.code && p.file === file && p.path === c.path);
        assert.ok(
          hit,
          `expected ${c.code} at ${file} ${c.path}; got:\n${problems.map((p) => `${p.code} ${p.file} ${p.path}: ${p.message}`).join("\n")}`,
        );
        if (c.message) assert.match(hit.message, c.message);
        assert.ok(hit.message.length > 10, "the message says what was expected and found");

        const io = captureIo(repo.root);
        assert.equal(await synth([], io), 1);
        assert.match(io.err.join(""), new RegExp(c.code));
        assert.match(io.err.join(""), /generated\/ was not changed/);
        assert.deepEqual(await snapshot(join(repo.root, "generated")), committed, "generated/ must be untouched");
      } finally {
        for (const path of Object.keys(c.files)) await repo.remove(path);
      }
    });
  }
});

test("all problems come at once: one file with three broken rules reports three", async () => {
  const repo = await tempRepo({ pipelines: false });
  try {
    await repo.write(
      P,
      yamlPipeline("broken", "    retries: x\n  - name: load\n    capacity: cheap\n    comand: [x]\n"),
    );
    const { problems } = await loadProject(repo.root);
    assert.deepEqual(problems.map((p) => p.code).sort(), ["INVALID_VALUE", "UNKNOWN_FIELD", "WRONG_TYPE"]);
    assert.ok(
      problems.every((p) => p.line !== undefined),
      "YAML problems carry their line",
    );
  } finally {
    await repo.cleanup();
  }
});

test("overrides: each cluster gets its own settings; env merged by name over the steps' env", async () => {
  const repo = await tempRepo({ pipelines: false });
  try {
    await repo.write(
      P,
      `${withStep("  - name: a\n    env: [{ name: LOG_LEVEL, value: info }, { name: KEEP, value: x }]\n  - name: b\n")}schedule: "0 2 * * *"\niamRole: arn:aws:iam::444455556666:role/base\noverrides:\n  staging:\n    iamRole: arn:aws:iam::111122223333:role/staging\n    suspend: true\n    maxParallel: 3\n    image: registry.example.com/team/app:2.0.0\n    env: [{ name: LOG_LEVEL, value: debug }, { name: EXTRA, value: "1" }]\n`,
    );
    const { problems, pipelines } = await loadProject(repo.root);
    assert.deepEqual(problems, []);
    const p = pipelines[0]!;
    const staging = forCluster(p, "staging");
    const prod = forCluster(p, "prod");
    assert.equal(prod, p, "a cluster without overrides gets the pipeline itself (and shares its plan)");
    assert.equal(prod.iamRole, "arn:aws:iam::444455556666:role/base");
    assert.deepEqual(
      [staging.iamRole, staging.suspend, staging.maxParallel, staging.steps[0]!.image],
      ["arn:aws:iam::111122223333:role/staging", true, 3, "registry.example.com/team/app:2.0.0"],
    );
    assert.deepEqual(staging.steps[0]!.env, [
      { name: "LOG_LEVEL", value: "debug" },
      { name: "KEEP", value: "x" },
      { name: "EXTRA", value: "1" },
    ]);
    assert.deepEqual(staging.steps[1]!.env, [
      { name: "LOG_LEVEL", value: "debug" },
      { name: "EXTRA", value: "1" },
    ]);
    assert.equal(prod.suspend, false);
  } finally {
    await repo.cleanup();
  }
});

test("overrides.<cluster>.notify replaces the pipeline's alerts in that cluster only", async () => {
  const repo = await tempRepo({ pipelines: false });
  try {
    await repo.write(
      P,
      `${yamlPipeline("broken")}notify: [{ on: [failed], webhook: { secretKeyRef: { name: alerts, key: url } }, format: slack }]\noverrides:\n  staging:\n    notify: []\n`,
    );
    const { problems, pipelines } = await loadProject(repo.root);
    assert.deepEqual(problems, []);
    assert.deepEqual(forCluster(pipelines[0]!, "staging").notify, []);
    assert.equal(forCluster(pipelines[0]!, "prod").notify[0]!.format, "slack");
  } finally {
    await repo.cleanup();
  }
});

test("one IAM role for clusters in different AWS accounts is a warning that names the fix", async () => {
  const repo = await tempRepo({ pipelines: false });
  try {
    await repo.write(P, `${yamlPipeline("broken")}iamRole: arn:aws:iam::111122223333:role/steps\n`);
    const { problems } = await loadProject(repo.root);
    const hit = problems.find((x) => x.code === "SHARED_ROLE");
    assert.ok(hit, problems.map((x) => x.code).join(", "));
    assert.equal(hit.severity, "warning");
    assert.equal(hit.path, "iamRole");
    assert.match(
      hit.message,
      /staging \(account 111122223333\), prod \(account 444455556666\).*overrides\.prod\.iamRole/,
    );
    await repo.write(
      P,
      `${yamlPipeline("broken")}iamRole: arn:aws:iam::111122223333:role/steps\noverrides:\n  prod:\n    iamRole: arn:aws:iam::444455556666:role/steps\n`,
    );
    assert.deepEqual((await loadProject(repo.root)).problems, []);
  } finally {
    await repo.cleanup();
  }
});

test("cpu as a number of cores is accepted, as Kubernetes accepts it", async () => {
  const repo = await tempRepo({ pipelines: false });
  try {
    await repo.write(P, withStep("  - name: a\n    resources: { requests: { cpu: 2 }, limits: { cpu: 2.5 } }\n"));
    const { problems, pipelines } = await loadProject(repo.root);
    assert.deepEqual(problems, []);
    assert.deepEqual(pipelines[0]!.steps[0]!.resources, {
      requests: { cpu: "2", memory: "128Mi" },
      limits: { cpu: "2.5" },
    });
  } finally {
    await repo.cleanup();
  }
});

test("a mistake in defaults is reported once, at defaults, with how many steps inherit it", async () => {
  const repo = await tempRepo({ pipelines: false });
  try {
    await repo.write(
      P,
      "name: broken\nimage: registry.example.com/a:1.0.0\ndefaults:\n  resources:\n    requests: { cpu: 100m, memory: 300m }\nsteps:\n  - name: a\n  - name: b\n  - name: c\n    resources: { requests: { memory: 1Gi } }\n",
    );
    const { problems } = await loadProject(repo.root);
    assert.deepEqual(
      problems.map((p) => [p.code, p.path]),
      [["BAD_QUANTITY", "defaults.resources.requests.memory"]],
    );
    assert.match(problems[0]!.message, /\(2 steps inherit it\)$/);
  } finally {
    await repo.cleanup();
  }
});

test("YAML errors: one message, with the line and column of the first error", async () => {
  const repo = await tempRepo({ pipelines: false });
  try {
    await repo.write(
      P,
      "name: broken\nimage: registry.example.com/a:1.0.0\nsteps:\n  - name: a\n    command: [run\n  - name: b\n",
    );
    const syntax = (await loadProject(repo.root)).problems;
    assert.deepEqual(
      syntax.map((p) => [p.code, p.line, p.column]),
      [["YAML_SYNTAX", 6, 3]],
    );
    await repo.write(P, "name: broken\nimage: registry.example.com/a:1.0.0\nsteps:\n  - name: a\n    name: b\n");
    const duplicate = (await loadProject(repo.root)).problems;
    assert.deepEqual(
      duplicate.map((p) => [p.code, p.line, p.column]),
      [["YAML_SYNTAX", 5, 5]],
    );
    assert.match(duplicate[0]!.message, /unique/);
    const io = captureIo(repo.root);
    assert.equal(await synth([], io), 1);
    assert.match(io.err.join(""), /\(file\) \(line 5, column 5\)\s+YAML_SYNTAX\s+Map keys must be unique/);
  } finally {
    await repo.cleanup();
  }
});

test("a broken platform configuration names the field", async () => {
  const repo = await tempRepo({ generated: true });
  try {
    const config = (await repo.read("platform.config.ts")).replace('accountId: "444455556666"', 'accountId: "4444"');
    await repo.write("platform.config.ts", config);
    const { problems } = await loadProject(repo.root);
    assert.ok(
      problems.some(
        (p) => p.code === "INVALID_VALUE" && p.file === "platform.config.ts" && p.path === "clusters[1].aws.accountId",
      ),
    );
    const io = captureIo(repo.root);
    assert.equal(await synth([], io), 1);
  } finally {
    await repo.cleanup();
  }
});

test("a pipeline whose plan outgrows the 1 MiB object limit: named in the pipeline, nothing written", async () => {
  const repo = await tempRepo({ generated: true });
  try {
    const before = await snapshot(join(repo.root, "generated"));
    const steps = Array.from(
      { length: 400 },
      (_, i) => `  - name: step-${i}\n    command: [run, "${"x".repeat(200)}"]\n`,
    ).join("");
    await repo.write(
      "pipelines/huge.yaml",
      `name: huge\nimage: registry.example.com/a:1.0.0\ndefaults: { resources: { requests: { cpu: 10m, memory: 16Mi } } }\nsteps:\n${steps}`,
    );
    const io = captureIo(repo.root);
    assert.equal(await synth([], io), 1);
    assert.match(io.err.join(""), /pipelines\/huge\.yaml: 2 problems/); // one per cluster
    assert.match(
      io.err.join(""),
      /steps\s+OBJECT_TOO_LARGE\s+generated\/(prod|staging)\/pipelines\/huge\/configmap-plan\.yaml would be \d+ bytes/,
    );
    assert.deepEqual(await snapshot(join(repo.root, "generated")), before);
  } finally {
    await repo.cleanup();
  }
});
