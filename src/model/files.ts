import manifest from "../../package.json" with { type: "json" };

/** Where definitions live in a dagops repository, and the limits on reading them. */
export const PLATFORM_FILE = "platform.config.ts";
export const PIPELINES_DIR = "pipelines";
/** The published JSON Schema of pipelines: editors point YAML pipelines at it. */
export const SCHEMA_FILE = "schema/pipeline.schema.json";
/** The schema of a template's tenants file (`pipelines/<template>.tenants.yaml`). */
export const TENANTS_SCHEMA_FILE = "schema/tenants.schema.json";
/** The folder synth writes and Argo CD syncs. */
export const GENERATED_DIR = "generated";
/**
 * Beside the files of each pipeline folder and each cluster folder: what they were rendered from
 * (src/incremental/stamps.ts). No Application syncs it: Argo CD reads only .yaml, .yml, .json and
 * .jsonnet files of a directory source.
 */
export const STAMP_FILE = "dagops.stamp";

/** Whether a path (under generated/ or with it) is a stamp: bookkeeping that no Application syncs, left out of reviews. */
export function isStamp(path: string): boolean {
  return path === STAMP_FILE || path.endsWith(`/${STAMP_FILE}`);
}
/** Larger pipeline files are refused before parsing: no real definition comes near it. */
export const MAX_SOURCE_BYTES = 1024 * 1024;
/** Names whose namespace (`dagops-<name>`) dagops uses itself. */
export const RESERVED_PIPELINE_NAMES: readonly string[] = ["system"];
/** The price and instance snapshot the cost model and capacity checks read, unless a cluster names its own. */
export const DEFAULT_PRICES_FILE = "data/aws-us-east-1.json";
/**
 * The folders of dagops itself (code and the price data): package.json "dagops.code", the one
 * list that the launcher (src/cli/run.mjs), the stamps' key and the tests' repository copies read.
 */
export const CODE_DIRS: readonly string[] = manifest.dagops.code;
