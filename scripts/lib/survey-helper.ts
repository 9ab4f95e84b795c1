/**
 * The survey (cache.ts) on two cores. Its first half (surveyInputs: the cache, and the
 * definitions' bytes) says what must be compiled; its second half (proveOutputs) proves every
 * other definition's output intact, one `stat` per file under generated/ (32,000 at 2,000
 * pipelines), and is most of the work. When a definition changed, a helper process makes the
 * second half while this process makes the first, loads the compiler and compiles what changed
 * (compile.ts: as if the proof will find the rest intact; compiled again from the proof when it
 * does not).
 *
 * The helper only ever saves time: when it cannot be started, fails, or proved another cache
 * than the one this process read (the file changed between the two reads), the proof is made
 * here, as without it. A thread would share this process's V8 helper thread and slow the compile
 * (README, Benchmark); a process of its own starts in 50 ms.
 *
 * Used where the commands run built (bin/run.mjs puts survey-process.mjs beside the build) and
 * the machine has a second core; DAGOPS_SURVEY_HELPER=0 turns it off, =1 on (tests, under tsx).
 */
import { spawn } from "node:child_process";
import { existsSync, rmSync } from "node:fs";
import { availableParallelism } from "node:os";
import { join, resolve } from "node:path";
import { fileURLToPath } from "node:url";
import { proveOutputs, readCache, STAT_FILES, statTempFile, surveyInputs, surveyOf, unchangedTree, waitsForProof, type Inputs, type Proof, type Survey } from "./cache.ts";

/** What the helper prints: the proof, and the check of the cache it proved it against. */
export interface Report extends Proof {
  readonly check: string;
}

/**
 * What the helper process prints (survey-process.mjs): the proof of every definition's output
 * the cache knows, and what the helper used. No report: no cache as synth writes it.
 */
export function reportOf(root: string): { report?: Report; usage: HelperUsage } {
  const cache = readCache(root);
  const report = cache && { check: cache.check, ...proveOutputs(root, cache, Object.keys(cache.units)) };
  const usage = process.resourceUsage();
  return { ...(report ? { report } : {}), usage: { maxRssKiB: usage.maxRSS, cpuMs: (usage.userCPUTime + usage.systemCPUTime) / 1000 } };
}

export interface HelperUsage {
  readonly maxRssKiB: number;
  readonly cpuMs: number;
}

/**
 * Each helper's peak memory and CPU time, for `npm run bench` (scripts/bench-rss.mjs adds them
 * to this process's own: the helper runs beside it).
 */
const USAGE = Symbol.for("dagops.helperUsage");
function recordUsage(usage: HelperUsage): void {
  const g = globalThis as { [USAGE]?: HelperUsage[] };
  (g[USAGE] ??= []).push(usage);
}

/**
 * A survey under way: its first half, known now, and the whole survey, when the helper (or
 * this process) has made it.
 */
export interface PendingSurvey {
  readonly inputs: Inputs;
  readonly proved: Promise<Survey>;
}

export interface HelperOptions {
  /** The helper's script (tests point it elsewhere); default: survey-process.mjs beside this module. */
  readonly script?: URL;
  /** Default: DAGOPS_SURVEY_HELPER, else on where the commands run built, on two cores or more. */
  readonly use?: boolean;
}

const SCRIPT = new URL("./survey-process.mjs", import.meta.url);

function wanted(options: HelperOptions): boolean {
  if (options.use !== undefined) return options.use;
  const set = process.env.DAGOPS_SURVEY_HELPER;
  if (set === "0" || set === "1") return set === "1";
  // Built: this module is a chunk of the build, with the helper's entry (survey-helper.mjs) beside it.
  return existsSync(new URL("./survey-helper.mjs", import.meta.url)) && availableParallelism() > 1;
}

/**
 * The survey synth and check start from: whole when it was made here or when no definition's
 * bytes changed (the no-op proof, noChange, needs all of it), else under way, its second half in
 * the helper, for the compile to start at once. Undefined: no usable cache.
 */
export async function beginSurvey(root: string, options: HelperOptions = {}): Promise<Survey | PendingSurvey | undefined> {
  // Started first: its start (50 ms) and its proof overlap this process's first half.
  const helper = wanted(options) ? startHelper(resolve(root), options.script ?? SCRIPT) : undefined;
  const inputs = await surveyInputs(root);
  if (!inputs) {
    helper?.stop();
    return undefined;
  }
  const here = () => surveyOf(inputs, proveOutputs(root, inputs.cache, inputs.files, new Set(inputs.changed)));
  if (!helper || inputs.changed.length === 0 || waitsForProof(inputs)) {
    // Nothing to compile before the proof (a no-op, or a changed template, whose tenants are
    // compiled against their folders): proved here, sooner than by waiting for the helper.
    helper?.stop();
    return here();
  }
  // A helper that failed, or proved another cache (the file changed between the two reads): here.
  const proved = helper.report.then((report) => (report?.check === inputs.cache.check ? surveyOf(inputs, report) : here()));
  return { inputs, proved };
}

/** The helper process: its report once it exits (undefined when it failed or found no usable cache). */
function startHelper(root: string, script: URL): { report: Promise<Report | undefined>; stop: () => void } | undefined {
  if (!existsSync(script)) return undefined;
  // The helper makes no network connection: without NODE_EXTRA_CA_CERTS, which Node.js 20 parses
  // at every start whether it is used or not (90 ms of every start on the machine of the README's benchmark).
  const env = { ...process.env };
  delete env.NODE_EXTRA_CA_CERTS;
  let child;
  try {
    child = spawn(process.execPath, [fileURLToPath(script), root], { env, stdio: ["ignore", "pipe", "ignore"] });
  } catch {
    return undefined;
  }
  const chunks: Buffer[] = [];
  child.stdout.on("data", (c: Buffer) => chunks.push(c));
  const report = new Promise<Report | undefined>((done) => {
    child.on("error", () => done(undefined));
    child.on("close", (code) => {
      if (code !== 0) return done(undefined);
      try {
        const out = JSON.parse(Buffer.concat(chunks).toString("utf8")) as { report?: Report; usage?: HelperUsage } | null;
        if (typeof out?.usage?.maxRssKiB === "number" && typeof out.usage.cpuMs === "number") recordUsage(out.usage);
        done(out?.report);
      } catch {
        done(undefined);
      }
    });
  });
  // Stopped, it may leave the stat file it was writing half-way: removed once it has exited.
  const stop = () => {
    child.once("close", () => child.pid !== undefined && rmSync(statTempFile(join(root, STAT_FILES.outputs), child.pid), { force: true }));
    child.kill();
  };
  return { report, stop };
}

/** unchangedTree of a whole survey; undefined for one under way (a definition's bytes changed). */
export function noChange(root: string, s: Survey | PendingSurvey): ReturnType<typeof unchangedTree> {
  return "proved" in s ? undefined : unchangedTree(root, s);
}
