/**
 * Writes staged files from a thread of its own, so that creating tens of thousands of files (the
 * kernel's work, a second to several on these machines) runs on the other core while this
 * thread goes on rendering. A full synth at 2,000 × 15 spent as long writing its 32,000 files as
 * compiling them, one after the other (`npm run bench`).
 *
 * Files are sent in batches; at most MAX_PENDING bytes wait at any time (this thread blocks on
 * an Atomics counter the writer counts down), so a slow disk never makes the queue hold the tree.
 * The first failure (a full disk, a permission) stops the writer and is thrown by close().
 */
import { mkdirSync, writeFileSync } from "node:fs";
import { dirname } from "node:path";
import { Worker } from "node:worker_threads";

/** Bytes sent and not yet written before write() waits for the writer. */
const MAX_PENDING = 16 * 2 ** 20;
/** Once the writer runs, a batch goes out at this many characters (or files): few messages, and the writer never idles long. */
const BATCH_CHARS = 256 * 2 ** 10;
const BATCH_FILES = 64;
/** The writer is taken for dead after this long without writing anything while this thread waits. */
const STALLED_MS = 60_000;

// The writer: plain CommonJS evaluated as the thread's script (no file to find beside a bundle).
const WRITER = `
const { mkdirSync, writeFileSync } = require("node:fs");
const { dirname } = require("node:path");
const { parentPort, workerData } = require("node:worker_threads");
const pending = new Int32Array(workerData.pending);
const made = new Set();
let failed;
let busy = 0;
parentPort.on("message", (m) => {
  if (m.close) return parentPort.postMessage({ closed: true, error: failed, busy });
  const started = performance.now();
  const bytes = Buffer.from(m.buffer);
  for (let i = 0, start = 0; i < m.paths.length; start = m.ends[i++]) {
    if (failed === undefined) {
      const path = m.paths[i];
      try {
        const folder = dirname(path);
        if (!made.has(folder)) {
          mkdirSync(folder, { recursive: true });
          made.add(folder);
        }
        writeFileSync(path, bytes.subarray(start, m.ends[i]));
      } catch (e) {
        failed = path + ": " + (e && e.message ? e.message : String(e));
      }
    }
  }
  busy += performance.now() - started;
  Atomics.sub(pending, 0, m.ends.length ? m.ends[m.ends.length - 1] : 0);
  Atomics.notify(pending, 0);
});
`;

export class Stager {
  private worker?: Worker;
  private readonly pending = new Int32Array(new SharedArrayBuffer(4));
  private paths: string[] = [];
  private contents: string[] = [];
  private chars = 0;
  private count = 0;
  private closed = false;
  /** Why the writing thread is gone, when it ended before close(). */
  private gone?: string;

  /** `path`: absolute; its folders are made as needed. */
  write(path: string, content: string): void {
    if (this.closed) throw new Error(`the stager is closed; ${path} was not written`);
    this.count++;
    this.paths.push(path);
    this.contents.push(content);
    this.chars += content.length;
    // The thread starts with the first full batch of files: a one-pipeline change (a handful of
    // files and the cache, a megabyte) is written by close() in this thread, sooner than a
    // thread could start.
    if (this.paths.length >= BATCH_FILES || (this.worker && this.chars >= BATCH_CHARS) || this.chars >= MAX_PENDING) this.send();
  }

  /**
   * Waits until every file is written; throws the first failure. Says how many files were
   * written and, when a thread wrote them, how long it was busy (beside this thread's work).
   */
  async close(): Promise<{ files: number; threadMs?: number }> {
    if (this.closed) return { files: this.count };
    this.closed = true;
    const worker = this.worker;
    // Fewer files than one batch (a one-pipeline change): not worth starting a thread.
    if (!worker) {
      writeHere(this.paths, this.contents);
      return { files: this.count };
    }
    this.send();
    const reply = await new Promise<{ error?: string; busy?: number }>((resolve) => {
      if (this.gone !== undefined) return resolve({ error: this.gone });
      worker.once("message", (m: { closed: true; error?: string; busy: number }) => resolve(m));
      worker.once("error", (e) => resolve({ error: `the writing thread failed: ${e.message}` }));
      worker.once("exit", (code) => resolve({ error: `the writing thread ended (exit code ${code})` }));
      worker.postMessage({ close: true });
    });
    await worker.terminate();
    if (reply.error !== undefined) throw new Error(`cannot stage ${reply.error}`);
    return { files: this.count, threadMs: reply.busy ?? 0 };
  }

  /** Stops the writer at once (a failed compile): once this resolves, nothing more is written. */
  async abort(): Promise<void> {
    this.closed = true;
    await this.worker?.terminate();
  }

  private send(): void {
    if (this.paths.length === 0) return;
    if (!this.worker) {
      // No loader (tsx, in tests) and no flags: the writer needs Node.js alone.
      this.worker = new Worker(WRITER, { eval: true, execArgv: [], workerData: { pending: this.pending.buffer } });
      // Kept for close(): this thread may be busy (or blocked below) when it happens.
      this.worker.on("error", (e) => (this.gone ??= `the writing thread failed: ${e.message}`));
      this.worker.on("exit", (code) => (this.gone ??= `the writing thread ended (exit code ${code})`));
    }
    // Backpressure: wait (blocking this thread, which has nothing else to do) until the writer
    // is within MAX_PENDING bytes of done.
    // A writer that makes no progress for a minute is gone (it cannot say so while this thread
    // blocks): fail rather than hang.
    let since = Date.now();
    for (let now = Atomics.load(this.pending, 0); now > MAX_PENDING; ) {
      Atomics.wait(this.pending, 0, now, 1000);
      const after = Atomics.load(this.pending, 0);
      if (after !== now) since = Date.now();
      else if (Date.now() - since > STALLED_MS) throw new Error(`the thread writing ${this.paths[0]} and the files before it made no progress for ${STALLED_MS / 1000} s`);
      now = after;
    }
    // The contents go as UTF-8 in one buffer that is moved, not copied, to the writer (copying
    // 240 MB of strings between threads cost a full synth more than a second).
    // Sized exactly, so that MAX_PENDING bounds the memory the batches in flight hold.
    let size = 0;
    for (const content of this.contents) size += Buffer.byteLength(content);
    const buffer = Buffer.allocUnsafeSlow(size);
    const ends = new Int32Array(this.paths.length);
    let end = 0;
    for (let i = 0; i < this.contents.length; i++) ends[i] = end += buffer.write(this.contents[i]!, end);
    Atomics.add(this.pending, 0, end);
    this.worker.postMessage({ paths: this.paths, ends, buffer: buffer.buffer }, [buffer.buffer, ends.buffer]);
    this.paths = [];
    this.contents = [];
    this.chars = 0;
  }
}

/** Writes the files in this thread, one after another, each folder made once: what the writing thread does. */
export function writeHere(paths: readonly string[], contents: readonly (string | Uint8Array)[]): void {
  const made = new Set<string>();
  for (const [i, path] of paths.entries()) {
    const folder = dirname(path);
    if (!made.has(folder)) {
      mkdirSync(folder, { recursive: true });
      made.add(folder);
    }
    writeFileSync(path, contents[i]!);
  }
}
