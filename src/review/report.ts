/**
 * The review report: what a change to `generated/` does to each cluster, per object, per
 * pipeline and per step, and which parts carry operational risk. Pure: two trees in, one report
 * out. Only files whose bytes differ are parsed.
 */
import { parseAllDocuments } from "yaml";
import { parsePlan } from "../cost/estimate.ts";
import { memoByText } from "../model/memo.ts";
import { PLAN_KEY, PLATFORM_APP, ROOT_APP, STEPS_SERVICE_ACCOUNT, pipelineApp } from "../contract/names.ts";
import { ANNOTATION } from "../contract/labels.ts";
import type { Plan, PlanStep } from "../contract/plan-format.ts";
import { formatDuration } from "../contract/duration.ts";
import { getOrSet } from "../contract/order.ts";

export type Op = "create" | "update" | "prune";
export type RiskLevel = "high" | "medium";

export interface ObjectChange {
  readonly op: Op;
  readonly cluster: string;
  readonly kind: string;
  readonly namespace?: string;
  readonly name: string;
  readonly path: string;
}

export interface FieldChange {
  readonly field: string;
  readonly before?: string;
  readonly after?: string;
}

export interface StepChange {
  readonly step: string;
  readonly status: "added" | "removed" | "changed" | "renamed";
  readonly renamedFrom?: string;
  readonly fields: readonly FieldChange[];
}

export interface PipelineChange {
  readonly pipeline: string;
  readonly clusters: readonly string[];
  readonly status: "added" | "removed" | "changed";
  /** The template the pipeline is a tenant of (its CronJob's `dagops.dev/template`), if any. */
  readonly template?: string;
  readonly settings: readonly FieldChange[];
  readonly steps: readonly StepChange[];
  /** The DAG after the change, with added, changed and removed steps marked. */
  readonly mermaid: string;
}

export interface PlatformChange {
  readonly cluster: string;
  readonly kind: string;
  readonly name: string;
  readonly op: Op | "replace";
  readonly fields: readonly FieldChange[];
  readonly consequence: string;
  readonly risk?: RiskLevel;
}

export interface Risk {
  readonly level: RiskLevel;
  readonly cluster: string;
  readonly message: string;
}

export interface ClusterSummary {
  readonly cluster: string;
  readonly create: number;
  readonly update: number;
  readonly prune: number;
  readonly applications: readonly string[];
}

export interface Report {
  readonly clusters: readonly ClusterSummary[];
  readonly objects: readonly ObjectChange[];
  readonly pipelines: readonly PipelineChange[];
  readonly platform: readonly PlatformChange[];
  readonly risks: readonly Risk[];
}

/** Prunes in one cluster from which a change is flagged for review. */
export const MANY_PRUNES = 10;

type Tree = ReadonlyMap<string, string>;
type Obj = {
  apiVersion: string;
  kind: string;
  metadata: { name: string; namespace?: string; labels?: Record<string, string> };
  spec?: unknown;
  data?: Record<string, string>;
};

const isPlan = (o: Obj) =>
  o.kind === "ConfigMap" && o.data?.[PLAN_KEY] !== undefined && /-plan-[0-9a-f]{10}$/.test(o.metadata.name);

/** An object's identity; plan ConfigMaps pair by pipeline, since their names change with every revision. */
function identity(cluster: string, o: Obj): string {
  const group = o.apiVersion.includes("/") ? o.apiVersion.split("/")[0] : "";
  const name = isPlan(o) ? o.metadata.name.replace(/-[0-9a-f]{10}$/, "") : o.metadata.name;
  return [cluster, `${group}/${o.kind}`, o.metadata.namespace ?? "", name].join("|");
}

/**
 * One generated file as the object it holds, or why it holds none that Argo CD could apply: a
 * merge-conflict marker, several documents, YAML errors, or no `kind`. Never throws: a review
 * must report a broken file, not crash on it. By text (shared objects: nothing may change them):
 * a review reads a file for its objects, its pipeline and its cost, and a file the change did
 * not touch is the same text on both sides.
 */
export const readManifest = memoByText(4096, parseManifest);

function parseManifest(text: string): { obj?: Obj; error?: string } {
  if (/^(<{7}|={7}|>{7})(\s|$)/m.test(text)) return { error: "holds merge-conflict markers" };
  let docs;
  try {
    docs = parseAllDocuments(text, { version: "1.1" });
  } catch (err) {
    return { error: `cannot be read as YAML: ${(err as Error).message.split("\n")[0]}` };
  }
  if (!Array.isArray(docs)) return { error: "cannot be read as YAML" };
  if (docs.length !== 1) return { error: `holds ${docs.length} YAML documents; dagops writes one object per file` };
  const doc = docs[0]!;
  if (doc.errors.length) return { error: `cannot be read as YAML: ${doc.errors[0]!.message.split("\n")[0]}` };
  let o: unknown;
  try {
    o = doc.toJS({ maxAliasCount: 20 });
  } catch (err) {
    return { error: `cannot be read as YAML: ${(err as Error).message.split("\n")[0]}` };
  }
  const m = o as Partial<Obj> | null;
  if (
    !m ||
    typeof m !== "object" ||
    Array.isArray(m) ||
    typeof m.kind !== "string" ||
    typeof m.metadata?.name !== "string"
  )
    return { error: "holds no Kubernetes object (kind and metadata.name)" };
  return { obj: o as Obj };
}

function parseFile(text: string): Obj | undefined {
  return readManifest(text).obj;
}

export function buildReport(base: Tree, head: Tree): Report {
  const changed = new Set<string>();
  for (const [p, t] of base) if (head.get(p) !== t) changed.add(p);
  for (const p of head.keys()) if (!base.has(p)) changed.add(p);
  // A changed file that holds no applicable object: what Argo CD would fail on.
  const unreadable: Risk[] = [];
  for (const path of [...changed].sort()) {
    const text = head.get(path);
    const error = text === undefined ? undefined : readManifest(text).error;
    if (error)
      unreadable.push({
        level: "high",
        cluster: clusterOf(path),
        message: `generated/${path} ${error}: Argo CD cannot apply it. Run \`npm run synth\` and commit the result`,
      });
  }

  const side = (tree: Tree) => {
    const out = new Map<string, { obj: Obj; path: string; text: string }>();
    for (const path of changed) {
      const text = tree.get(path);
      const obj = text === undefined ? undefined : parseFile(text);
      if (obj) out.set(identity(clusterOf(path), obj), { obj, path, text: text! });
    }
    return out;
  };
  const before = side(base);
  const after = side(head);

  const objects: ObjectChange[] = [];
  const entry = (op: Op, id: string, x: { obj: Obj; path: string }) => {
    const cluster = id.split("|")[0]!;
    objects.push({
      op,
      cluster,
      kind: x.obj.kind,
      ...(x.obj.metadata.namespace ? { namespace: x.obj.metadata.namespace } : {}),
      name: x.obj.metadata.name,
      path: x.path,
    });
  };
  for (const [id, b] of before) {
    const a = after.get(id);
    if (!a) entry("prune", id, b);
    else if (a.text !== b.text) {
      // Immutable, content-named objects are replaced: a new one is created, the old one pruned.
      if (a.obj.metadata.name !== b.obj.metadata.name) {
        entry("create", id, a);
        entry("prune", id, b);
      } else entry("update", id, a);
    }
  }
  for (const [id, a] of after) if (!before.has(id)) entry("create", id, a);
  objects.sort((x, y) => cmp(x.cluster, y.cluster) || cmp(x.path, y.path) || cmp(x.op, y.op));

  const clusters = [...new Set([...changed].map(clusterOf))].sort().map((cluster): ClusterSummary => {
    const mine = objects.filter((o) => o.cluster === cluster);
    const n = (op: Op) => mine.filter((o) => o.op === op).length;
    const apps = new Set([...changed].filter((p) => clusterOf(p) === cluster).map(applicationOf));
    return { cluster, create: n("create"), update: n("update"), prune: n("prune"), applications: [...apps].sort() };
  });

  const platform = platformChanges(before, after);
  const pipelines = pipelineChanges(base, head, changed);
  const risks: Risk[] = platform
    .filter((p) => p.risk)
    .map((p) => ({ level: p.risk!, cluster: p.cluster, message: `${p.kind} ${p.name}: ${p.consequence}` }));
  for (const c of clusters) {
    if (c.prune >= MANY_PRUNES)
      risks.push({
        level: "high",
        cluster: c.cluster,
        message: `${c.prune} objects will be pruned; check that every one of them is meant to go`,
      });
  }
  for (const p of pipelines) {
    // A step that moves: a new step on on-demand moves nothing (its cost is in the cost section).
    const capacity = p.steps.filter(
      (s) =>
        s.status === "changed" &&
        s.fields.some((f) => f.field === "capacity" && f.before !== undefined && f.after === "on-demand"),
    );
    if (capacity.length)
      risks.push({
        level: "medium",
        cluster: p.clusters.join(", "),
        message: `pipeline ${p.pipeline}: ${capacity.map((s) => s.step).join(", ")} move to on-demand capacity, which costs more than Spot`,
      });
  }
  risks.push(...unreadable);
  risks.sort((x, y) => cmp(x.level, y.level) || cmp(x.cluster, y.cluster) || cmp(x.message, y.message));
  return { clusters, objects, pipelines, platform, risks };
}

function clusterOf(path: string): string {
  return path.split("/")[0]!;
}

/** The Argo CD Application that syncs a path of generated/<cluster>/. */
function applicationOf(path: string): string {
  const [, area, name] = path.split("/");
  if (area === "pipelines") return pipelineApp(name!);
  if (area === "platform") return PLATFORM_APP;
  if (area === "apps") return ROOT_APP;
  return "bootstrap (applied by an admin)";
}

// ---------------------------------------------------------------- platform

function platformChanges(
  before: Map<string, { obj: Obj; path: string }>,
  after: Map<string, { obj: Obj; path: string }>,
): PlatformChange[] {
  const out: PlatformChange[] = [];
  const kinds = new Set(["NodePool", "EC2NodeClass", "FargateProfile", "Namespace"]);
  const ids = [...new Set([...before.keys(), ...after.keys()])].sort();
  const pairedProfiles = new Set<string>();
  // Fargate profiles are content-named: pair the old and the new one by file path.
  for (const id of ids) {
    const b = before.get(id);
    const a =
      b && b.obj.kind === "FargateProfile" && !after.has(id)
        ? [...after.values()].find((x) => x.path === b.path && x.obj.kind === "FargateProfile")
        : undefined;
    if (b && a) {
      pairedProfiles.add(b.path);
      out.push({
        cluster: clusterOf(b.path),
        kind: "FargateProfile",
        name: `${b.obj.metadata.name} → ${a.obj.metadata.name}`,
        op: "replace",
        fields: fieldChanges(b.obj.spec, a.obj.spec, "spec"),
        consequence: FARGATE_REPLACE,
        risk: "high",
      });
    }
  }
  for (const id of ids) {
    const b = before.get(id);
    const a = after.get(id);
    const x = (a ?? b)!;
    if (!kinds.has(x.obj.kind) || pairedProfiles.has(x.path)) continue;
    const cluster = clusterOf(x.path);
    const name = x.obj.metadata.name;
    const change = (op: Op, consequence: string, risk?: RiskLevel, fields: FieldChange[] = []) =>
      out.push({ cluster, kind: x.obj.kind, name, op, fields, consequence, ...(risk ? { risk } : {}) });
    if (a && b && JSON.stringify(a.obj) === JSON.stringify(b.obj)) continue;
    switch (x.obj.kind) {
      case "Namespace":
        if (!a)
          change(
            "prune",
            `deleting the namespace deletes everything in it, running step Jobs and their pods included`,
            "high",
          );
        else if (!b) change("create", "a new namespace");
        else
          change(
            "update",
            "labels or annotations only",
            undefined,
            fieldChanges(b.obj.metadata, a.obj.metadata, "metadata"),
          );
        break;
      case "FargateProfile":
        if (!a) change("prune", FARGATE_DELETE, "high");
        else if (!b) change("create", "a new Fargate profile; EKS creates one profile at a time", "medium");
        break;
      case "NodePool": {
        if (!a)
          change(
            "prune",
            "Karpenter drains and deletes every node of this pool; steps on them are interrupted",
            "high",
          );
        else if (!b) change("create", "a new pool: no nodes until pods need them");
        else {
          const fields = fieldChanges(b.obj.spec, a.obj.spec, "spec");
          const drifts = fields.some((f) => f.field.startsWith("spec.template"));
          change(
            "update",
            drifts
              ? "the node template changed: Karpenter marks this pool's nodes as drifted and replaces them, within the disruption budget; nodes running a step (do-not-disrupt) wait for it to finish"
              : "limits or disruption settings only: no node is replaced",
            drifts ? "medium" : undefined,
            fields,
          );
        }
        break;
      }
      case "EC2NodeClass":
        if (!a) change("prune", "NodePools that use this class can launch no nodes", "high");
        else if (!b) change("create", "a new node class");
        else
          change(
            "update",
            "every node launched from this class drifts and is replaced, within the pools' disruption budgets",
            "medium",
            fieldChanges(b.obj.spec, a.obj.spec, "spec"),
          );
        break;
    }
  }
  return out;
}

const FARGATE_DELETE =
  "EKS deletes the profile, and with it every pod it scheduled: in-flight run managers, the Karpenter controller. EKS deletes one profile at a time. Merge when no run is in flight";
const FARGATE_REPLACE = `EKS Fargate profiles are immutable, so a new profile is created and the old one deleted. ${FARGATE_DELETE}`;

/** Leaf-by-leaf differences between two values, as dotted paths. */
export function fieldChanges(before: unknown, after: unknown, prefix: string): FieldChange[] {
  const flat = (v: unknown, at: string, out: Map<string, string>) => {
    if (v !== null && typeof v === "object" && !(Array.isArray(v) && v.every((x) => typeof x !== "object"))) {
      for (const [k, x] of Object.entries(v as Record<string, unknown>))
        flat(x, Array.isArray(v) ? `${at}[${k}]` : `${at}.${k}`, out);
    } else if (v !== undefined) out.set(at, typeof v === "string" ? v : JSON.stringify(v));
    return out;
  };
  const b = flat(before, prefix, new Map());
  const a = flat(after, prefix, new Map());
  const keys = [...new Set([...b.keys(), ...a.keys()])].sort();
  return keys
    .filter((k) => b.get(k) !== a.get(k))
    .map((k) => ({ field: k, ...(b.has(k) ? { before: b.get(k)! } : {}), ...(a.has(k) ? { after: a.get(k)! } : {}) }));
}

// ---------------------------------------------------------------- pipelines

interface PipelineSide {
  readonly plan?: Plan;
  readonly cron?: {
    metadata?: { annotations?: Record<string, string> };
    spec: {
      schedule: string;
      timeZone?: string;
      suspend?: boolean;
      jobTemplate: { spec: { template: { spec: { containers: { image: string }[] } } } };
    };
  };
  /** The IAM role the steps assume (the steps ServiceAccount's IRSA annotation). */
  readonly iamRole?: string;
}

function pipelineSide(tree: Tree, cluster: string, pipeline: string): PipelineSide | undefined {
  const dir = `${cluster}/pipelines/${pipeline}/`;
  const files = [...tree.keys()].filter((p) => p.startsWith(dir));
  if (files.length === 0) return undefined;
  const planText = tree.get(`${dir}configmap-plan.yaml`);
  const cronText = tree.get(`${dir}cronjob-${pipeline}.yaml`);
  const planObj = planText ? parseFile(planText) : undefined;
  const accountText = tree.get(`${dir}serviceaccount-${STEPS_SERVICE_ACCOUNT}.yaml`);
  const iamRole = accountText
    ? (parseFile(accountText) as { metadata?: { annotations?: Record<string, string> } }).metadata?.annotations?.[
        ANNOTATION.irsaRole
      ]
    : undefined;
  return {
    ...(iamRole ? { iamRole } : {}),
    ...(planObj?.data?.[PLAN_KEY] ? planOf(planObj.data[PLAN_KEY]) : {}),
    ...(cronText ? { cron: parseFile(cronText) as unknown as PipelineSide["cron"] } : {}),
  };
}

function pipelineChanges(base: Tree, head: Tree, changed: Set<string>): PipelineChange[] {
  const touched = new Map<string, Set<string>>(); // pipeline → clusters
  for (const p of changed) {
    const [cluster, area, name] = p.split("/");
    if (area === "pipelines" && name) getOrSet(touched, name, () => new Set()).add(cluster!);
  }
  const out: PipelineChange[] = [];
  for (const [pipeline, clusters] of [...touched].sort(([a], [b]) => cmp(a, b))) {
    // The same change in several clusters is reported once, with the list of clusters.
    const byChange = new Map<string, { change: Omit<PipelineChange, "clusters">; clusters: string[] }>();
    for (const cluster of [...clusters].sort()) {
      const change = pipelineChange(
        pipeline,
        pipelineSide(base, cluster, pipeline),
        pipelineSide(head, cluster, pipeline),
      );
      if (!change) continue;
      const key = JSON.stringify(change);
      getOrSet(byChange, key, () => ({ change, clusters: [] })).clusters.push(cluster);
    }
    for (const { change, clusters: cs } of byChange.values()) out.push({ ...change, clusters: cs });
  }
  return out;
}

function pipelineChange(
  pipeline: string,
  b: PipelineSide | undefined,
  a: PipelineSide | undefined,
): Omit<PipelineChange, "clusters"> | undefined {
  const status = !b ? "added" : !a ? "removed" : "changed";
  const settings = [
    ...compare("schedule", scheduleOf(b), scheduleOf(a)),
    ...compare("timeZone", b?.cron?.spec.timeZone, a?.cron?.spec.timeZone),
    ...compare("iamRole", b?.iamRole, a?.iamRole),
    ...compare("maxParallel", b?.plan?.maxParallel, a?.plan?.maxParallel),
    ...compare("runTimeout", seconds(b?.plan?.runTimeoutSeconds), seconds(a?.plan?.runTimeoutSeconds)),
    ...compare(
      "run-manager image",
      b?.cron?.spec.jobTemplate.spec.template.spec.containers[0]?.image,
      a?.cron?.spec.jobTemplate.spec.template.spec.containers[0]?.image,
    ),
  ];
  const steps = stepChanges(b?.plan?.steps ?? [], a?.plan?.steps ?? []);
  // Only other objects of the pipeline changed (its Role, a ServiceAccount): point at the raw diff.
  if (status === "changed" && settings.length === 0 && steps.length === 0)
    settings.push({ field: "other objects", before: "see the raw diff", after: "see the raw diff" });
  const template = (a ?? b)?.cron?.metadata?.annotations?.["dagops.dev/template"];
  return {
    pipeline,
    status,
    ...(template ? { template } : {}),
    settings,
    steps,
    mermaid: mermaid(b?.plan?.steps ?? [], a?.plan?.steps ?? [], steps),
  };
}

/** The plan in a plan ConfigMap's text, or nothing when it was altered into something unreadable (reported as such elsewhere). */
function planOf(text: string): { plan?: Plan } {
  try {
    const plan = parsePlan(text) as Plan | null;
    return plan && typeof plan === "object" && Array.isArray(plan.steps) ? { plan } : {};
  } catch {
    return {};
  }
}

function scheduleOf(s: PipelineSide | undefined): string | undefined {
  if (!s?.cron) return undefined;
  return s.cron.spec.suspend ? "none (run by hand)" : s.cron.spec.schedule;
}

function seconds(v: number | undefined): string | undefined {
  return v === undefined ? undefined : formatDuration(v);
}

function compare(field: string, before: unknown, after: unknown): FieldChange[] {
  const show = (v: unknown) => (v === undefined ? undefined : typeof v === "string" ? v : JSON.stringify(v));
  const [x, y] = [show(before), show(after)];
  return x === y
    ? []
    : [{ field, ...(x !== undefined ? { before: x } : {}), ...(y !== undefined ? { after: y } : {}) }];
}

/** The fields a reviewer reads, per step, as text. */
function stepFields(s: PlanStep): Record<string, string | undefined> {
  const c = s.job.spec?.template?.spec?.containers?.[0];
  const r = (c?.resources ?? {}) as { requests?: Record<string, string>; limits?: Record<string, string> };
  const env = (c?.env ?? [])
    .filter((e) => !e.name.startsWith("DAGOPS_"))
    .map((e) =>
      e.valueFrom?.secretKeyRef
        ? `${e.name}←secret ${e.valueFrom.secretKeyRef.name}/${e.valueFrom.secretKeyRef.key}`
        : e.valueFrom?.configMapKeyRef
          ? `${e.name}←configmap ${e.valueFrom.configMapKeyRef.name}/${e.valueFrom.configMapKeyRef.key}`
          : `${e.name}=${e.value ?? ""}`,
    );
  return {
    image: c?.image,
    command: c?.command ? JSON.stringify(c.command) : undefined,
    args: c?.args ? JSON.stringify(c.args) : undefined,
    "cpu request": r.requests?.cpu,
    "memory request": r.requests?.memory,
    "cpu limit": r.limits?.cpu,
    "memory limit": r.limits?.memory,
    retries: s.retries === undefined ? undefined : String(s.retries),
    timeout: seconds(s.job.spec?.activeDeadlineSeconds ?? undefined),
    estimate: s.estimateSeconds == null ? undefined : seconds(s.estimateSeconds),
    capacity: s.capacity,
    "on-demand after interruptions":
      s.onDemandAfterInterruptions === undefined
        ? undefined
        : s.onDemandAfterInterruptions === null
          ? "never"
          : String(s.onDemandAfterInterruptions),
    dependsOn: s.dependsOn.length ? s.dependsOn.join(", ") : "(none)",
    env: env.length ? env.join("; ") : undefined,
  };
}

function stepChanges(before: readonly PlanStep[], after: readonly PlanStep[]): StepChange[] {
  const b = new Map(before.map((s) => [s.name, s]));
  const a = new Map(after.map((s) => [s.name, s]));
  const removed = before.filter((s) => !a.has(s.name));
  const added = after.filter((s) => !b.has(s.name));
  // A removed and an added step that are the same but for the name: a rename.
  const signature = (s: PlanStep) => JSON.stringify(s).split(JSON.stringify(s.name)).join('"<step>"');
  const renames = new Map<string, string>(); // new → old
  for (const r of removed) {
    const match = added.find((x) => !renames.has(x.name) && signature(x) === signature(r));
    if (match) renames.set(match.name, r.name);
  }
  const renamedOld = new Set(renames.values());
  const out: StepChange[] = [];
  for (const s of after) {
    const old = b.get(s.name);
    if (renames.has(s.name))
      out.push({ step: s.name, status: "renamed", renamedFrom: renames.get(s.name)!, fields: [] });
    else if (!old) out.push({ step: s.name, status: "added", fields: diffFields({}, stepFields(s)) });
    else {
      const fields = diffFields(stepFields(old), stepFields(s));
      if (fields.length) out.push({ step: s.name, status: "changed", fields });
    }
  }
  for (const s of removed)
    if (!renamedOld.has(s.name)) out.push({ step: s.name, status: "removed", fields: diffFields(stepFields(s), {}) });
  return out;
}

function diffFields(
  before: Record<string, string | undefined>,
  after: Record<string, string | undefined>,
): FieldChange[] {
  const keys = [...new Set([...Object.keys(before), ...Object.keys(after)])];
  return keys.flatMap((k) => compare(k, before[k], after[k]));
}

function mermaid(before: readonly PlanStep[], after: readonly PlanStep[], changes: readonly StepChange[]): string {
  const status = new Map(changes.map((c) => [c.step, c.status]));
  const nodes = [...after, ...before.filter((s) => status.get(s.name) === "removed")];
  const id = new Map(nodes.map((s, i) => [s.name, `s${i}`]));
  const lines = ["graph LR"];
  for (const s of nodes) {
    const c = changes.find((x) => x.step === s.name);
    const label = c?.status === "renamed" ? `${c.renamedFrom} → ${s.name}` : s.name;
    const st = status.get(s.name);
    const cls = st === undefined ? undefined : st === "renamed" ? "changed" : st;
    lines.push(`  ${id.get(s.name)}["${label}"]${cls ? `:::${cls}` : ""}`);
  }
  for (const s of nodes) for (const d of s.dependsOn) if (id.has(d)) lines.push(`  ${id.get(d)} --> ${id.get(s.name)}`);
  lines.push(
    "  classDef added fill:#dafbe1,stroke:#1a7f37",
    "  classDef changed fill:#fff8c5,stroke:#9a6700",
    "  classDef removed fill:#ffebe9,stroke:#cf222e,stroke-dasharray: 4 3",
  );
  return lines.join("\n");
}

function cmp(a: string, b: string): number {
  return a < b ? -1 : a > b ? 1 : 0;
}
