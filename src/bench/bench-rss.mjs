// Preloaded by `npm run bench` into each command it measures (node --import): writes, when the
// process exits, its peak resident set size (KiB) and the CPU time it used (ms, user + system),
// both over all its threads, and on Linux the CPU time of its main thread alone (the one that
// compiles: a full synth's critical path), to $DAGOPS_BENCH_RSS as JSON.
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
    writeFileSync(
      file,
      JSON.stringify({
        maxRssKiB: usage.maxRSS,
        cpuMs: (usage.userCPUTime + usage.systemCPUTime) / 1000,
        mainCpuMs: mainThreadMs(),
      }),
    );
  });
}
