/**
 * Tenant templates: one definition with `template: true` and a list of tenants becomes one
 * pipeline per tenant, `<template>-<tenant>`, each with its own namespace, CronJob, plan and
 * Application. A tenant gives values for the template's params (they become that pipeline's
 * defaults), and may set its own IAM role, schedule, suspension, clusters and overrides.
 * Tenants are listed in the template (`tenants:`) or in `pipelines/<template>.tenants.yaml`, so
 * that adding one is a one-line change. Pure: the loader reads the files.
 */
import { checkValue } from "../contract/params.ts";
import { NAME_BUDGET, type PipelineDefinition, type Tenant } from "./pipeline.ts";
import { fieldPath, problem, type Problem } from "../contract/problems.ts";

/** `classify` + `classify.tenants.yaml`. */
export const TENANTS_SUFFIX = ".tenants";

export function instanceName(template: string, tenant: string): string {
  return `${template}-${tenant}`;
}

/**
 * The pipelines of a template, or the problems that stop them. `tenantsFile` is where the list
 * came from (the template itself, or its tenants file) and `at` the path of the list in it.
 */
export function expandTemplate(
  def: PipelineDefinition,
  tenants: readonly Tenant[],
  tenantsFile: string,
  at: readonly (string | number)[],
): { instances: PipelineDefinition[]; problems: Problem[] } {
  const problems: Problem[] = [];
  const report = (path: (string | number)[], message: string, code: Problem["code"] = "INVALID_VALUE") =>
    problems.push(problem(code, tenantsFile, fieldPath([...at, ...path]), message));
  const seen = new Map<string, number>();
  const declared = def.params ?? {};
  tenants.forEach((t, i) => {
    const name = instanceName(def.name, t.name);
    if (seen.has(t.name))
      report(
        [i, "name"],
        `tenant ${JSON.stringify(t.name)} is listed twice (also at ${fieldPath([...at, seen.get(t.name)!])}); keep one`,
        "DUPLICATE_PIPELINE",
      );
    seen.set(t.name, i);
    if (name.length > NAME_BUDGET.pipeline)
      report(
        [i, "name"],
        `the tenant's pipeline ${name} has ${name.length} characters; a pipeline name has at most ${NAME_BUDGET.pipeline} (room for the suffixes of run and step Jobs): shorten the tenant's or the template's name`,
      );
    for (const [param, value] of Object.entries(t.params ?? {})) {
      const decl = declared[param];
      if (!decl) {
        const names = Object.keys(declared).sort();
        report(
          [i, "params", param],
          `the template declares no parameter ${param}; ${names.length ? `it declares: ${names.join(", ")}` : "add it under params"}`,
        );
        continue;
      }
      const checked = checkValue(param, decl, value);
      if (checked.kind === "error") report([i, "params", param], `tenant ${t.name}: ${checked.error}`);
    }
  });
  if (tenants.length === 0) report([], `a template needs at least one tenant, found none`, "MISSING_FIELD");
  if (problems.length) return { instances: [], problems };
  const { template: _template, tenants: _tenants, ...base } = def;
  const instances = tenants.map((t): PipelineDefinition => {
    const params = Object.fromEntries(
      Object.entries(declared).map(([k, decl]) => [
        k,
        t.params?.[k] !== undefined ? { ...decl, default: t.params[k] } : decl,
      ]),
    );
    const clusters = new Set([...Object.keys(base.overrides ?? {}), ...Object.keys(t.overrides ?? {})]);
    const overrides = Object.fromEntries(
      [...clusters].sort().map((c) => [c, { ...base.overrides?.[c], ...t.overrides?.[c] }]),
    );
    return {
      ...base,
      name: instanceName(def.name, t.name),
      ...(Object.keys(params).length ? { params } : {}),
      ...(t.iamRole !== undefined ? { iamRole: t.iamRole } : {}),
      ...(t.schedule !== undefined ? { schedule: t.schedule } : {}),
      ...(t.suspend !== undefined ? { suspend: t.suspend } : {}),
      ...(t.clusters !== undefined ? { clusters: t.clusters } : {}),
      ...(clusters.size ? { overrides } : {}),
    };
  });
  return { instances, problems };
}
