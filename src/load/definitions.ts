/** Which files in pipelines/ are definitions, and which are tenants files of templates. No dependencies: the no-op path of synth reads only these. */
import { createHash } from "node:crypto";
import { readdir } from "node:fs/promises";
import { join } from "node:path";
import { PIPELINES_DIR } from "../model/files.ts";
import { TENANTS_SUFFIX } from "../model/template.ts";

/** Pipeline files, sorted: `*.ts`, `*.yaml`, `*.yml`; names starting with `_` or `.` are helpers and skipped. */
export async function pipelineFiles(root: string): Promise<string[]> {
  return (await definitionEntries(root))
    .filter((f) => /\.(ts|ya?ml)$/.test(f) && !f.endsWith(".d.ts") && !isTenantsFile(f))
    .map((f) => `${PIPELINES_DIR}/${f}`);
}

/** `pipelines/<template>.tenants.yaml` files, sorted. */
export async function tenantsFiles(root: string): Promise<string[]> {
  return (await definitionEntries(root)).filter(isTenantsFile).map((f) => `${PIPELINES_DIR}/${f}`);
}

const TENANTS_FILE = new RegExp(`\\${TENANTS_SUFFIX}\\.ya?ml$`);
const isTenantsFile = (f: string) => TENANTS_FILE.test(f);

/** The names in pipelines/, sorted, without helpers (`_x`, `.x`). */
async function definitionEntries(root: string): Promise<string[]> {
  try {
    return (await readdir(join(root, PIPELINES_DIR))).filter((f) => !/^[_.]/.test(f)).sort();
  } catch {
    return [];
  }
}

/** `pipelines/x.yaml` and `pipelines/x.tenants.yaml` → `pipelines/x`: what pairs a template with its tenants file. */
const stem = (f: string) => f.replace(/\.tenants\.ya?ml$/, "").replace(/\.(ts|ya?ml)$/, "");

/** The tenants file of a definition, if there is one. */
export function tenantsFileOf(file: string, tenants: readonly string[]): string | undefined {
  return tenants.find((t) => stem(t) === stem(file));
}

/** Tenants files whose template is not among `files`. */
export function orphanTenantsFiles(files: readonly string[], tenants: readonly string[]): string[] {
  return tenants.filter((t) => !files.some((f) => stem(f) === stem(t)));
}

/** sha256 of a value's JSON: a tenant's entry. */
export function jsonHash(value: unknown): string {
  return createHash("sha256").update(JSON.stringify(value)).digest("hex");
}
