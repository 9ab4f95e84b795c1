/** The published JSON Schemas, as committed: editors point YAML pipelines and tenants files at them. */
import { SCHEMA_FILE, TENANTS_SCHEMA_FILE } from "../model/files.ts";
import { pipelineSchema, tenantsSchema } from "../model/pipeline-schema.ts";

/** The published JSON Schema, as committed: editors point YAML pipelines at it. */
export function schemaFileContent(): string {
  return `${JSON.stringify(pipelineSchema, null, 2)}\n`;
}

/** Every published schema file and its content: pipelines, and the tenants files of templates. */
export function schemaFiles(): ReadonlyMap<string, string> {
  return new Map([
    [SCHEMA_FILE, schemaFileContent()],
    [TENANTS_SCHEMA_FILE, `${JSON.stringify(tenantsSchema, null, 2)}\n`],
  ]);
}
