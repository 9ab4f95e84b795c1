/** The clusters' price snapshots, without the rest of the compiler (the review needs only these). */
import { join } from "node:path";
import { loadPriceData, type PriceData } from "./data.ts";
import { PLATFORM_FILE } from "../model/files.ts";
import type { ResolvedCluster } from "../model/platform.ts";
import { problem, type Problem } from "../contract/problems.ts";

/** Each cluster's price snapshot (loaded once per file), or a problem naming the cluster's `prices`; `checked`: see UnitsSetup.pricesChecked. */
export function loadPrices(
  root: string,
  clusters: readonly ResolvedCluster[],
  checked = false,
): { byCluster: Map<string, PriceData>; problems: Problem[] } {
  const files = new Map<string, PriceData | Error>();
  const byCluster = new Map<string, PriceData>();
  const problems: Problem[] = [];
  clusters.forEach((c, i) => {
    if (!files.has(c.prices)) {
      try {
        files.set(c.prices, loadPriceData(join(root, c.prices), checked));
      } catch (err) {
        files.set(c.prices, err as Error);
      }
    }
    const data = files.get(c.prices)!;
    if (data instanceof Error)
      problems.push(
        problem("BAD_PRICE_DATA", PLATFORM_FILE, `clusters[${i}].prices`, data.message.replace(join(root, ""), "")),
      );
    else byCluster.set(c.name, data);
  });
  return { byCluster, problems };
}
