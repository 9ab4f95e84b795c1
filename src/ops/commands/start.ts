/** `dagops start`. */
import { parseParamArgs } from "../../contract/params.ts";
import { checkParams, manualRunName } from "../act.ts";
import { deployed } from "../records.ts";
import { create, help, usage, type Command, type Context } from "../command.ts";

export const start: Command = {
  help: help(
    "start <pipeline> [--param k=v]… [--reason text] [--wait]",
    "A new run now, created from the pipeline's CronJob (what kubectl create job --from=cronjob/…\ndoes), labelled as manual with who started it and why. Parameters are checked against the\npipeline's params before anything is created. A pipeline with concurrency forbid refuses a\nsecond run while one is going on (exit 1); replace cancels the older run.",
    "  --param <k=v>     a parameter value (repeatable)\n  --reason <text>   why, kept in the run record\n  --wait            wait for the run to end; exit 1 if it did not succeed\n",
  ),
  options: { param: { type: "string", multiple: true }, reason: { type: "string" }, wait: { type: "boolean" } },
  args: [1, 1],
  run,
};

async function run(c: Context): Promise<number> {
  const d = await deployed(c.cluster, c.positionals[0]!);
  const parsed = parseParamArgs((c.values.param as string[] | undefined) ?? [], d.plan.params ?? {});
  const many = Object.entries(parsed.values).filter(([, v]) => v.length > 1);
  if (many.length)
    parsed.errors.push(
      `start runs one value per parameter; ${many.map(([k]) => k).join(", ")} has several: use dagops backfill`,
    );
  const given = Object.fromEntries(Object.entries(parsed.values).map(([k, v]) => [k, v[0]!]));
  const errors = parsed.errors.length ? parsed.errors : checkParams(d, given, new Date(c.now()));
  if (errors.length) return usage(c.io, "start", `${d.pipeline}: ${errors.join("; ")}`);
  return create(c, d, {
    name: manualRunName(d.pipeline, "m", new Date(c.now())),
    params: given,
    ...(c.values.reason ? { reason: c.values.reason as string } : {}),
  });
}
