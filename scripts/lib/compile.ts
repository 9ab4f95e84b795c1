/** The tiers of DESIGN.md §5 up to, but not including, drift: load → validate → render → check output. */
import { checkOutput } from "../../checks/cross-object.ts";
import { loadProject, type Project } from "../../model/load.ts";
import { hasErrors, type Problem } from "../../model/problems.ts";
import { pipelineSchema } from "../../model/pipeline-schema.ts";
import { render, toFiles, type OutputFile, type RenderedObject } from "../../render/render.ts";

export const SCHEMA_FILE = "schema/pipeline.schema.json";

export interface Compiled {
  readonly project: Project;
  readonly problems: readonly Problem[];
  /** Present when no tier before output found an error. */
  readonly objects?: readonly RenderedObject[];
  readonly files?: readonly OutputFile[];
}

export async function compile(root: string): Promise<Compiled> {
  const project = await loadProject(root);
  if (hasErrors(project.problems)) return { project, problems: project.problems };
  const objects = render(project.clusters, project.pipelines);
  const problems = [...project.problems, ...checkOutput(objects)];
  if (hasErrors(problems)) return { project, problems };
  return { project, problems, objects, files: toFiles(objects) };
}

/** The published JSON Schema, as committed: editors point YAML pipelines at it. */
export function schemaFileContent(): string {
  return `${JSON.stringify(pipelineSchema, null, 2)}\n`;
}
