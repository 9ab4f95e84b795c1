/**
 * Alerts at the end of a run (`notify` in the pipeline): a POST to a webhook whose URL is read
 * from a Secret. A failing webhook is retried with backoff for at most ALERT_BUDGET_MS and never
 * changes the run's outcome. The URL is a credential (a Slack webhook URL is its own token): it
 * never appears in a log line, an Event or an error; failures are named by rule and Secret only.
 */
import { whyNoAnswer } from "../cli/no-answer.ts";
import type { Plan } from "../contract/plan-format.ts";
import type { RunApi } from "../kube/kube.ts";
import type { Logger } from "./log.ts";

export const ALERT_BUDGET_MS = 2 * 60_000;
/** One request may take at most this long; a webhook that never answers uses up tries, not the run. */
export const ALERT_REQUEST_TIMEOUT_MS = 10_000;

export interface AlertFacts {
  readonly pipeline: string;
  readonly cluster: string;
  readonly namespace: string;
  readonly run: string;
  readonly outcome: string;
  readonly seconds: number;
  readonly startedAt: string;
  readonly finishedAt: string;
  /** The first step that failed for good, why, and its message or the last lines of its log. */
  readonly failedStep?: { readonly name: string; readonly reason?: string; readonly logTail?: string };
}

function duration(s: number): string {
  const h = Math.floor(s / 3600);
  const m = Math.floor((s % 3600) / 60);
  return h ? `${h}h${m}m` : m ? `${m}m${s % 60}s` : `${s}s`;
}

/** Where to look further: the run record outlives the run. */
export function lookFurther(f: AlertFacts): string {
  return `kubectl -n ${f.namespace} get configmap ${f.run}-record -o yaml`;
}

export function alertBody(format: "slack" | "json", f: AlertFacts): string {
  if (format === "json") return JSON.stringify({ ...f, lookFurther: lookFurther(f) });
  const mark = f.outcome === "succeeded" ? ":white_check_mark:" : ":x:";
  const tail = f.failedStep?.logTail ? `\n\`\`\`${f.failedStep.logTail.slice(-1500)}\`\`\`` : "";
  const step = f.failedStep
    ? `\nFailed step: *${f.failedStep.name}*${f.failedStep.reason ? ` (${f.failedStep.reason})` : ""}${tail}`
    : "";
  return JSON.stringify({
    text: `${mark} dagops: *${f.pipeline}* run \`${f.run}\` ${f.outcome} on *${f.cluster}* after ${duration(f.seconds)}.${step}\nMore: \`${lookFurther(f)}\``,
  });
}

type Fetch = (
  url: string,
  init: { method: string; headers: Record<string, string>; body: string; signal: AbortSignal },
) => Promise<{ ok: boolean; status: number }>;

export async function sendAlerts(
  plan: Plan,
  facts: AlertFacts,
  api: RunApi,
  log: Logger,
  options: { scale?: number; fetch?: Fetch } = {},
): Promise<void> {
  const rules = (plan.notify ?? []).map((r, i) => ({ ...r, index: i })).filter((r) => r.on.includes(facts.outcome));
  const scale = options.scale ?? 1;
  const doFetch = options.fetch ?? (fetch as unknown as Fetch);
  for (const rule of rules) {
    const id = { rule: rule.index, secret: rule.secret.name, key: rule.secret.key, format: rule.format };
    let url: string | undefined;
    try {
      const data = (await api.getSecret(rule.secret.name)).data?.[rule.secret.key];
      url = data === undefined ? undefined : Buffer.from(data, "base64").toString("utf8").trim();
    } catch (err) {
      log.warn("alert.failed", { ...id, error: `cannot read the Secret: ${(err as Error).message}` });
      continue;
    }
    if (!url || !/^https?:\/\//.test(url)) {
      log.warn("alert.failed", { ...id, error: `the Secret's key holds no http(s) URL` });
      continue;
    }
    const body = alertBody(rule.format, facts);
    const giveUpAt = Date.now() + ALERT_BUDGET_MS * scale;
    for (let tries = 1; ; tries++) {
      let why: string;
      try {
        const remaining = Math.max(1, giveUpAt - Date.now());
        const res = await doFetch(url, {
          method: "POST",
          headers: { "content-type": "application/json" },
          body,
          signal: AbortSignal.timeout(Math.min(ALERT_REQUEST_TIMEOUT_MS * Math.max(scale, 0.05), remaining)),
        });
        if (res.ok) {
          log.info("alert.sent", { ...id, tries });
          break;
        }
        why = `HTTP ${res.status}`;
      } catch (err) {
        why = whyNoAnswer(err, "request failed");
      }
      const wait = Math.min(30_000, 1000 * 2 ** (tries - 1)) * scale;
      if (Date.now() + wait >= giveUpAt) {
        log.warn("alert.failed", {
          ...id,
          tries,
          error: `${why}; gave up after ${Math.round((ALERT_BUDGET_MS * scale) / 1000)} s of tries`,
        });
        break;
      }
      log.warn("alert.retry", { ...id, tries, error: why });
      await new Promise((r) => setTimeout(r, wait));
    }
  }
}
