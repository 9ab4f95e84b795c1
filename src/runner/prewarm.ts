/** Prewarm: placeholder Jobs hold the run's peak capacity until every step has started. */
import type { KubeError } from "../kube/errors.ts";
import { placeholderJob, placeholderJobName } from "./attempt.ts";
import { allStarted } from "./attempts.ts";
import type { Run } from "./state.ts";

/** Creates the placeholders that do not exist yet (`existing`: the Jobs listed at the start). */
export async function prewarm(r: Run, existing: ReadonlySet<string | undefined>): Promise<void> {
  r.placeholders = (r.plan.placeholders ?? []).map((_, i) => placeholderJobName(r.id, i));
  r.warm = r.placeholders.length > 0 && !allStarted(r);
  if (!r.warm) return;
  for (let i = 0; i < r.placeholders.length; i++) {
    if (existing.has(r.placeholders[i])) continue;
    await r.api
      .createJob(placeholderJob(r.plan, r.id, i))
      .catch(
        (err: KubeError) =>
          err.status !== 409 && r.log.warn("prewarm.create-failed", { job: r.placeholders[i], error: err.message }),
      );
  }
  r.log.info("prewarm.started", { placeholders: r.placeholders.length });
}

export async function release(r: Run, why: string): Promise<void> {
  if (!r.warm) return;
  r.warm = false;
  for (const name of r.placeholders)
    await r.api
      .deleteJob(name)
      .catch(
        (err: KubeError) =>
          err.status !== 404 && r.log.warn("prewarm.delete-failed", { job: name, error: err.message }),
      );
  r.log.info("prewarm.released", { placeholders: r.placeholders.length, reason: why });
}
