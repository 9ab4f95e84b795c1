// A worker thread of compile.ts: compiles the batches of definition files it is sent with
// units.ts (see there), one message per batch, and answers with what the batch reported.
// Plain JavaScript: beside the bundled commands (bin/run.mjs) it loads their units.mjs; beside
// the TypeScript (tests, tsx) it registers tsx in this thread first and loads units.ts.
import { existsSync } from "node:fs";
import { parentPort, workerData } from "node:worker_threads";

const compiled = existsSync(new URL("./units.mjs", import.meta.url));
if (!compiled) (await import("tsx/esm/api")).register();
const { compileUnits, unitsContext } = await import(compiled ? "./units.mjs" : "./units.ts");
const ctx = unitsContext(workerData);

// Batches arrive ahead of time (batches.ts keeps one queued): compiled one after the other.
const queue = [];
let running = false;
parentPort.on("message", async (batch) => {
  queue.push(batch);
  if (running) return;
  running = true;
  while (queue.length) {
    const { id, files } = queue.shift();
    try {
      parentPort.postMessage({ id, result: await compileUnits(workerData, ctx, files) });
    } catch (e) {
      parentPort.postMessage({ id, error: e instanceof Error ? (e.stack ?? e.message) : String(e) });
    }
  }
  running = false;
});
parentPort.postMessage({ ready: true });
