/**
 * Run and step metrics as CloudWatch Embedded Metric Format lines: JSON log lines that
 * CloudWatch Logs turns into metrics by itself, with no agent and no API call. Printed once, at
 * the end of a run; once the run manager's logs reach CloudWatch, the metrics appear under
 * `METRICS_NAMESPACE`.
 * https://docs.aws.amazon.com/AmazonCloudWatch/latest/monitoring/CloudWatch_Embedded_Metric_Format_Specification.html
 */
import type { RunSummary } from "./summary.ts";

export const METRICS_NAMESPACE = "dagops";

/** Dimension sets: per pipeline and cluster, and per outcome as well (steps also per step). */
const RUN_DIMENSIONS = [
  ["Pipeline", "Cluster"],
  ["Pipeline", "Cluster", "Outcome"],
];
const STEP_DIMENSIONS = [["Pipeline", "Cluster", "Step"]];

export type EmfRecord = Record<string, unknown>;

function line(
  timestamp: number,
  dimensions: string[][],
  metrics: Record<string, { value: number; unit: string }>,
  properties: Record<string, string | number>,
): EmfRecord {
  return {
    _aws: {
      Timestamp: timestamp,
      CloudWatchMetrics: [
        {
          Namespace: METRICS_NAMESPACE,
          Dimensions: dimensions,
          Metrics: Object.entries(metrics).map(([Name, m]) => ({ Name, Unit: m.unit })),
        },
      ],
    },
    ...properties,
    ...Object.fromEntries(Object.entries(metrics).map(([name, m]) => [name, m.value])),
  };
}

/**
 * One record for the run, and one per step that ran. The run manager logs each as a JSON line
 * (its usual fields come along; EMF keeps extra fields as log properties).
 */
export function emfLines(summary: RunSummary, cluster: string, timestamp: number): EmfRecord[] {
  const attempts = summary.steps.flatMap((s) => s.attempts);
  const interrupted = attempts.filter((a) => a.outcome === "interrupted").length;
  const onDemandFallbacks = summary.steps.filter((s) =>
    s.attempts.some((a, i) => a.capacity === "on-demand" && i > 0 && s.attempts[i - 1]!.capacity === "spot"),
  ).length;
  const run = line(
    timestamp,
    RUN_DIMENSIONS,
    {
      RunDuration: { value: summary.seconds, unit: "Seconds" },
      RunSucceeded: { value: summary.outcome === "succeeded" ? 1 : 0, unit: "Count" },
      RunFailed: { value: summary.outcome === "succeeded" ? 0 : 1, unit: "Count" },
      StepAttempts: { value: attempts.length, unit: "Count" },
      Interruptions: { value: interrupted, unit: "Count" },
      OnDemandFallbacks: { value: onDemandFallbacks, unit: "Count" },
    },
    { Pipeline: summary.pipeline, Cluster: cluster, Outcome: summary.outcome },
  );
  const steps = summary.steps
    .filter((s) => s.attempts.length > 0)
    .map((s) =>
      line(
        timestamp,
        STEP_DIMENSIONS,
        {
          StepDuration: { value: s.seconds, unit: "Seconds" },
          StepAttempts: { value: s.attempts.length, unit: "Count" },
          StepInterruptions: { value: s.attempts.filter((a) => a.outcome === "interrupted").length, unit: "Count" },
        },
        { Pipeline: summary.pipeline, Cluster: cluster, Step: s.name, Outcome: s.outcome },
      ),
    );
  return [run, ...steps];
}
