// The survey helper process of survey-helper.ts: makes the survey of the repository at argv[2]
// (cache.ts) and prints its report as JSON. Plain JavaScript: beside the bundled commands
// (bin/run.mjs) it loads their survey-helper.mjs; beside the TypeScript (tests, tsx) it
// registers tsx first and loads survey-helper.ts.
import { existsSync } from "node:fs";

const compiled = existsSync(new URL("./survey-helper.mjs", import.meta.url));
if (!compiled) (await import("tsx/esm/api")).register();
const { reportOf } = await import(compiled ? "./survey-helper.mjs" : "./survey-helper.ts");
process.stdout.write(JSON.stringify(reportOf(process.argv[2])));
