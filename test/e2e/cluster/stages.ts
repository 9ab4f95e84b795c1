// KWOK plays the kubelet of every node but the run managers' (the harness plays that one:
// kubelet.ts). Its behaviour is a set of Stage objects: KWOK's own fast lifecycle (read from the
// pinned KWOK module), with the pod stages narrowed to pods the harness does not run, and the
// default "container exits 0" replaced by the outcome a test chose per step and attempt.
import { readFileSync } from "node:fs";
import { join } from "node:path";
import { parse } from "yaml";
import { LABEL } from "../../../src/contract/labels.ts";
import type { KubeObject } from "./api.ts";
import { FARGATE_SCHEDULER } from "./fargate.ts";

/** What a step's container does on one attempt. Not listed: it runs for `defaultSeconds` and exits 0. */
export interface StepOutcome {
  /** The exit code the container ends with; "never" keeps it running until something else ends it. */
  readonly exit: number | "never";
  readonly afterSeconds?: number;
}

/** Outcomes by step name, then by attempt number ("*" for every attempt not listed). */
export type Outcomes = Readonly<Record<string, Readonly<Record<string, StepOutcome>>>>;

interface Expression {
  key: string;
  operator: string;
  values?: string[];
}

function read(stageDir: string, name: string): KubeObject {
  return parse(readFileSync(join(stageDir, `stage-${name}.yaml`), "utf8")) as KubeObject;
}

/** Not a run-manager pod: those are bound by the Fargate emulation and run by the harness. */
const notFargate: Expression = { key: ".spec.schedulerName", operator: "NotIn", values: [FARGATE_SCHEDULER] };

const stepLabel = (label: string) => `.metadata.labels["${label}"]`;

function withSelector(stage: KubeObject, name: string, extra: Expression[], delayMs?: number): KubeObject {
  const copy = structuredClone(stage);
  copy.metadata = { name };
  copy.spec.selector.matchExpressions = [...copy.spec.selector.matchExpressions, ...extra];
  if (delayMs !== undefined) copy.spec.delay = { durationMilliseconds: delayMs };
  return copy;
}

function exitStatus(exit: number): string {
  const reason = exit === 0 ? "Completed" : "Error";
  return [
    "{{ $now := Now }}",
    "containerStatuses:",
    "{{ range .spec.containers }}",
    "- image: {{ .image | Quote }}",
    "  name: {{ .name | Quote }}",
    "  ready: false",
    "  restartCount: 0",
    "  started: false",
    "  state:",
    "    terminated:",
    `      exitCode: ${exit}`,
    "      finishedAt: {{ $now | Quote }}",
    `      reason: ${reason}`,
    "      startedAt: {{ $now | Quote }}",
    "{{ end }}",
    `phase: ${exit === 0 ? "Succeeded" : "Failed"}`,
    "",
  ].join("\n");
}

function terminating(stage: KubeObject): KubeObject {
  stage.spec.next = { statusTemplate: exitStatus(143) };
  return stage;
}

/**
 * The Stage objects for one scenario. A pod matches exactly one completion stage: the listed
 * (step, attempt) pairs, each step's "*", or the default for every other step pod; pods that
 * are not step pods (placeholders) are made ready and never complete, as a `pause` container.
 */
export function stages(stageDir: string, outcomes: Outcomes = {}, defaultSeconds = 1): KubeObject[] {
  const complete = read(stageDir, "pod-complete");
  const running: Expression = { key: ".status.phase", operator: "In", values: ["Running"] };
  const notRunning: Expression = { ...running, operator: "NotIn" };
  const out: KubeObject[] = [
    read(stageDir, "node-initialize"),
    read(stageDir, "node-heartbeat-with-lease"),
    withSelector(read(stageDir, "pod-ready"), "pod-ready", [notFargate]),
    // A running pod being deleted (an eviction, a cancelled step): the kubelet stops its
    // containers (SIGTERM: exit 143) and reports the terminal phase before the pod goes, which
    // is what lets the Job controller match podFailurePolicy rules on it. KWOK's fast stages
    // would delete it while Running. Its conditions (DisruptionTarget) stay as they are.
    terminating(withSelector(read(stageDir, "pod-delete"), "pod-terminate", [notFargate, running])),
    withSelector(read(stageDir, "pod-delete"), "pod-delete", [notFargate, notRunning]),
  ];
  const isStep: Expression = { key: stepLabel(LABEL.role), operator: "In", values: ["step"] };
  const chosen = Object.keys(outcomes).sort();
  out.push(
    withSelector(
      complete,
      "dagops-step-exit-0",
      [
        isStep,
        notFargate,
        ...(chosen.length ? [{ key: stepLabel(LABEL.step), operator: "NotIn", values: chosen }] : []),
      ],
      defaultSeconds * 1000,
    ),
  );
  for (const step of chosen) {
    const byAttempt = outcomes[step] ?? {};
    const attempts = Object.keys(byAttempt)
      .filter((a) => a !== "*")
      .sort();
    const rest: StepOutcome = byAttempt["*"] ?? { exit: 0, afterSeconds: defaultSeconds };
    const cases: [string, StepOutcome, Expression][] = [
      ...attempts.map((a): [string, StepOutcome, Expression] => [
        a,
        byAttempt[a] as StepOutcome,
        { key: stepLabel(LABEL.attempt), operator: "In", values: [a] },
      ]),
      ["rest", rest, { key: stepLabel(LABEL.attempt), operator: "NotIn", values: attempts.length ? attempts : ["-"] }],
    ];
    for (const [attempt, outcome, which] of cases) {
      if (outcome.exit === "never") continue;
      const stage = withSelector(
        complete,
        `dagops-step-${step}-${attempt}`,
        [isStep, notFargate, { key: stepLabel(LABEL.step), operator: "In", values: [step] }, which],
        (outcome.afterSeconds ?? defaultSeconds) * 1000,
      );
      stage.spec.next = { statusTemplate: exitStatus(outcome.exit) };
      out.push(stage);
    }
  }
  return out;
}
