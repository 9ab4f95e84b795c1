// ACK's FargateProfile CRD is not served by the Go module proxy (aws-controllers-k8s/eks-controller
// is refused at every version), so the tier makes one from dagops's own schema of the object
// (src/checks/fargate-profile-schema.ts, written from ACK v1.20's documented fields), turned
// into a structural schema: `const` becomes a one-value `enum`, and what a CRD cannot say
// (`additionalProperties: false`, `allOf` of alternatives) is left to the fast tier's ajv check.
import { fargateProfileSchema } from "../../../src/checks/fargate-profile-schema.ts";

function structural(schema: unknown): unknown {
  if (Array.isArray(schema)) return schema.map(structural);
  if (schema === null || typeof schema !== "object") return schema;
  const out: Record<string, unknown> = {};
  for (const [key, value] of Object.entries(schema)) {
    if (key === "allOf" || (key === "additionalProperties" && value === false)) continue;
    if (key === "const") out.enum = [value];
    else if (key === "properties") {
      out.properties = Object.fromEntries(Object.entries(value as object).map(([k, v]) => [k, structural(v)]));
    } else out[key] = structural(value);
  }
  return out;
}

export function fargateProfileCrd(): unknown {
  return {
    apiVersion: "apiextensions.k8s.io/v1",
    kind: "CustomResourceDefinition",
    metadata: { name: "fargateprofiles.eks.services.k8s.aws" },
    spec: {
      group: "eks.services.k8s.aws",
      names: {
        kind: "FargateProfile",
        listKind: "FargateProfileList",
        plural: "fargateprofiles",
        singular: "fargateprofile",
      },
      scope: "Namespaced",
      versions: [
        {
          name: "v1alpha1",
          served: true,
          storage: true,
          subresources: { status: {} },
          schema: {
            openAPIV3Schema: {
              type: "object",
              properties: {
                apiVersion: { type: "string" },
                kind: { type: "string" },
                metadata: { type: "object" },
                spec: structural(fargateProfileSchema.properties.spec),
                status: { type: "object", "x-kubernetes-preserve-unknown-fields": true },
              },
            },
          },
        },
      ],
    },
  };
}
