/**
 * Runs units.ts over definition files in batches: in this thread, helped by worker threads when
 * there are many (see workerCount). Every thread takes the next batch when it finishes one, so
 * a slow batch never idles the others. Results come back in file order whichever thread ran them.
 */
import { availableParallelism } from "node:os";
import { Worker } from "node:worker_threads";
import { compileUnits, type UnitsContext, type UnitsResult, type UnitsSetup } from "./units.ts";

/** Below this many definitions to compile, starting threads (each loads its code and warms up: half a second or more) costs more than it saves. */
export const PARALLEL_FROM = 200;

/**
 * How many worker threads help this one with `count` definitions: `DAGOPS_WORKERS` when set (0:
 * none), else one per core beyond two (up to 3) from PARALLEL_FROM definitions on. On two cores
 * the second is already busy with V8's garbage collection and compilation for this thread, and a
 * worker spends half a second or more loading its code and warming up: 2,000 definitions were
 * measured no faster with one, and 170 MiB larger.
 */
export function workerCount(count: number, env: NodeJS.ProcessEnv = process.env): number {
  const set = env.DAGOPS_WORKERS;
  if (set !== undefined && set !== "" && Number.isInteger(Number(set)) && Number(set) >= 0) return Math.min(Number(set), 16);
  const cores = availableParallelism();
  return count >= PARALLEL_FROM && cores > 2 ? Math.min(cores - 1, 3) : 0;
}

/** `ctx`: this thread's context (see units.ts), which the caller may use too. */
export async function compileBatches(setup: UnitsSetup, ctx: UnitsContext, files: readonly string[], workers: number): Promise<UnitsResult[]> {
  if (files.length === 0) return [];
  // Small enough that every thread gets several (the last ones finish together) and a batch's
  // objects stay small (they die young: at 50 definitions a batch, V8's young-generation
  // collections copied so much that they took 3.1–3.2 s of a 2,000-pipeline synth; at 10,
  // 2.2–2.7 s, --trace-gc); large enough that messages cost nothing.
  const size = Math.max(4, Math.min(10, Math.ceil(files.length / (Math.max(1, workers) * 8))));
  const batches: string[][] = [];
  for (let i = 0; i < files.length; i += size) batches.push(files.slice(i, i + size));
  const results: UnitsResult[] = new Array(batches.length);
  let next = 0;
  const here = async () => {
    while (next < batches.length) {
      const id = next++;
      results[id] = await compileUnits(setup, ctx, batches[id]!);
      // Let the workers' messages in: each is waiting for its next batch.
      await new Promise((resolve) => setImmediate(resolve));
    }
  };
  if (workers === 0 || batches.length === 1) {
    await here();
    return results;
  }
  const take = () => (next < batches.length ? next++ : undefined);
  // This thread joins once the workers have loaded their code: they load it through this
  // thread's module hooks (tsx), which a busy thread would keep waiting.
  let ready!: () => void;
  const started = new Promise<void>((resolve) => (ready = resolve));
  const working = inWorkers(setup, batches, Math.min(workers, batches.length - 1), take, results, ready);
  await Promise.all([started.then(here), working]);
  return results;
}

/** Worker threads that take batches (by `take`) until none is left, and put their results in `results`. */
function inWorkers(setup: UnitsSetup, batches: readonly string[][], count: number, take: () => number | undefined, results: UnitsResult[], ready: () => void): Promise<void> {
  const threads: Worker[] = [];
  return new Promise<void>((resolve, reject) => {
    let failed = false;
    let running = count;
    const fail = (e: Error) => {
      if (failed) return;
      failed = true;
      ready();
      for (const t of threads) void t.terminate();
      reject(e);
    };
    // A thread is busy from its start (one that dies loading its code has failed too) until it
    // finds no batch left.
    const busy = new Set<Worker>();
    let loading = count;
    // Each worker holds two batches, the one it compiles and the next: this thread hands out
    // batches only between its own (50–100 ms each), and a worker with nothing queued waited
    // that long after every batch (it did 75 of 200 batches against this thread's 125).
    const queued = new Map<Worker, number>();
    const feed = (w: Worker) => {
      if (!busy.has(w)) return;
      const id = take();
      if (id !== undefined) {
        queued.set(w, (queued.get(w) ?? 0) + 1);
        return void w.postMessage({ id, files: batches[id] });
      }
      if ((queued.get(w) ?? 0) > 0) return;
      busy.delete(w);
      void w.terminate();
      if (--running === 0 && !failed) resolve();
    };
    for (let i = 0; i < count; i++) {
      const w = new Worker(new URL("./units-worker.mjs", import.meta.url), { workerData: setup });
      threads.push(w);
      busy.add(w);
      w.on("message", (m: { ready?: true; id?: number; result?: UnitsResult; error?: string }) => {
        if (m.ready) {
          if (--loading === 0) ready();
          feed(w);
          return feed(w);
        }
        if (m.error !== undefined) return fail(new Error(`a worker thread failed on ${batches[m.id!]!.join(", ")}: ${m.error}`));
        results[m.id!] = m.result!;
        queued.set(w, queued.get(w)! - 1);
        feed(w);
      });
      w.on("error", fail);
      w.on("exit", (code) => {
        if (busy.has(w)) fail(new Error(`a worker thread ended (exit code ${code}) with work left`));
      });
    }
  });
}
