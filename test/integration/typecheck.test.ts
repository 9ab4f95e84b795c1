/**
 * What `npm run typecheck` and an editor tell a TypeScript pipeline author, checked with the
 * TypeScript compiler itself on files written the way a user writes them.
 */
import assert from "node:assert/strict";
import { mkdtemp, rm, writeFile } from "node:fs/promises";
import { join } from "node:path";
import { test } from "node:test";
import ts from "typescript";
import { REPO } from "../support/helpers.ts";

async function diagnostics(source: string): Promise<string[]> {
  // Inside the repository (two levels down, as pipelines/ is one), so that the import resolves;
  // not in pipelines/, which is the team's own.
  const dir = await mkdtemp(join(REPO, "test", ".typecheck-"));
  const file = join(dir, "candidate.ts");
  try {
    await writeFile(file, source.replaceAll("../model/", "../../model/"));
    const config = ts.getParsedCommandLineOfConfigFile(
      join(REPO, "tsconfig.json"),
      {},
      { ...ts.sys, onUnRecoverableConfigFileDiagnostic: () => {} },
    )!;
    const program = ts.createProgram([file], { ...config.options, noEmit: true });
    return ts
      .getPreEmitDiagnostics(program, program.getSourceFile(file))
      .map((d) => ts.flattenDiagnosticMessageText(d.messageText, "\n"));
  } finally {
    await rm(dir, { recursive: true, force: true });
  }
}

const pipeline = (step: string) => `import { definePipeline } from "#dagops";
export default definePipeline({
  name: "typo",
  image: "registry.example.com/a:1.0.0",
  defaults: { resources: { requests: { cpu: "100m", memory: "128Mi" } } },
  steps: [{ name: "a" }, ${step}],
});
`;

test("a typo in an optional field of a TypeScript pipeline is a type error", async () => {
  const errors = await diagnostics(pipeline('{ name: "b", dependson: ["a"] }'));
  assert.equal(errors.length, 1, errors.join("\n"));
  assert.match(
    errors[0]!,
    /Object literal may only specify known properties.*'dependson'.*Did you mean to write 'dependsOn'\?/s,
  );
});

test("a correct TypeScript pipeline type-checks clean, and a typo at the top level or in the platform config is caught too", async () => {
  assert.deepEqual(await diagnostics(pipeline('{ name: "b", dependsOn: ["a"], capacity: "on-demand" }')), []);
  const top = await diagnostics(
    pipeline('{ name: "b" }').replace('name: "typo",', 'name: "typo",\n  shedule: "0 3 * * *",'),
  );
  assert.match(top.join("\n"), /'shedule'/);
  const platform = await diagnostics(`import { definePlatform } from "#dagops/platform";
export default definePlatform({ clusters: [], cluster: [] });
`);
  assert.match(platform.join("\n"), /'cluster' does not exist/);
});
