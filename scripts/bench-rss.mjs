// Preloaded by `npm run bench` into each command it measures (node --import): writes, when the
// process exits, its peak resident set size (KiB) and the CPU time it used (ms, user + system),
// both over all its threads, to $DAGOPS_BENCH_RSS as JSON.
import { writeFileSync } from "node:fs";

const file = process.env.DAGOPS_BENCH_RSS;
if (file) {
  process.on("exit", () => {
    const usage = process.resourceUsage();
    writeFileSync(file, JSON.stringify({ maxRssKiB: usage.maxRSS, cpuMs: (usage.userCPUTime + usage.systemCPUTime) / 1000 }));
  });
}
