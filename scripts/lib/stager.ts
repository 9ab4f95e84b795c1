/**
 * Writes staged files from a thread of its own, so that creating tens of thousands of files (the
 * kernel's work, a second to several on these machines) runs on the other core while this
 * thread goes on rendering. A full synth at 2,000 × 15 spent as long writing its 32,000 files as
 * compiling them, one after the other (`npm run bench`).
 *
 * Files are encoded (UTF-8) straight into a ring of SLOTS shared buffers and sent in batches,
 * one slot each; the writer counts the batches it has finished in a shared counter, and a slot is
 * filled again only once the writer is done with it (this thread blocks on that counter), so at
 * most SLOTS × SLOT_BYTES wait at any time and a slow disk never makes the queue hold the tree.
 * The same memory every time: a fresh buffer per batch cost this thread a page fault for every
 * 4 KiB it encoded (and the writer an unmapping when it let go), 0.4–0.6 s of a full synth at
 * 2,000 pipelines, against 0.03 s to encode into buffers already mapped.
 * A file larger than a slot travels alone in a buffer of its own.
 * The first failure (a full disk, a permission) stops the writer and is thrown by close().
 */
import { mkdirSync, writeFileSync } from "node:fs";
import { dirname } from "node:path";
import { Worker } from "node:worker_threads";

/** The ring: batches in flight at most, and each one's buffer. */
const SLOTS = 16;
const SLOT_BYTES = 2 ** 20;
/** A batch goes out at this many bytes (or files): few messages, and the writer never idles long. */
const BATCH_BYTES = 256 * 2 ** 10;
const BATCH_FILES = 64;
/** The writer is taken for dead after this long without finishing a batch while this thread waits. */
const STALLED_MS = 60_000;

// The writer: plain CommonJS evaluated as the thread's script (no file to find beside a bundle).
const WRITER = `
const { mkdirSync, writeFileSync } = require("node:fs");
const { dirname } = require("node:path");
const { parentPort, workerData } = require("node:worker_threads");
const done = new Int32Array(workerData.done);
const slots = workerData.slots.map((b) => Buffer.from(b));
const made = new Set();
let failed;
let busy = 0;
parentPort.on("message", (m) => {
  if (m.close) return parentPort.postMessage({ closed: true, error: failed, busy });
  const started = performance.now();
  const bytes = m.buffer ? Buffer.from(m.buffer) : slots[m.slot];
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
  Atomics.add(done, 0, 1);
  Atomics.notify(done, 0);
});
`;

export class Stager {
  private worker?: Worker;
  /** Batches the writer has finished (the writer counts up). */
  private readonly done = new Int32Array(new SharedArrayBuffer(4));
  private slots?: Buffer[];
  /** Batches sent; batch k is (or was) in slots[k % SLOTS]. */
  private sent = 0;
  /** The batch being filled: its slot, paths, and where each file ends in the slot. */
  private slot?: Buffer;
  private used = 0;
  private paths: string[] = [];
  private ends: number[] = [];
  /** Before the thread starts: the files, as given. */
  private early: { path: string; content: string }[] = [];
  private earlyChars = 0;
  private count = 0;
  private closed = false;
  /** Why the writing thread is gone, when it ended before close(). */
  private gone?: string;

  /** `path`: absolute; its folders are made as needed. */
  write(path: string, content: string): void {
    if (this.closed) throw new Error(`the stager is closed; ${path} was not written`);
    this.count++;
    if (this.worker) return this.put(path, content);
    // The thread starts with the first BATCH_FILES files (or once they are as large as the
    // ring): a one-pipeline change (a handful of files and the cache, a megabyte) is written by
    // close() in this thread, sooner than a thread could start.
    this.early.push({ path, content });
    this.earlyChars += content.length;
    if (this.early.length < BATCH_FILES && this.earlyChars < SLOTS * SLOT_BYTES) return;
    this.start();
    for (const f of this.early) this.put(f.path, f.content);
    this.early = [];
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
      writeHere(
        this.early.map((f) => f.path),
        this.early.map((f) => f.content),
      );
      return { files: this.count };
    }
    this.flush();
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

  private start(): void {
    this.slots = Array.from({ length: SLOTS }, () => Buffer.from(new SharedArrayBuffer(SLOT_BYTES)));
    // No loader (tsx, in tests) and no flags: the writer needs Node.js alone.
    this.worker = new Worker(WRITER, { eval: true, execArgv: [], workerData: { done: this.done.buffer, slots: this.slots.map((s) => s.buffer) } });
    // Kept for close(): this thread may be busy (or blocked below) when it happens.
    this.worker.on("error", (e) => (this.gone ??= `the writing thread failed: ${e.message}`));
    this.worker.on("exit", (code) => (this.gone ??= `the writing thread ended (exit code ${code})`));
  }

  /** Encodes a file into the batch being filled (a new one when it does not fit). */
  private put(path: string, content: string): void {
    // Exact: a character takes one to three bytes.
    const bytes = content.length * 3 <= SLOT_BYTES - this.used ? content.length : Buffer.byteLength(content);
    if (bytes > SLOT_BYTES) return this.alone(path, content);
    if (this.slot && this.used + bytes > SLOT_BYTES) this.flush();
    this.slot ??= this.free();
    this.used += this.slot.write(content, this.used);
    this.paths.push(path);
    this.ends.push(this.used);
    if (this.used >= BATCH_BYTES || this.paths.length >= BATCH_FILES) this.flush();
  }

  /** A file larger than a slot: its own batch, in its own buffer, moved (not copied) to the writer. */
  private alone(path: string, content: string): void {
    this.flush();
    this.wait();
    const buffer = Buffer.from(content);
    this.worker!.postMessage({ paths: [path], ends: Int32Array.of(buffer.length), buffer: buffer.buffer }, [buffer.buffer]);
    this.sent++;
  }

  /** Sends the batch being filled. */
  private flush(): void {
    if (!this.slot) return;
    const ends = Int32Array.from(this.ends);
    this.worker!.postMessage({ slot: this.sent % SLOTS, paths: this.paths, ends }, [ends.buffer]);
    this.sent++;
    this.slot = undefined;
    this.used = 0;
    this.paths = [];
    this.ends = [];
  }

  /** The next batch's slot, once the writer is done with the batch that used it last. */
  private free(): Buffer {
    this.wait();
    return this.slots![this.sent % SLOTS]!;
  }

  /**
   * Backpressure: waits (blocking this thread, which has nothing else to do) until fewer than
   * SLOTS batches are in flight. A writer that finishes nothing for a minute is gone (it cannot
   * say so while this thread blocks): fail rather than hang.
   */
  private wait(): void {
    let since = Date.now();
    for (let now = Atomics.load(this.done, 0); this.sent - now >= SLOTS; ) {
      Atomics.wait(this.done, 0, now, 1000);
      const after = Atomics.load(this.done, 0);
      if (after !== now) since = Date.now();
      else if (Date.now() - since > STALLED_MS) throw new Error(`the thread writing the staged files finished nothing for ${STALLED_MS / 1000} s (${this.gone ?? "no reason given"})`);
      now = after;
    }
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
