/**
 * The CEL rules of the Karpenter v1 CRDs (karpenter-provider-aws v1.14) that apply to the fields
 * dagops emits. The model packages validate the OpenAPI part of the CRDs but cannot run CEL; the
 * API server does, and a rejection there is a failed Argo CD sync. So the rules are checked here,
 * each quoting the CRD's own message.
 */
import type { INodePool } from "@kubernetes-models/karpenter/karpenter.sh/v1/NodePool";
import type { IEC2NodeClass } from "@kubernetes-models/karpenter/karpenter.k8s.aws/v1/EC2NodeClass";

export interface RuleViolation {
  readonly path: string;
  readonly message: string;
}

/** karpenter.k8s.aws keys a NodePool may use (from the CRD's allow-list, the part dagops can emit). */
const AWS_KEYS = new Set([
  "karpenter.k8s.aws/instance-tenancy",
  "karpenter.k8s.aws/capacity-reservation-type",
  "karpenter.k8s.aws/ec2nodeclass",
  "karpenter.k8s.aws/instance-category",
  "karpenter.k8s.aws/instance-hypervisor",
  "karpenter.k8s.aws/instance-family",
  "karpenter.k8s.aws/instance-generation",
  "karpenter.k8s.aws/instance-local-nvme",
  "karpenter.k8s.aws/instance-size",
  "karpenter.k8s.aws/instance-cpu",
  "karpenter.k8s.aws/instance-cpu-manufacturer",
  "karpenter.k8s.aws/instance-memory",
  "karpenter.k8s.aws/instance-ebs-bandwidth",
  "karpenter.k8s.aws/instance-network-bandwidth",
]);

function restrictedKey(key: string): string | undefined {
  const domain = key.includes("/") ? key.slice(0, key.indexOf("/")) : "";
  if (key === "karpenter.sh/nodepool") return 'label "karpenter.sh/nodepool" is restricted';
  if (key === "kubernetes.io/hostname") return 'label "kubernetes.io/hostname" is restricted';
  if (domain.endsWith("karpenter.sh") && key !== "karpenter.sh/capacity-type")
    return 'label domain "karpenter.sh" is restricted';
  if (domain.endsWith("karpenter.k8s.aws") && !AWS_KEYS.has(key))
    return 'label domain "karpenter.k8s.aws" is restricted';
  return undefined;
}

export function nodePoolViolations(pool: INodePool): RuleViolation[] {
  const out: RuleViolation[] = [];
  const template = pool.spec?.template;
  for (const key of Object.keys(template?.metadata?.labels ?? {})) {
    const why = restrictedKey(key);
    if (why) out.push({ path: `spec.template.metadata.labels[${JSON.stringify(key)}]`, message: why });
  }
  (template?.spec.requirements ?? []).forEach((r, i) => {
    const at = `spec.template.spec.requirements[${i}]`;
    const why = restrictedKey(r.key);
    if (why) out.push({ path: `${at}.key`, message: why });
    const values = r.values ?? [];
    if (r.operator === "In" && values.length === 0)
      out.push({ path: `${at}.values`, message: "requirements with operator 'In' must have a value defined" });
    if ((r.operator === "Gt" || r.operator === "Lt") && !(values.length === 1 && /^[0-9]+$/.test(values[0]!))) {
      out.push({
        path: `${at}.values`,
        message: "requirements operator 'Gt' or 'Lt' must have a single positive integer value",
      });
    }
    if (r.operator === "In" && r.minValues !== undefined && values.length < r.minValues) {
      out.push({
        path: `${at}.minValues`,
        message: "requirements with 'minValues' must have at least that many values specified in the 'values' field",
      });
    }
  });
  (pool.spec?.disruption?.budgets ?? []).forEach((b, i) => {
    if ((b.schedule === undefined) !== (b.duration === undefined))
      out.push({ path: `spec.disruption.budgets[${i}]`, message: "'schedule' must be set with 'duration'" });
  });
  return out;
}

const AMI_FAMILIES = ["al2", "al2023", "bottlerocket", "windows2019", "windows2022", "windows2025"];

export function ec2NodeClassViolations(nodeClass: IEC2NodeClass): RuleViolation[] {
  const out: RuleViolation[] = [];
  const terms = nodeClass.spec?.amiSelectorTerms ?? [];
  terms.forEach((t, i) => {
    if (t.alias === undefined) return;
    const at = `spec.amiSelectorTerms[${i}].alias`;
    if (!/^[a-zA-Z0-9]+@.+$/.test(t.alias))
      out.push({ path: at, message: "'alias' is improperly formatted, must match the format 'family@version'" });
    else if (!AMI_FAMILIES.includes(t.alias.split("@")[0]!))
      out.push({
        path: at,
        message: `family is not supported, must be one of the following: ${AMI_FAMILIES.join(", ")}`,
      });
    if (t.id !== undefined || t.tags !== undefined || t.name !== undefined || t.owner !== undefined) {
      out.push({
        path: `spec.amiSelectorTerms[${i}]`,
        message: "'alias' is mutually exclusive, cannot be set with a combination of other fields in amiSelectorTerms",
      });
    }
  });
  if (terms.some((t) => t.alias !== undefined) && terms.length !== 1) {
    out.push({
      path: "spec.amiSelectorTerms",
      message: "'alias' is mutually exclusive, cannot be set with a combination of other amiSelectorTerms",
    });
  }
  for (const field of ["subnetSelectorTerms", "securityGroupSelectorTerms"] as const) {
    const list = nodeClass.spec?.[field] ?? [];
    if (list.length === 0) out.push({ path: `spec.${field}`, message: `${field} cannot be empty` });
    list.forEach((t, i) => {
      for (const [k, v] of Object.entries(t.tags ?? {}))
        if (k === "" || v === "")
          out.push({ path: `spec.${field}[${i}].tags`, message: "empty tag keys or values aren't supported" });
    });
  }
  return out;
}
