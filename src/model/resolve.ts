/**
 * Semantic rules and defaults: turns a schema-valid definition into a ResolvedPipeline, in which
 * every value the charts need is present and checked (quantities, limits >= requests, cron, time
 * zone, durations, images, credentials in plain sight).
 */
import { cronError, resolveHashed } from "./cron.ts";
import { parseDuration } from "../contract/duration.ts";
import { isPinned, parseImage } from "./image.ts";
import { declarationProblems, paramEnvName, type ParamDeclaration } from "../contract/params.ts";
import {
  MAX_RUN_TIMEOUT_SECONDS,
  MAX_TIMEOUT_SECONDS,
  PIPELINE_DEFAULTS,
  type Capacity,
  type Concurrency,
  type EnvVar,
  type NotifyRule,
  type PipelineDefinition,
  type ResourceList,
} from "./pipeline.ts";
import { didYouMean, fieldPath, hasErrors, problem, type Problem } from "../contract/problems.ts";
import { cpuMillis, memoryBytes, quantitySuffix } from "./quantity.ts";
import { isSecretName, secretInValue } from "./secrets.ts";
import { byKey, getOrSet } from "../contract/order.ts";

export interface ResolvedResources {
  readonly requests: { readonly cpu: string; readonly memory: string };
  readonly limits: ResourceList;
}

export interface ResolvedStep {
  readonly name: string;
  readonly image: string;
  readonly command?: readonly string[];
  readonly args?: readonly string[];
  readonly env: readonly EnvVar[];
  readonly dependsOn: readonly string[];
  readonly resources: ResolvedResources;
  readonly retries: number;
  readonly timeoutSeconds: number;
  readonly capacity: Capacity;
  /** Spot interruptions after which attempts run on-demand; null: never. */
  readonly onDemandAfterInterruptions: number | null;
  /** How long the step usually runs (the cost model's input); null when not given. */
  readonly estimateSeconds: number | null;
}

export interface ResolvedPipeline {
  readonly name: string;
  /** Repository-relative path of the definition, for headers and messages. */
  readonly source: string;
  readonly description?: string;
  readonly schedule?: string;
  readonly timeZone: string;
  readonly clusters: readonly string[];
  readonly iamRole?: string;
  readonly maxParallel: number;
  readonly runTimeoutSeconds: number;
  /** Run records kept per pipeline and cluster. */
  readonly historyKeep: number;
  readonly schedulingTimeoutSeconds: number;
  readonly notify: readonly NotifyRule[];
  readonly prewarm: boolean;
  /** Declared run parameters, by name (sorted). */
  readonly params: Readonly<Record<string, ParamDeclaration>>;
  readonly concurrency: Concurrency;
  /** The CronJob is suspended: by `suspend: true`, or because there is no schedule. */
  readonly suspend: boolean;
  readonly steps: readonly ResolvedStep[];
  /** The template this pipeline is a tenant of, if any. */
  readonly template?: string;
  /** The pipeline as each cluster with `overrides` gets it; other clusters get this one. */
  readonly overridden: Readonly<Record<string, ResolvedPipeline>>;
}

/** The pipeline as one cluster gets it: its override when it has one, else the pipeline itself. */
export function forCluster(p: ResolvedPipeline, cluster: string): ResolvedPipeline {
  return p.overridden[cluster] ?? p;
}

export const RESERVED_ENV_PREFIX = "DAGOPS_";

export function resolvePipeline(
  def: PipelineDefinition,
  file: string,
  knownClusters: readonly string[],
): { pipeline?: ResolvedPipeline; problems: Problem[] } {
  const base = resolveBase(def, file, knownClusters);
  const problems = [...base.problems];
  const report = (
    code: Problem["code"],
    path: (string | number)[],
    message: string,
    severity: Problem["severity"] = "error",
  ) => problems.push(problem(code, file, fieldPath(path), message, severity));
  const targets = def.clusters ?? knownClusters;
  const overrides = Object.entries(def.overrides ?? {});
  for (const [cluster, o] of overrides) {
    const at = (...rest: (string | number)[]) => ["overrides", cluster, ...rest];
    if (!knownClusters.includes(cluster)) {
      report(
        "UNKNOWN_CLUSTER",
        at(),
        `unknown cluster ${JSON.stringify(cluster)} in overrides; the platform configuration defines: ${knownClusters.join(", ")}.${didYouMean(cluster, knownClusters)}`,
      );
      continue;
    }
    if (!targets.includes(cluster))
      report(
        "UNKNOWN_CLUSTER",
        at(),
        `the pipeline does not deploy to ${cluster} (clusters: ${targets.join(", ")}), so this override has no effect; add ${cluster} to clusters or remove the override`,
        "warning",
      );
    if (o.schedule !== undefined) {
      const err = cronError(resolveHashed(o.schedule, def.name));
      if (err) report("BAD_CRON", at("schedule"), `invalid cron schedule ${JSON.stringify(o.schedule)}: ${err}`);
    }
    const zoneError = o.timeZone === undefined ? undefined : timeZoneError(o.timeZone);
    if (zoneError) report("BAD_TIME_ZONE", at("timeZone"), zoneError);
    if (o.image !== undefined) checkImage(o.image, at("image"), report);
    if (o.env !== undefined) checkEnv(o.env, at("env"), report);
  }
  if (hasErrors(problems) || !base.pipeline) return { problems };
  const overridden: Record<string, ResolvedPipeline> = {};
  for (const [cluster, o] of overrides) {
    if (!targets.includes(cluster)) continue;
    const merged: PipelineDefinition = {
      ...def,
      ...pick(o, ["iamRole", "schedule", "suspend", "timeZone", "image", "maxParallel", "notify"]),
      steps: o.env ? def.steps.map((step) => ({ ...step, env: mergeEnv(step.env ?? [], o.env!) })) : def.steps,
    };
    const variant = resolveBase(merged, file, knownClusters);
    // Every override field was checked above; anything else would be a dagops bug, reported where it came from.
    for (const p of variant.problems)
      problems.push({ ...p, path: fieldPath(["overrides", cluster]), message: `in cluster ${cluster}: ${p.message}` });
    if (variant.pipeline) overridden[cluster] = variant.pipeline;
  }
  if (hasErrors(problems)) return { problems };
  return { problems, pipeline: { ...base.pipeline, overridden } };
}

/** A step's env with an override's entries merged in by name: same name replaces, new names are added after. */
export function mergeEnv(own: readonly EnvVar[], override: readonly EnvVar[]): EnvVar[] {
  const byName = new Map(override.map((e) => [e.name, e]));
  const merged = own.map((e) => byName.get(e.name) ?? e);
  const names = new Set(own.map((e) => e.name));
  return [...merged, ...override.filter((e) => !names.has(e.name))];
}

function pick<T extends object, K extends keyof T>(o: T, keys: readonly K[]): Partial<Pick<T, K>> {
  const out: Partial<Pick<T, K>> = {};
  for (const k of keys) if (o[k] !== undefined) out[k] = o[k];
  return out;
}

/**
 * An IRSA role trusts the OIDC provider of the clusters named in its trust policy, normally in
 * its own account: one role for clusters in different AWS accounts is almost always a mistake.
 */
export function sharedRoleProblems(p: ResolvedPipeline, accountOf: ReadonlyMap<string, string>): Problem[] {
  const byRole = new Map<string, string[]>();
  for (const cluster of p.clusters) {
    const role = forCluster(p, cluster).iamRole;
    if (role !== undefined) getOrSet(byRole, role, () => []).push(cluster);
  }
  const problems: Problem[] = [];
  for (const [role, clusters] of byRole) {
    const accounts = [...new Set(clusters.map((c) => accountOf.get(c)))];
    if (accounts.length < 2) continue;
    const where = clusters.map((c) => `${c} (account ${accountOf.get(c)})`).join(", ");
    const fix = clusters.filter((c) => accountOf.get(c) !== role.split(":")[4]).map((c) => `overrides.${c}.iamRole`);
    problems.push(
      problem(
        "SHARED_ROLE",
        p.source,
        p.iamRole === role ? "iamRole" : fieldPath(["overrides", clusters[0]!, "iamRole"]),
        `one IAM role, ${role}, for clusters in different AWS accounts: ${where}. An IRSA role trusts one account's cluster OIDC providers; set ${fix.length ? fix.join(" and ") : "overrides.<cluster>.iamRole"} to a role in that cluster's account`,
        "warning",
      ),
    );
  }
  return problems;
}

function resolveBase(
  def: PipelineDefinition,
  file: string,
  knownClusters: readonly string[],
): { pipeline?: ResolvedPipeline; problems: Problem[] } {
  const problems: Problem[] = [];
  const report = (code: Problem["code"], path: (string | number)[], message: string) =>
    problems.push(problem(code, file, fieldPath(path), message));

  (def.clusters ?? []).forEach((c, i) => {
    if (!knownClusters.includes(c))
      report(
        "UNKNOWN_CLUSTER",
        ["clusters", i],
        `unknown cluster ${JSON.stringify(c)}; the platform configuration defines: ${knownClusters.join(", ")}.${didYouMean(c, knownClusters)}`,
      );
  });
  // H in a field: a value from the hash of the pipeline's name (see resolveHashed).
  const schedule = def.schedule === undefined ? undefined : resolveHashed(def.schedule, def.name).trim();
  if (def.schedule !== undefined) {
    const err = cronError(schedule!);
    if (err)
      report(
        "BAD_CRON",
        ["schedule"],
        `invalid cron schedule ${JSON.stringify(def.schedule)}${schedule !== def.schedule.trim() ? ` (${schedule})` : ""}: ${err}`,
      );
  }
  const timeZone = def.timeZone ?? PIPELINE_DEFAULTS.timeZone;
  // The default is ours, and valid (a test holds it): only a zone the definition names is checked
  // (with Intl, whose start alone is a noticeable part of a one-pipeline synth).
  const zoneError = def.timeZone === undefined ? undefined : timeZoneError(def.timeZone);
  if (zoneError) report("BAD_TIME_ZONE", ["timeZone"], zoneError);

  const seconds = (text: string, path: (string | number)[], max: number, example: string): number => {
    const value = parseDuration(text);
    if (value === undefined || value <= 0 || value > max) {
      report(
        "BAD_DURATION",
        path,
        `expected a duration from 1s to ${max / 3600}h such as ${example}, found ${JSON.stringify(text)}`,
      );
      return 0;
    }
    return value;
  };
  const timeout = (text: string | undefined, path: (string | number)[]) =>
    seconds(text ?? PIPELINE_DEFAULTS.timeout, path, MAX_TIMEOUT_SECONDS, '"45m" or "2h"');
  const defaults = def.defaults ?? {};
  const defaultTimeout = timeout(defaults.timeout, ["defaults", "timeout"]);
  const defaultEstimate = defaults.estimate !== undefined ? timeout(defaults.estimate, ["defaults", "estimate"]) : null;
  const schedulingTimeoutSeconds = timeout(def.schedulingTimeout ?? PIPELINE_DEFAULTS.schedulingTimeout, [
    "schedulingTimeout",
  ]);
  const runTimeoutSeconds = seconds(
    def.runTimeout ?? PIPELINE_DEFAULTS.runTimeout,
    ["runTimeout"],
    MAX_RUN_TIMEOUT_SECONDS,
    '"6h" or "1h30m"',
  );

  const params = Object.fromEntries(Object.entries(def.params ?? {}).sort(byKey));
  for (const [name, decl] of Object.entries(params)) {
    for (const p of declarationProblems(name, decl))
      report("INVALID_VALUE", p.field ? ["params", name, p.field] : ["params", name], p.message);
    const scheduled = def.schedule !== undefined && def.suspend !== true;
    if (decl.default === undefined && scheduled) {
      report(
        "INVALID_VALUE",
        ["params", name],
        `parameter ${name} has no default, but the pipeline runs on a schedule, which gives no values: add a default (a literal, scheduled-date or scheduled-time)`,
      );
    }
  }

  // `$(DAGOPS_PARAM_X)` of a parameter nobody declared: Kubernetes would pass it on as literal text.
  const declared = Object.keys(params).map(paramEnvName);
  const paramReferences = (value: string, path: (string | number)[]) => {
    for (const m of value.matchAll(/\$\((DAGOPS_PARAM_[A-Za-z0-9_]*)\)/g)) {
      if (declared.includes(m[1]!)) continue;
      const known = declared.length ? `declared: ${declared.join(", ")}.` : "the pipeline declares no params.";
      report(
        "UNKNOWN_PARAM",
        path,
        `$(${m[1]}) names no parameter of this pipeline; ${known}${didYouMean(m[1]!, declared)} Declare it under params:, or the step sees the text "$(${m[1]})" as it is`,
      );
    }
  };
  const steps: ResolvedStep[] = def.steps.map((s, i) => {
    const at = (...rest: (string | number)[]) => ["steps", i, ...rest];
    const image = s.image ?? def.image;
    if (image === undefined)
      report(
        "MISSING_IMAGE",
        at("image"),
        `step ${JSON.stringify(s.name)} has no image; set steps[${i}].image or the pipeline's image`,
      );
    else checkImage(image, s.image !== undefined ? at("image") : ["image"], report);

    const resources = resolveResources(s.resources, defaults.resources, i, report);
    checkEnv(s.env ?? [], at("env"), report);
    [
      ...(s.command ?? []).map((v, j) => [v, "command", j] as const),
      ...(s.args ?? []).map((v, j) => [v, "args", j] as const),
    ].forEach(([v, key, j]) => {
      const what = secretInValue(v);
      if (what)
        report(
          "SECRET_LITERAL",
          at(key, j),
          `this looks like ${what}; never put credentials in git. Read it from a Secret through env[].valueFrom.secretKeyRef`,
        );
      paramReferences(v, at(key, j));
    });
    (s.env ?? []).forEach((e, j) => typeof e.value === "string" && paramReferences(e.value, at("env", j, "value")));
    return {
      name: s.name,
      image: image ?? "",
      ...(s.command ? { command: s.command } : {}),
      ...(s.args ? { args: s.args } : {}),
      env: s.env ?? [],
      dependsOn: s.dependsOn ?? [],
      resources,
      retries: s.retries ?? defaults.retries ?? PIPELINE_DEFAULTS.retries,
      timeoutSeconds: s.timeout !== undefined ? timeout(s.timeout, at("timeout")) : defaultTimeout,
      capacity: s.capacity ?? defaults.capacity ?? PIPELINE_DEFAULTS.capacity,
      onDemandAfterInterruptions: countOrNever(
        s.onDemandAfterInterruptions ??
          defaults.onDemandAfterInterruptions ??
          PIPELINE_DEFAULTS.onDemandAfterInterruptions,
      ),
      estimateSeconds:
        s.estimate !== undefined
          ? timeout(s.estimate, at("estimate"))
          : defaults.estimate !== undefined
            ? defaultEstimate
            : null,
    };
  });

  if (problems.length > 0) return { problems: onceForDefaults(problems) };
  return {
    problems,
    pipeline: {
      name: def.name,
      source: file,
      ...(def.description !== undefined ? { description: def.description } : {}),
      ...(schedule !== undefined ? { schedule } : {}),
      timeZone,
      clusters: def.clusters ?? knownClusters,
      ...(def.iamRole !== undefined ? { iamRole: def.iamRole } : {}),
      maxParallel: def.maxParallel ?? PIPELINE_DEFAULTS.maxParallel,
      runTimeoutSeconds,
      historyKeep: def.history?.keep ?? PIPELINE_DEFAULTS.historyKeep,
      schedulingTimeoutSeconds,
      notify: def.notify ?? [],
      prewarm: def.prewarm ?? false,
      params,
      concurrency: def.concurrency ?? PIPELINE_DEFAULTS.concurrency,
      suspend: def.suspend === true || def.schedule === undefined,
      steps,
      overridden: {},
    },
  };
}

/**
 * A mistake in `defaults` is found once per step that inherits it: report it once, at
 * `defaults`, saying how many steps it affects.
 */
function onceForDefaults(problems: readonly Problem[]): Problem[] {
  const counts = new Map<string, number>();
  const key = (p: Problem) => `${p.code}\u0000${p.path}`;
  for (const p of problems) if (p.path.startsWith("defaults")) counts.set(key(p), (counts.get(key(p)) ?? 0) + 1);
  const out: Problem[] = [];
  for (const p of problems) {
    const n = counts.get(key(p));
    if (n === undefined) out.push(p);
    else if (n > 0) {
      out.push(n > 1 ? { ...p, message: `${p.message} (${n} steps inherit it)` } : p);
      counts.set(key(p), 0);
    }
  }
  return out;
}

function countOrNever(value: number | "never"): number | null {
  return value === "never" ? null : value;
}

type Report = (code: Problem["code"], path: (string | number)[], message: string) => void;

function checkImage(image: string, path: (string | number)[], report: Report): void {
  const ref = parseImage(image);
  if (!ref)
    report(
      "BAD_IMAGE",
      path,
      `invalid image reference ${JSON.stringify(image)}; expected [registry/]repository[:tag][@sha256:digest] in lowercase`,
    );
  else if (!isPinned(ref)) {
    report(
      "UNPINNED_IMAGE",
      path,
      `image ${JSON.stringify(image)} is not pinned; add a version tag or @sha256 digest (not "latest") so that a git revert restores the same code`,
    );
  }
}

function resolveResources(
  own: { requests?: ResourceList; limits?: ResourceList } | undefined,
  defaults: { requests?: ResourceList; limits?: ResourceList } | undefined,
  i: number,
  report: Report,
): ResolvedResources {
  type Kind = "requests" | "limits";
  type Res = "cpu" | "memory";
  const pick = (kind: Kind, res: Res): { value?: string; path: (string | number)[] } => {
    // A number of cores (`cpu: 2`) is the quantity "2".
    const mine = own?.[kind]?.[res];
    if (mine !== undefined) return { value: String(mine), path: ["steps", i, "resources", kind, res] };
    const inherited = defaults?.[kind]?.[res];
    return inherited !== undefined
      ? { value: String(inherited), path: ["defaults", "resources", kind, res] }
      : { path: ["steps", i, "resources", kind, res] };
  };
  const amount = (res: Res, v: { value?: string; path: (string | number)[] }): number | undefined => {
    if (v.value === undefined) return undefined;
    const suffix = quantitySuffix(v.value);
    if (res === "memory") {
      if (suffix === "m") {
        report(
          "BAD_QUANTITY",
          v.path,
          `memory ${JSON.stringify(v.value)} means ${v.value.slice(0, -1)} thousandths of a byte; did you mean "${v.value.slice(0, -1)}Mi"?`,
        );
        return undefined;
      }
      const bytes = memoryBytes(v.value)!;
      if (bytes < 4 * 2 ** 20) {
        report(
          "BAD_QUANTITY",
          v.path,
          `memory ${JSON.stringify(v.value)} is below 4Mi, too little for any container; use a binary suffix such as "300Mi"`,
        );
        return undefined;
      }
      return bytes;
    }
    if (/i$/.test(suffix)) {
      report(
        "BAD_QUANTITY",
        v.path,
        `cpu ${JSON.stringify(v.value)} has a memory suffix; CPU is in cores ("1") or millicores ("500m")`,
      );
      return undefined;
    }
    const millis = cpuMillis(v.value)!;
    if (millis < 1) {
      report(
        "BAD_QUANTITY",
        v.path,
        `cpu ${JSON.stringify(v.value)} is below 1m, the smallest CPU amount Kubernetes can express`,
      );
      return undefined;
    }
    return millis;
  };

  const requests: Record<string, string> = {};
  const limits: Record<string, string> = {};
  for (const res of ["cpu", "memory"] as const) {
    const req = pick("requests", res);
    const lim = pick("limits", res);
    const r = amount(res, req);
    const l = amount(res, lim);
    if (req.value === undefined) {
      report(
        "MISSING_REQUESTS",
        req.path,
        `no ${res} request; set steps[${i}].resources.requests.${res} or defaults.resources.requests.${res} (Karpenter sizes nodes from requests)`,
      );
    } else requests[res] = req.value;
    if (lim.value !== undefined) limits[res] = lim.value;
    if (r !== undefined && l !== undefined && l < r) {
      report(
        "LIMIT_BELOW_REQUEST",
        lim.path,
        `${res} limit ${JSON.stringify(lim.value)} is below the request ${JSON.stringify(req.value)} (from ${fieldPath(req.path)}); a limit must be at least the request`,
      );
    }
  }
  return { requests: requests as ResolvedResources["requests"], limits };
}

function checkEnv(env: readonly EnvVar[], path: (string | number)[], report: Report): void {
  const seen = new Map<string, number>();
  env.forEach((e, j) => {
    const at = [...path, j];
    const first = seen.get(e.name);
    if (first !== undefined)
      report(
        "DUPLICATE_ENV",
        [...at, "name"],
        `env ${JSON.stringify(e.name)} is already set at ${fieldPath([...path, first])}`,
      );
    else seen.set(e.name, j);
    if (e.name.startsWith(RESERVED_ENV_PREFIX))
      report(
        "RESERVED_ENV",
        [...at, "name"],
        `env names starting with ${RESERVED_ENV_PREFIX} are set by dagops; rename ${JSON.stringify(e.name)}`,
      );
    if (e.value !== undefined && e.value !== "") {
      const what = secretInValue(e.value);
      if (what)
        report(
          "SECRET_LITERAL",
          [...at, "value"],
          `this looks like ${what}; never put credentials in git. Use valueFrom.secretKeyRef`,
        );
      else if (isSecretName(e.name)) {
        report(
          "SECRET_LITERAL",
          [...at, "value"],
          `${JSON.stringify(e.name)} looks like a credential but has a literal value; use valueFrom.secretKeyRef (rename the variable if it is not a secret)`,
        );
      }
    }
  });
}

const zoneCache = new Map<string, string | undefined>();
/** Zones the 2020b release of the time-zone database removed; Go's copy (the API server's) has none of them. */
const REMOVED_ZONES = /^(SystemV\/.*|US\/Pacific-New)$/;

/**
 * Why `zone` is not a time zone the API server accepts, or undefined. Kubernetes validates
 * `timeZone` with Go's time-zone database, where names are case-sensitive; ICU (Intl) accepts
 * any case and some removed names, so both are checked here.
 */
export function timeZoneError(zone: string): string | undefined {
  if (zoneCache.has(zone)) return zoneCache.get(zone);
  let error: string | undefined;
  let canonical: string | undefined;
  try {
    canonical = new Intl.DateTimeFormat("en-US", { timeZone: zone }).resolvedOptions().timeZone;
  } catch {
    canonical = undefined;
  }
  const expected = 'expected an IANA name such as "Etc/UTC" or "Europe/Berlin"';
  if (canonical === undefined || !(zone.includes("/") || zone === "UTC"))
    error = `unknown time zone ${JSON.stringify(zone)}; ${expected}.${didYouMean(zone, Intl.supportedValuesOf("timeZone"))}`;
  else if (REMOVED_ZONES.test(zone))
    error = `time zone ${JSON.stringify(zone)} was removed from the time-zone database in 2020 and Kubernetes does not know it; use ${canonical !== zone ? JSON.stringify(canonical) : 'the zone of a city, such as "America/Puerto_Rico"'}`;
  else if (
    !zone.split("/").every((part) => /^[A-Z]/.test(part)) ||
    (canonical.toLowerCase() === zone.toLowerCase() && canonical !== zone)
  ) {
    error = `unknown time zone ${JSON.stringify(zone)}: Kubernetes reads time zones from Go's database, where names are case-sensitive. Did you mean ${JSON.stringify(canonical)}?`;
  }
  zoneCache.set(zone, error);
  return error;
}
