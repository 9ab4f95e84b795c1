// Preloaded by `npm run bench` into each command it measures (node --import): writes the
// process's peak resident set size (KiB, all its threads) to $DAGOPS_BENCH_RSS when it exits.
import { writeFileSync } from "node:fs";

const file = process.env.DAGOPS_BENCH_RSS;
if (file) process.on("exit", () => writeFileSync(file, String(process.resourceUsage().maxRSS)));
