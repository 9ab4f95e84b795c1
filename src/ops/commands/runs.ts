/** `dagops runs`. */
import { EXIT } from "../../cli/kit.ts";
import { KubeError } from "../../kube/errors.ts";
import { listRuns, type RunView } from "../records.ts";
import { runsTable } from "../view.ts";
import { help, print, summaryOf, usage, type Command } from "../command.ts";

export const runs: Command = {
  help: help(
    "runs [<pipeline>] [--limit N]",
    "Recent runs, newest first, from the run records (which outlive the runs) and the run Jobs\nthat have no record yet. Without a pipeline, every pipeline's (needs list in all namespaces).",
    "  --limit <N>    at most N runs (default 20)\n",
  ),
  options: { limit: { type: "string" } },
  args: [0, 1],
  async run(c) {
    const limit = c.values.limit === undefined ? 20 : Number(c.values.limit);
    if (!Number.isInteger(limit) || limit < 1)
      return usage(c.io, "runs", `--limit expects a positive whole number, found ${JSON.stringify(c.values.limit)}`);
    const pipeline = c.positionals[0];
    let views: RunView[];
    try {
      views = (await listRuns(c.cluster, pipeline)).slice(0, limit);
    } catch (err) {
      if (pipeline === undefined && err instanceof KubeError && err.status === 403) {
        c.io.stderr(
          `dagops runs: listing runs in every namespace is forbidden (403): name a pipeline, as in dagops runs <pipeline>\n`,
        );
        return EXIT.usage;
      }
      throw err;
    }
    if (c.json) return print(c, views.map(summaryOf));
    if (!views.length) {
      c.io.stdout(`No runs${pipeline ? ` of ${pipeline}` : ""} (context ${c.cluster.context}).\n`);
      return EXIT.ok;
    }
    c.io.stdout(runsTable(views, c.now(), pipeline === undefined));
    return EXIT.ok;
  },
};
