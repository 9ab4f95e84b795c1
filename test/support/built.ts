/**
 * The run manager as one JavaScript file, bundled by esbuild once per test process from
 * src/runner/main.ts, for the tests that start it as a process (the run-manager pods of the
 * simulated cluster). Through tsx each start compiled the program again and took seconds of CPU;
 * bundled, it starts as the image's program does, from one file. The image itself compiles the
 * same sources with tsc: test/integration/run-manager-build.test.ts checks that build.
 */
import { buildSync } from "esbuild";
import { mkdirSync, rmSync } from "node:fs";
import { join } from "node:path";
import { REPO } from "./helpers.ts";

let built: string | undefined;

export function runManagerScript(): string {
  if (built) return built;
  // Inside the repository, so that the packages it imports resolve from its node_modules/.
  const dir = join(REPO, "node_modules", ".cache", "dagops-test");
  mkdirSync(dir, { recursive: true });
  const file = join(dir, `run-manager-${process.pid}.mjs`);
  buildSync({
    entryPoints: [join(REPO, "src/runner/main.ts")],
    outfile: file,
    bundle: true,
    packages: "external",
    platform: "node",
    format: "esm",
    target: "node20",
    logLevel: "silent",
  });
  process.once("exit", () => rmSync(file, { force: true }));
  built = file;
  return file;
}
