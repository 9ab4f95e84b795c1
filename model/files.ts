/** Where definitions live in a dagops repository, and the limits on reading them. */
export const PLATFORM_FILE = "platform.config.ts";
export const PIPELINES_DIR = "pipelines";
/** The published JSON Schema of pipelines: editors point YAML pipelines at it. */
export const SCHEMA_FILE = "schema/pipeline.schema.json";
/** The schema of a template's tenants file (`pipelines/<template>.tenants.yaml`). */
export const TENANTS_SCHEMA_FILE = "schema/tenants.schema.json";
/** The folder synth writes and Argo CD syncs. */
export const GENERATED_DIR = "generated";
/** Under generated/, synced by no Application: what each definition became (scripts/lib/cache.ts). */
export const CACHE_FILE = ".dagops-cache.json";
/** Larger pipeline files are refused before parsing: no real definition comes near it. */
export const MAX_SOURCE_BYTES = 1024 * 1024;
/** Names whose namespace (`dagops-<name>`) dagops uses itself. */
export const RESERVED_PIPELINE_NAMES: readonly string[] = ["system"];
/** The price and instance snapshot the cost model and capacity checks read, unless a cluster names its own. */
export const DEFAULT_PRICES_FILE = "data/aws-us-east-1.json";
/** The folders of dagops itself (code and the price data), as a repository copy for tests and benchmarks links them. */
export const CODE_DIRS: readonly string[] = ["cli", "model", "charts", "render", "runner", "ops", "cost", "checks", "review", "scripts", "data"];
