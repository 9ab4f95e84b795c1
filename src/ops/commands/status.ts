/** `dagops status`. */
import { EXIT } from "../../cli/kit.ts";
import { outcomeOf } from "../records.ts";
import { statusText, duration } from "../view.ts";
import { help, lookUp, print, RUN_LOOKUP, summaryOf, type Command } from "../command.ts";

export const status: Command = {
  help: help(
    "status <run> [-p <pipeline>]",
    "One run: its trigger, parameters and outcome; per step the attempts, capacity asked for and\ngot (spot, on-demand), instance type, duration, outcome and reason; and a timeline of the steps.\nExits 1 when the run failed, timed out or was cancelled.",
    RUN_LOOKUP,
  ),
  options: { pipeline: { type: "string", short: "p" } },
  args: [1, 1],
  async run(c) {
    const view = await lookUp(c);
    if (!view) return EXIT.problems;
    if (c.json) print(c, { ...summaryOf(view), record: view.head ?? null, steps: view.steps });
    else c.io.stdout(statusText(view, c.now()));
    return ["failed", "timed-out", "cancelled"].includes(outcomeOf(view)) ? EXIT.problems : EXIT.ok;
  },
};
