/**
 * Rules that no single schema can check: they relate objects to each other, the way the cluster
 * will (Fargate selectors vs. pods, NodePools vs. step pods, Applications vs. folders).
 */
import { parse } from "yaml";
import { GENERATED_DIR } from "../model/files.ts";
import { LABEL, ROLE } from "../contract/labels.ts";
import { PLAN_KEY } from "../contract/names.ts";
import type { Plan } from "../contract/plan-format.ts";
import { YAML_OPTIONS } from "../contract/yaml.ts";
import { fieldPath, problem, type Problem } from "../contract/problems.ts";
import type { Manifest, RenderedObject } from "../render/render.ts";
import { validateManifest } from "./output-schema.ts";
import { restrictedViolations } from "./pod-security.ts";
import { ec2NodeClassViolations, nodePoolViolations } from "./karpenter-rules.ts";
import type { IPodSpec } from "kubernetes-models/v1/PodSpec";

/** The API server refuses objects over about 1.5 MiB and ConfigMap data over 1 MiB. */
export const MAX_OBJECT_BYTES = 1024 * 1024;

/**
 * Size is measured on the serialized YAML (which is larger than the JSON the API server stores,
 * so the check errs on the safe side), where it costs nothing extra.
 */
export function checkSizes(
  files: readonly { path: string; content: string }[],
  sources: ReadonlyMap<string, string> = new Map(),
): Problem[] {
  const problems: Problem[] = [];
  for (const f of files) {
    if (f.content.length * 3 < MAX_OBJECT_BYTES) continue; // cannot be over, even at 3 bytes a character
    const bytes = Buffer.byteLength(f.content);
    if (bytes > MAX_OBJECT_BYTES) {
      // Reported against the definition it comes from: that is where the fix goes.
      const source = sources.get(f.path);
      const fromPipeline = source?.startsWith("pipelines/");
      problems.push(
        problem(
          "OBJECT_TOO_LARGE",
          source ?? `${GENERATED_DIR}/${f.path}`,
          fromPipeline ? "steps" : "",
          `${GENERATED_DIR}/${f.path} would be ${bytes} bytes; the API server refuses objects over ${MAX_OBJECT_BYTES} bytes (ConfigMap data: 1 MiB).${fromPipeline ? " Split the pipeline into smaller ones, or shorten env, command and args" : ""}`,
        ),
      );
    }
  }
  return problems;
}

interface PodTemplate {
  readonly namespace: string;
  readonly labels: Record<string, string>;
  readonly nodeSelector: Record<string, string>;
  readonly tolerations: readonly { key?: string; operator?: string; value?: string; effect?: string }[];
}

interface FargateSelector {
  readonly namespace: string;
  readonly labels?: Record<string, string>;
}

interface NodePoolView {
  readonly name: string;
  readonly labels: Record<string, string>;
  readonly taints: readonly { key: string; value?: string; effect: string }[];
  readonly requirements: readonly { key: string; operator: string; values?: string[] }[];
}

/**
 * `knownFolders`: folders of generated/ that hold objects not among `objects` (a synth checks
 * the pipelines it renders apart from the shared files). `context`: objects already checked
 * whose Fargate selectors and NodePools the checks of `objects` need (the shared platform).
 */
export function checkOutput(
  objects: readonly RenderedObject[],
  knownFolders: ReadonlySet<string> = new Set(),
  context: readonly RenderedObject[] = [],
): Problem[] {
  const problems: Problem[] = [];
  const file = (o: RenderedObject) => `${GENERATED_DIR}/${o.path}`;
  const byPath = new Map<string, RenderedObject>();
  const byIdentity = new Map<string, RenderedObject>();

  for (const o of objects) {
    problems.push(...validateManifest(o.manifest, file(o)));
    const cel =
      o.manifest.kind === "NodePool"
        ? nodePoolViolations(o.manifest as never)
        : o.manifest.kind === "EC2NodeClass"
          ? ec2NodeClassViolations(o.manifest as never)
          : [];
    for (const v of cel)
      problems.push(
        problem("KARPENTER_RULE", file(o), v.path, `the API server would refuse this ${o.manifest.kind}: ${v.message}`),
      );
    const other = byPath.get(o.path);
    if (other)
      problems.push(
        problem(
          "DUPLICATE_PATH",
          file(o),
          "",
          `two objects want this file: ${describe(o.manifest)} and ${describe(other.manifest)}`,
        ),
      );
    byPath.set(o.path, o);
    const id = identity(o);
    const twin = byIdentity.get(id);
    if (twin)
      problems.push(
        problem(
          "DUPLICATE_OBJECT",
          file(o),
          "metadata.name",
          `${describe(o.manifest)} is also emitted as ${file(twin)}; one object, one owner`,
        ),
      );
    byIdentity.set(id, o);
  }

  for (const cluster of [...new Set(objects.map((o) => o.cluster))].sort()) {
    const mine = objects.filter((o) => o.cluster === cluster);
    const around = [...mine, ...context.filter((o) => o.cluster === cluster)];
    const selectors = around
      .filter((o) => o.manifest.kind === "FargateProfile")
      .flatMap((o) => (o.manifest.spec as { selectors?: FargateSelector[] }).selectors ?? []);
    const pools = around.filter((o) => o.manifest.kind === "NodePool").map(nodePoolView);
    const folders = new Set(mine.map((o) => `${GENERATED_DIR}/${o.path.slice(0, o.path.lastIndexOf("/"))}`));

    for (const o of mine) {
      const m = o.manifest;
      if (m.kind === "CronJob") {
        const pod = cronJobPod(m);
        problems.push(
          ...podSecurity(
            file(o),
            ["spec", "jobTemplate", "spec", "template", "spec"],
            (m.spec as { jobTemplate: { spec: { template: { spec: IPodSpec } } } }).jobTemplate.spec.template.spec,
          ),
        );
        if (!selectors.some((s) => fargateMatches(s, pod))) {
          problems.push(
            problem(
              "FARGATE_UNMATCHED",
              file(o),
              "spec.jobTemplate.spec.template.metadata.labels",
              `run-manager pods in namespace ${pod.namespace} with labels ${JSON.stringify(pod.labels)} match no FargateProfile selector in cluster ${cluster}; they would land on EC2 nodes or stay Pending`,
            ),
          );
        }
      }
      if (m.kind === "ConfigMap" && typeof (m as { data?: Record<string, string> }).data?.[PLAN_KEY] === "string") {
        problems.push(...checkPlan(o, file(o), selectors, pools));
      }
      if (m.kind === "Application") {
        const path = (m.spec as { source?: { path?: string } }).source?.path ?? "";
        if (!folders.has(path) && !knownFolders.has(path)) {
          problems.push(
            problem(
              "APP_PATH_MISSING",
              file(o),
              "spec.source.path",
              `Application ${m.metadata.name} syncs ${JSON.stringify(path)}, which holds no generated object; Argo CD would report the app as missing its source`,
            ),
          );
        }
      }
    }
  }
  return problems;
}

/** Problems of a plan that do not depend on the cluster, computed once per plan (file left empty). */
const planProblems = new WeakMap<Plan, Problem[]>();

function checkPlan(
  o: RenderedObject,
  file: string,
  selectors: readonly FargateSelector[],
  pools: readonly NodePoolView[],
): Problem[] {
  // The in-memory plan when render kept it (the emitter's round trip is proven by
  // test/unit/contract/yaml.test.ts); otherwise the real parser over the text, as the run manager reads it.
  const plan =
    o.plan ??
    (parse((o.manifest as unknown as { data: Record<string, string> }).data[PLAN_KEY]!, YAML_OPTIONS) as Plan);
  let own = planProblems.get(plan);
  if (!own) {
    own = [];
    plan.steps.forEach((step, i) => {
      const at = ["data", PLAN_KEY, "steps", i, "job"];
      own!.push(...validateManifest(step.job as never, "", at));
      const spec = step.job.spec?.template.spec;
      if (spec) own!.push(...podSecurity("", [...at, "spec", "template", "spec"], spec));
      if (step.job.spec?.template.metadata?.labels?.[LABEL.role] !== ROLE.step) {
        own!.push(
          problem(
            "OUTPUT_SCHEMA",
            "",
            fieldPath([...at, "spec", "template", "metadata", "labels"]),
            `step pods must carry ${LABEL.role}: ${ROLE.step}`,
          ),
        );
      }
    });
    (plan.placeholders ?? []).forEach((job, i) => {
      const at = ["data", PLAN_KEY, "placeholders", i];
      own!.push(...validateManifest(job as never, "", at));
      const spec = job.spec?.template.spec;
      if (spec) own!.push(...podSecurity("", [...at, "spec", "template", "spec"], spec));
    });
    planProblems.set(plan, own);
  }
  const problems: Problem[] = own.map((p) => ({ ...p, file }));
  plan.steps.forEach((step, i) => {
    const at = ["data", PLAN_KEY, "steps", i, "job"];
    const spec = step.job.spec?.template.spec;
    const pod: PodTemplate = {
      namespace: step.job.metadata?.namespace ?? "",
      labels: step.job.spec?.template.metadata?.labels ?? {},
      nodeSelector: spec?.nodeSelector ?? {},
      tolerations: spec?.tolerations ?? [],
    };
    const hit = selectors.find((s) => fargateMatches(s, pod));
    if (hit) {
      problems.push(
        problem(
          "FARGATE_MATCHES_STEP",
          file,
          fieldPath([...at, "spec", "template", "metadata", "labels"]),
          `step ${step.name} matches Fargate selector ${JSON.stringify(hit)}; steps must run on Karpenter nodes`,
        ),
      );
    }
    if (!pools.some((p) => admits(p, pod))) {
      problems.push(
        problem(
          "NO_NODEPOOL",
          file,
          fieldPath([...at, "spec", "template", "spec", "nodeSelector"]),
          `no NodePool admits step ${step.name} (nodeSelector ${JSON.stringify(pod.nodeSelector)}); it would stay Pending. Pools: ${pools.map((p) => p.name).join(", ") || "none"}`,
        ),
      );
    }
    // The attempts the run manager moves to on-demand capacity must be schedulable too.
    const fallback = {
      ...pod,
      nodeSelector: { ...pod.nodeSelector, [LABEL.karpenterNodePool]: plan.onDemandNodePool },
    };
    if (step.onDemandAfterInterruptions !== null && !pools.some((p) => admits(p, fallback))) {
      problems.push(
        problem(
          "NO_NODEPOOL",
          file,
          fieldPath(["data", PLAN_KEY, "onDemandNodePool"]),
          `no NodePool admits step ${step.name} on its on-demand fallback pool ${JSON.stringify(plan.onDemandNodePool)}; attempts after Spot interruptions would stay Pending. Pools: ${pools.map((p) => p.name).join(", ") || "none"}`,
        ),
      );
    }
  });
  return problems;
}

function podSecurity(file: string, at: (string | number)[], spec: IPodSpec): Problem[] {
  const base = fieldPath(at);
  return restrictedViolations(spec).map((v) =>
    problem("POD_SECURITY", file, `${base}.${v.path}`, `Pod Security "restricted": ${v.message}`),
  );
}

function cronJobPod(m: Manifest): PodTemplate {
  const t = (
    m.spec as {
      jobTemplate: {
        spec: {
          template: { metadata?: { labels?: Record<string, string> }; spec: { nodeSelector?: Record<string, string> } };
        };
      };
    }
  ).jobTemplate.spec.template;
  return {
    namespace: m.metadata.namespace ?? "",
    labels: t.metadata?.labels ?? {},
    nodeSelector: t.spec.nodeSelector ?? {},
    tolerations: [],
  };
}

/**
 * EKS Fargate matching: the namespace and every selector label, where `*` and `?` are wildcards
 * in namespaces, label keys and label values.
 * https://docs.aws.amazon.com/eks/latest/userguide/fargate-profile.html#fargate-profile-wildcards
 */
export function fargateMatches(selector: FargateSelector, pod: Pick<PodTemplate, "namespace" | "labels">): boolean {
  if (!wildcard(selector.namespace).test(pod.namespace)) return false;
  return Object.entries(selector.labels ?? {}).every(([k, v]) =>
    Object.entries(pod.labels).some(([pk, pv]) => wildcard(k).test(pk) && wildcard(v).test(pv)),
  );
}

const wildcards = new Map<string, RegExp>();

function wildcard(pattern: string): RegExp {
  let re = wildcards.get(pattern);
  if (!re) wildcards.set(pattern, (re = compileWildcard(pattern)));
  return re;
}

function compileWildcard(pattern: string): RegExp {
  return new RegExp(
    `^${pattern
      .replace(/[.+^${}()|[\]\\]/g, "\\$&")
      .replace(/\*/g, ".*")
      .replace(/\?/g, ".")}$`,
  );
}

function nodePoolView(o: RenderedObject): NodePoolView {
  const spec = (
    o.manifest.spec as {
      template: {
        metadata?: { labels?: Record<string, string> };
        spec: { taints?: NodePoolView["taints"]; requirements?: NodePoolView["requirements"] };
      };
    }
  ).template;
  return {
    name: o.manifest.metadata.name,
    labels: { ...(spec.metadata?.labels ?? {}), [LABEL.karpenterNodePool]: o.manifest.metadata.name },
    taints: spec.spec.taints ?? [],
    requirements: spec.spec.requirements ?? [],
  };
}

/** Labels Karpenter can satisfy on any node without the NodePool naming them. */
const WELL_KNOWN =
  /^(kubernetes\.io\/(os|arch)|topology\.kubernetes\.io\/(zone|region)|node\.kubernetes\.io\/instance-type|karpenter\.sh\/capacity-type|karpenter\.k8s\.aws\/.+)$/;

/** Whether Karpenter would launch a node from this pool for the pod: taints tolerated, selector satisfiable. */
export function admits(pool: NodePoolView, pod: PodTemplate): boolean {
  const tolerated = pool.taints.every((t) =>
    pod.tolerations.some(
      (tol) =>
        tol.key === t.key &&
        (tol.effect === undefined || tol.effect === t.effect) &&
        (tol.operator === "Exists" || tol.value === t.value),
    ),
  );
  if (!tolerated) return false;
  return Object.entries(pod.nodeSelector).every(([key, value]) => {
    if (key in pool.labels) return pool.labels[key] === value;
    const reqs = pool.requirements.filter((r) => r.key === key);
    if (reqs.length === 0) return WELL_KNOWN.test(key);
    return reqs.every((r) => {
      switch (r.operator) {
        case "In":
          return (r.values ?? []).includes(value);
        case "NotIn":
          return !(r.values ?? []).includes(value);
        case "Exists":
          return true;
        case "DoesNotExist":
          return false;
        case "Gt":
          return Number(value) > Number(r.values?.[0]);
        case "Lt":
          return Number(value) < Number(r.values?.[0]);
        default:
          return false;
      }
    });
  });
}

function identity(o: RenderedObject): string {
  const group = o.manifest.apiVersion.includes("/") ? o.manifest.apiVersion.split("/")[0] : "";
  return [o.cluster, group, o.manifest.kind, o.manifest.metadata.namespace ?? "", o.manifest.metadata.name].join(
    "\u0000",
  );
}

function describe(m: Manifest): string {
  return `${m.kind} ${m.metadata.namespace ? `${m.metadata.namespace}/` : ""}${m.metadata.name}`;
}
