// Preloaded by `npm run bench` into each command it measures (node --import): writes, when the
// process exits, its peak resident set size (KiB) and the CPU time it used (ms, user + system),
// both over all its threads, and on Linux the CPU time of its main thread alone (the one that
// compiles: a full synth's critical path), to $DAGOPS_BENCH_RSS as JSON. The survey's helper
// process (scripts/lib/survey-helper.ts), which runs beside the command, reports its own peak and
// CPU time: they are added in (the two peaks added: an upper bound of the two processes' at once).
import { readFileSync, writeFileSync } from "node:fs";

/** The main thread's user + system time (ms) from /proc, in USER_HZ ticks (100 a second on Linux). */
function mainThreadMs() {
  try {
    const stat = readFileSync(`/proc/self/task/${process.pid}/stat`, "utf8");
    const fields = stat.slice(stat.lastIndexOf(")") + 2).split(" ");
    return (Number(fields[11]) + Number(fields[12])) * 10;
  } catch {
    return undefined;
  }
}

const file = process.env.DAGOPS_BENCH_RSS;
if (file) {
  process.on("exit", () => {
    const usage = process.resourceUsage();
    const helpers = globalThis[Symbol.for("dagops.helperUsage")] ?? [];
    const helperRss = Math.max(0, ...helpers.map((h) => h.maxRssKiB));
    const helperCpu = helpers.reduce((ms, h) => ms + h.cpuMs, 0);
    writeFileSync(file, JSON.stringify({ maxRssKiB: usage.maxRSS + helperRss, cpuMs: (usage.userCPUTime + usage.systemCPUTime) / 1000 + helperCpu, mainCpuMs: mainThreadMs(), helpers: helpers.length }));
  });
}
