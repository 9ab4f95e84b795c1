/**
 * Every emitted object, and every step Job inside a plan ConfigMap, validated against the
 * published schemas of its kind: `kubernetes-models`, `@kubernetes-models/karpenter`,
 * `@kubernetes-models/argo-cd`, and our own schema for the ACK FargateProfile.
 *
 * Limits of these validators, said plainly: they check types, required fields, enums and formats,
 * but they accept unknown fields, and they do not run the CRDs' CEL rules. The rules of those
 * that matter to dagops are checked in `cross-object.ts`.
 */
import type { ErrorObject } from "ajv";
import { Application } from "@kubernetes-models/argo-cd/argoproj.io/v1alpha1/Application";
import { AppProject } from "@kubernetes-models/argo-cd/argoproj.io/v1alpha1/AppProject";
import { EC2NodeClass } from "@kubernetes-models/karpenter/karpenter.k8s.aws/v1/EC2NodeClass";
import { NodePool } from "@kubernetes-models/karpenter/karpenter.sh/v1/NodePool";
import { CronJob } from "kubernetes-models/batch/v1/CronJob";
import { Job } from "kubernetes-models/batch/v1/Job";
import { Role } from "kubernetes-models/rbac.authorization.k8s.io/v1/Role";
import { RoleBinding } from "kubernetes-models/rbac.authorization.k8s.io/v1/RoleBinding";
import { ConfigMap } from "kubernetes-models/v1/ConfigMap";
import { Namespace } from "kubernetes-models/v1/Namespace";
import { ServiceAccount } from "kubernetes-models/v1/ServiceAccount";
import { fieldPath, problem, type Problem } from "../model/problems.ts";
import { validateAgainst } from "../model/schema-validator.ts";
import { fargateProfileSchema } from "./fargate-profile-schema.ts";

interface Validatable {
  validate(): void;
}
type ModelClass = new (data: never) => Validatable;

const MODELS: Record<string, ModelClass> = {
  "v1/Namespace": Namespace as unknown as ModelClass,
  "v1/ConfigMap": ConfigMap as unknown as ModelClass,
  "v1/ServiceAccount": ServiceAccount as unknown as ModelClass,
  "batch/v1/Job": Job as unknown as ModelClass,
  "batch/v1/CronJob": CronJob as unknown as ModelClass,
  "rbac.authorization.k8s.io/v1/Role": Role as unknown as ModelClass,
  "rbac.authorization.k8s.io/v1/RoleBinding": RoleBinding as unknown as ModelClass,
  "karpenter.sh/v1/NodePool": NodePool as unknown as ModelClass,
  "karpenter.k8s.aws/v1/EC2NodeClass": EC2NodeClass as unknown as ModelClass,
  "argoproj.io/v1alpha1/Application": Application as unknown as ModelClass,
  "argoproj.io/v1alpha1/AppProject": AppProject as unknown as ModelClass,
};

const OWN_SCHEMAS: Record<string, object> = {
  "eks.services.k8s.aws/v1alpha1/FargateProfile": fargateProfileSchema,
};

/** Validates one manifest; `file` and `prefix` say where it is, for messages. */
export function validateManifest(manifest: { apiVersion?: unknown; kind?: unknown }, file: string, prefix: (string | number)[] = []): Problem[] {
  const key = `${String(manifest.apiVersion)}/${String(manifest.kind)}`;
  const own = OWN_SCHEMAS[key];
  if (own) {
    return validateAgainst(own, manifest, file).map((p) => ({ ...p, code: "OUTPUT_SCHEMA", path: join(prefix, p.path), message: `${key}: ${p.message}` }));
  }
  const Model = MODELS[key];
  if (!Model) return [problem("OUTPUT_SCHEMA", file, fieldPath(prefix), `no schema for ${key}; dagops must not emit kinds it cannot validate`)];
  try {
    new Model(manifest as never).validate();
    return [];
  } catch (e) {
    const errors = (e as { errors?: ErrorObject[] }).errors;
    if (!errors) return [problem("OUTPUT_SCHEMA", file, fieldPath(prefix), `${key}: ${(e as Error).message}`)];
    return errors.map((err) => {
      const at = err.instancePath.split("/").slice(1).map((s) => s.replace(/~1/g, "/").replace(/~0/g, "~"));
      return problem("OUTPUT_SCHEMA", file, fieldPath([...prefix, ...at]), `${key} ${err.message ?? err.keyword}${err.params && Object.keys(err.params).length ? ` ${JSON.stringify(err.params)}` : ""}`);
    });
  }
}

function join(prefix: (string | number)[], path: string): string {
  const head = fieldPath(prefix);
  if (!head) return path;
  if (!path) return head;
  return path.startsWith("[") ? head + path : `${head}.${path}`;
}
