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
// Built-in kinds: the package's precompiled validators, called directly. The model classes
// (`new Job(x).validate()`) run the same functions but deep-copy the object first, which cost
// seconds at 30,000 step Jobs. The CRD packages do not export theirs; their few objects go
// through the model classes.
import { validate as cronJob } from "kubernetes-models/_schemas/IoK8sApiBatchV1CronJob";
import { validate as job } from "kubernetes-models/_schemas/IoK8sApiBatchV1Job";
import { validate as configMap } from "kubernetes-models/_schemas/IoK8sApiCoreV1ConfigMap";
import { validate as namespace } from "kubernetes-models/_schemas/IoK8sApiCoreV1Namespace";
import { validate as serviceAccount } from "kubernetes-models/_schemas/IoK8sApiCoreV1ServiceAccount";
import { validate as role } from "kubernetes-models/_schemas/IoK8sApiRbacV1Role";
import { validate as roleBinding } from "kubernetes-models/_schemas/IoK8sApiRbacV1RoleBinding";
import { validate as clusterRole } from "kubernetes-models/_schemas/IoK8sApiRbacV1ClusterRole";
import { validate as clusterRoleBinding } from "kubernetes-models/_schemas/IoK8sApiRbacV1ClusterRoleBinding";
import { validate as priorityClass } from "kubernetes-models/_schemas/IoK8sApiSchedulingV1PriorityClass";
import { fieldPath, problem, type Problem } from "../contract/problems.ts";
import { validateAgainst } from "../model/schema-validator.ts";
import { fargateProfileSchema } from "./fargate-profile-schema.ts";

type ValidateFunction = ((data: unknown) => boolean) & { errors?: ErrorObject[] | null };

/** A model class's validation as a ValidateFunction. */
function viaModel(Model: new (data: never) => { validate(): void }): ValidateFunction {
  const fn: ValidateFunction = (data) => {
    try {
      new Model(data as never).validate();
      fn.errors = null;
      return true;
    } catch (e) {
      fn.errors = (e as { errors?: ErrorObject[] }).errors ?? [
        { instancePath: "", schemaPath: "", keyword: "model", params: {}, message: (e as Error).message },
      ];
      return false;
    }
  };
  return fn;
}

const VALIDATORS: Record<string, ValidateFunction> = {
  "v1/Namespace": namespace,
  "scheduling.k8s.io/v1/PriorityClass": priorityClass,
  "v1/ConfigMap": configMap,
  "v1/ServiceAccount": serviceAccount,
  "batch/v1/Job": job,
  "batch/v1/CronJob": cronJob,
  "rbac.authorization.k8s.io/v1/Role": role,
  "rbac.authorization.k8s.io/v1/RoleBinding": roleBinding,
  "rbac.authorization.k8s.io/v1/ClusterRole": clusterRole,
  "rbac.authorization.k8s.io/v1/ClusterRoleBinding": clusterRoleBinding,
  "karpenter.sh/v1/NodePool": viaModel(NodePool),
  "karpenter.k8s.aws/v1/EC2NodeClass": viaModel(EC2NodeClass),
  "argoproj.io/v1alpha1/Application": viaModel(Application),
  "argoproj.io/v1alpha1/AppProject": viaModel(AppProject),
} as Record<string, ValidateFunction>;

const OWN_SCHEMAS: Record<string, object> = {
  "eks.services.k8s.aws/v1alpha1/FargateProfile": fargateProfileSchema,
};

/** Validates one manifest; `file` and `prefix` say where it is, for messages. */
export function validateManifest(
  manifest: { apiVersion?: unknown; kind?: unknown },
  file: string,
  prefix: (string | number)[] = [],
): Problem[] {
  const key = `${String(manifest.apiVersion)}/${String(manifest.kind)}`;
  const own = OWN_SCHEMAS[key];
  if (own) {
    return validateAgainst(own, manifest, file).map((p) => ({
      ...p,
      code: "OUTPUT_SCHEMA",
      path: join(prefix, p.path),
      message: `${key}: ${p.message}`,
    }));
  }
  const validate = VALIDATORS[key];
  if (!validate)
    return [
      problem(
        "OUTPUT_SCHEMA",
        file,
        fieldPath(prefix),
        `no schema for ${key}; dagops must not emit kinds it cannot validate`,
      ),
    ];
  if (validate(manifest)) return [];
  {
    const errors = validate.errors ?? [];
    return errors.map((err) => {
      const at = err.instancePath
        .split("/")
        .slice(1)
        .map((s) => s.replace(/~1/g, "/").replace(/~0/g, "~"));
      return problem(
        "OUTPUT_SCHEMA",
        file,
        fieldPath([...prefix, ...at]),
        `${key} ${err.message ?? err.keyword}${err.params && Object.keys(err.params).length ? ` ${JSON.stringify(err.params)}` : ""}`,
      );
    });
  }
}

function join(prefix: (string | number)[], path: string): string {
  const head = fieldPath(prefix);
  if (!head) return path;
  if (!path) return head;
  return path.startsWith("[") ? head + path : `${head}.${path}`;
}
