/** Where definitions live in a dagops repository, and the limits on reading them. */
export const PLATFORM_FILE = "platform.config.ts";
export const PIPELINES_DIR = "pipelines";
/** Larger pipeline files are refused before parsing: no real definition comes near it. */
export const MAX_SOURCE_BYTES = 1024 * 1024;
/** Names whose namespace (`dagops-<name>`) dagops uses itself. */
export const RESERVED_PIPELINE_NAMES: readonly string[] = ["system"];
