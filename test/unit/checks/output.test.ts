/**
 * Output validation catches deliberately broken objects: schema errors in emitted objects and in
 * the step Jobs inside plans, and every cross-object rule.
 */
import assert from "node:assert/strict";
import { describe, test } from "node:test";
import { parse, stringify } from "yaml";
import { checkOutput, checkSizes, fargateMatches } from "../../../src/checks/cross-object.ts";
import { validateManifest } from "../../../src/checks/output-schema.ts";
import { loadProject } from "../../../src/load/load.ts";
import type { Problem } from "../../../src/contract/problems.ts";
import { render, toFiles, type RenderedObject } from "../../../src/render/render.ts";
import { REPO, exampleTree } from "../../support/helpers.ts";

/** The tests' own example repository, synthesized (test/support/helpers.ts). */
const EXAMPLE_ROOT = await exampleTree();

const project = await loadProject(EXAMPLE_ROOT);
const pristine = render(project.clusters, project.pipelines);

/** A deep copy of the rendered objects with `edit` applied to the one at `path`. */
function broken(path: string, edit: (m: Record<string, any>) => void): RenderedObject[] {
  return pristine.map((o) => {
    if (o.path !== path) return o;
    const manifest = structuredClone(o.manifest) as Record<string, any>;
    edit(manifest);
    // Without the in-memory plan, checks read plan.yaml from the (edited) text.
    const { plan: _plan, ...rest } = o;
    return { ...rest, manifest: manifest as RenderedObject["manifest"] };
  });
}

function editPlan(m: Record<string, any>, edit: (plan: any) => void): void {
  const plan = parse(m.data["plan.yaml"], { version: "1.1" });
  edit(plan);
  m.data["plan.yaml"] = stringify(plan, { version: "1.1" });
}

function expectProblem(problems: Problem[], code: Problem["code"], file: string, path?: string): void {
  assert.ok(
    problems.some((p) => p.code === code && p.file === file && (path === undefined || p.path === path)),
    `expected ${code} in ${file} ${path ?? ""}; got:\n${problems.map((p) => `${p.code} ${p.file} ${p.path} ${p.message}`).join("\n")}`,
  );
}

const PLAN = "prod/pipelines/customer-classification/configmap-plan.yaml";
const CRON = "prod/pipelines/customer-classification/cronjob-customer-classification.yaml";

describe("output validation", () => {
  test("the examples produce no problems", () => {
    assert.deepEqual(checkOutput(pristine), []);
  });

  test("a kubernetes-models schema error in an emitted object", () => {
    const problems = checkOutput(broken(CRON, (m) => (m.spec.concurrencyPolicy = "Sometimes")));
    expectProblem(problems, "OUTPUT_SCHEMA", `generated/${CRON}`, "spec.concurrencyPolicy");
  });

  test("a schema error inside a step Job of a plan ConfigMap", () => {
    const problems = checkOutput(
      broken(PLAN, (m) => editPlan(m, (plan) => (plan.steps[3].job.spec.backoffLimit = "three"))),
    );
    expectProblem(problems, "OUTPUT_SCHEMA", `generated/${PLAN}`, 'data["plan.yaml"].steps[3].job.spec.backoffLimit');
  });

  test("a Karpenter NodePool schema error", () => {
    const path = "prod/platform/nodepool-dagops-steps.yaml";
    const problems = checkOutput(broken(path, (m) => (m.spec.disruption.consolidationPolicy = "Always")));
    expectProblem(problems, "OUTPUT_SCHEMA", `generated/${path}`, "spec.disruption.consolidationPolicy");
  });

  test("an Argo CD Application schema error", () => {
    const path = "prod/apps/application-dagops-platform.yaml";
    const problems = checkOutput(broken(path, (m) => (m.spec.syncPolicy.retry.limit = "five")));
    expectProblem(problems, "OUTPUT_SCHEMA", `generated/${path}`, "spec.syncPolicy.retry.limit");
  });

  test("an ACK FargateProfile error (our own schema)", () => {
    const path = "prod/platform/fargateprofile-run-managers.yaml";
    const problems = checkOutput(broken(path, (m) => (m.spec.selector = m.spec.selectors)));
    expectProblem(problems, "OUTPUT_SCHEMA", `generated/${path}`, "spec.selector");
  });

  test("run-manager pods that no Fargate profile selects", () => {
    const problems = checkOutput(
      broken(CRON, (m) => (m.spec.jobTemplate.spec.template.metadata.labels["dagops.dev/role"] = "manager")),
    );
    expectProblem(problems, "FARGATE_UNMATCHED", `generated/${CRON}`);
  });

  test("Fargate wildcards apply to namespaces, label keys and label values", () => {
    const pod = { namespace: "dagops-etl", labels: { "dagops.dev/role": "run-manager" } };
    assert.ok(fargateMatches({ namespace: "dagops-*", labels: { "dagops.dev/role": "run-manager" } }, pod));
    assert.ok(fargateMatches({ namespace: "dagops-et?", labels: { "dagops.dev/*": "run-*" } }, pod));
    assert.ok(!fargateMatches({ namespace: "dagops-e?", labels: {} }, pod));
    assert.ok(!fargateMatches({ namespace: "*", labels: { "dagops.dev/role": "step" } }, pod));
  });

  test("step pods that a Fargate profile would select", () => {
    const problems = checkOutput(
      broken(PLAN, (m) =>
        editPlan(m, (plan) => (plan.steps[0].job.spec.template.metadata.labels["dagops.dev/role"] = "run-manager")),
      ),
    );
    expectProblem(problems, "FARGATE_MATCHES_STEP", `generated/${PLAN}`);
  });

  test("step pods that no NodePool admits: a taint they do not tolerate", () => {
    const problems = checkOutput(
      broken(PLAN, (m) => editPlan(m, (plan) => (plan.steps[0].job.spec.template.spec.tolerations = []))),
    );
    expectProblem(
      problems,
      "NO_NODEPOOL",
      `generated/${PLAN}`,
      'data["plan.yaml"].steps[0].job.spec.template.spec.nodeSelector',
    );
  });

  test("step pods that no NodePool admits: an architecture the pools exclude", () => {
    const problems = checkOutput(
      broken(PLAN, (m) =>
        editPlan(m, (plan) => (plan.steps[1].job.spec.template.spec.nodeSelector["kubernetes.io/arch"] = "arm64")),
      ),
    );
    expectProblem(problems, "NO_NODEPOOL", `generated/${PLAN}`);
  });

  test("an on-demand fallback pool that does not exist", () => {
    const problems = checkOutput(
      broken(PLAN, (m) => editPlan(m, (plan) => (plan.onDemandNodePool = "dagops-steps-ondemand"))),
    );
    expectProblem(problems, "NO_NODEPOOL", `generated/${PLAN}`, 'data["plan.yaml"].onDemandNodePool');
  });

  test("an Application whose path holds nothing", () => {
    const path = "prod/apps/application-pipeline-customer-classification.yaml";
    const problems = checkOutput(
      broken(path, (m) => (m.spec.source.path = "generated/prod/pipelines/customer-clasification")),
    );
    expectProblem(problems, "APP_PATH_MISSING", `generated/${path}`, "spec.source.path");
  });

  test("an object emitted twice", () => {
    const twin = pristine.find((o) => o.path === "prod/platform/nodepool-dagops-steps.yaml")!;
    const problems = checkOutput([...pristine, { ...twin, path: "prod/platform/nodepool-copy.yaml" }]);
    expectProblem(problems, "DUPLICATE_OBJECT", "generated/prod/platform/nodepool-copy.yaml");
  });

  test("two objects on one path", () => {
    const a = pristine.find((o) => o.path === CRON)!;
    const b = pristine.find((o) => o.path === "prod/platform/nodepool-dagops-steps.yaml")!;
    expectProblem(
      checkOutput([...pristine.filter((o) => o !== b), { ...b, path: a.path }]),
      "DUPLICATE_PATH",
      `generated/${CRON}`,
    );
  });

  test("an object over the API server's size limit", () => {
    const files = toFiles(broken(PLAN, (m) => (m.data.padding = "x".repeat(1024 * 1024))));
    expectProblem(checkSizes(files), "OBJECT_TOO_LARGE", `generated/${PLAN}`);
    assert.deepEqual(checkSizes(toFiles(pristine)), []);
  });

  test("a pod that breaks Pod Security restricted", () => {
    const problems = checkOutput(
      broken(CRON, (m) => {
        const c = m.spec.jobTemplate.spec.template.spec.containers[0];
        c.securityContext.allowPrivilegeEscalation = true;
        c.securityContext.capabilities = { add: ["SYS_ADMIN"] };
      }),
    );
    expectProblem(
      problems,
      "POD_SECURITY",
      `generated/${CRON}`,
      "spec.jobTemplate.spec.template.spec.containers[0].securityContext.allowPrivilegeEscalation",
    );
    expectProblem(
      problems,
      "POD_SECURITY",
      `generated/${CRON}`,
      "spec.jobTemplate.spec.template.spec.containers[0].securityContext.capabilities.drop",
    );
    expectProblem(
      problems,
      "POD_SECURITY",
      `generated/${CRON}`,
      "spec.jobTemplate.spec.template.spec.containers[0].securityContext.capabilities.add",
    );
  });

  test("Karpenter CEL rules: In without values, Gt with a non-number, a restricted label, minValues over values", () => {
    const path = "prod/platform/nodepool-dagops-steps.yaml";
    const problems = checkOutput(
      broken(path, (m) => {
        const reqs = m.spec.template.spec.requirements;
        reqs.find((r: any) => r.key === "karpenter.k8s.aws/instance-category").values = [];
        reqs.find((r: any) => r.key === "karpenter.k8s.aws/instance-generation").values = ["five"];
        reqs.push({ key: "kubernetes.io/arch", operator: "In", values: ["amd64"], minValues: 2 });
        m.spec.template.metadata.labels["karpenter.sh/owner"] = "me";
      }),
    );
    const base = "spec.template.spec.requirements";
    expectProblem(problems, "KARPENTER_RULE", `generated/${path}`, `${base}[3].values`);
    expectProblem(problems, "KARPENTER_RULE", `generated/${path}`, `${base}[4].values`);
    expectProblem(problems, "KARPENTER_RULE", `generated/${path}`, `${base}[7].minValues`);
    expectProblem(
      problems,
      "KARPENTER_RULE",
      `generated/${path}`,
      'spec.template.metadata.labels["karpenter.sh/owner"]',
    );
  });

  test("Karpenter CEL rules: an AMI alias with other selector terms, or of an unknown family", () => {
    const path = "prod/platform/ec2nodeclass-dagops-steps.yaml";
    const problems = checkOutput(
      broken(path, (m) => (m.spec.amiSelectorTerms = [{ alias: "ubuntu@v1" }, { id: "ami-123" }])),
    );
    expectProblem(problems, "KARPENTER_RULE", `generated/${path}`, "spec.amiSelectorTerms[0].alias");
    expectProblem(problems, "KARPENTER_RULE", `generated/${path}`, "spec.amiSelectorTerms");
  });

  test("a kind dagops cannot validate is refused", () => {
    const problems = validateManifest({ apiVersion: "apps/v1", kind: "Deployment" }, "x.yaml");
    assert.equal(problems[0]?.code, "OUTPUT_SCHEMA");
  });
});
