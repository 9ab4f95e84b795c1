// Loads TypeScript definition files for scripts/lib/load.ts, one per message, in a worker
// thread: a file whose top-level await never settles, that loops forever, calls process.exit,
// or leaves a timer that throws later cannot hang or crash the command that loads it (the
// command terminates this worker when a file overruns its time, and when loading is done).
// Plain JavaScript: it must run before tsx is registered in this thread.
import { parentPort } from "node:worker_threads";
import { register } from "tsx/esm/api";

register();

parentPort.on("message", async ({ id, url }) => {
  let mod;
  try {
    mod = await import(url);
  } catch (e) {
    parentPort.postMessage({ id, loadError: e instanceof Error ? e.message : String(e), code: e && typeof e === "object" ? e.code : undefined });
    return;
  }
  let value = mod.default;
  // Outside a `"type": "module"` package tsx compiles the file to CommonJS, and `import()` then
  // sees its exports object ({ default: … }) as the default: unwrap it.
  if (value && typeof value === "object" && Object.keys(value).every((k) => k === "default" || k === "__esModule") && "default" in value) value = value.default;
  if (value === undefined || value === null || typeof value !== "object") {
    parentPort.postMessage({ id, noDefault: value === undefined ? "no default export" : value === null ? "null" : typeof value });
    return;
  }
  // Plain data from here on: what YAML pipelines can express, nothing more (drops undefined and
  // functions). Cycles, BigInts, throwing getters and a toJSON that returns nothing are problems
  // of the file, reported as such.
  let json;
  try {
    json = JSON.stringify(value);
  } catch (e) {
    parentPort.postMessage({ id, dataError: e instanceof Error ? e.message : String(e) });
    return;
  }
  if (json === undefined) {
    parentPort.postMessage({ id, dataError: "it turns into nothing as JSON (a toJSON that returns undefined?)" });
    return;
  }
  parentPort.postMessage({ id, json });
});
