/**
 * The ACK `eks.services.k8s.aws/v1alpha1` FargateProfile has no model package, so its schema is
 * written here from the documented fields of ACK EKS controller v1.20
 * (https://aws-controllers-k8s.github.io/community/reference/eks/v1alpha1/fargateprofile/),
 * tightened with what the EKS API itself enforces (CreateFargateProfile: name pattern, at most
 * five selectors, a namespace per selector; Fargate runs in private subnets only).
 */
const ref = {
  type: "object",
  additionalProperties: false,
  properties: {
    from: {
      type: "object",
      additionalProperties: false,
      properties: { name: { type: "string" }, namespace: { type: "string" } },
    },
  },
} as const;

export const fargateProfileSchema = {
  type: "object",
  required: ["apiVersion", "kind", "metadata", "spec"],
  properties: {
    apiVersion: { const: "eks.services.k8s.aws/v1alpha1" },
    kind: { const: "FargateProfile" },
    metadata: {
      type: "object",
      required: ["name", "namespace"],
      properties: {
        name: { type: "string", pattern: "^[a-z0-9]([-a-z0-9]*[a-z0-9])?$", maxLength: 63 },
        namespace: { type: "string", minLength: 1 },
        labels: { type: "object", additionalProperties: { type: "string" } },
        annotations: { type: "object", additionalProperties: { type: "string" } },
      },
    },
    spec: {
      type: "object",
      additionalProperties: false,
      required: ["name", "selectors"],
      properties: {
        clientRequestToken: { type: "string" },
        clusterName: { type: "string", pattern: "^[0-9A-Za-z][A-Za-z0-9\\-_]*$", maxLength: 100 },
        clusterRef: ref,
        name: { type: "string", pattern: "^[0-9A-Za-z][A-Za-z0-9\\-_]*$", maxLength: 100 },
        podExecutionRoleARN: { type: "string", pattern: "^arn:aws[a-z-]*:iam::[0-9]{12}:role/.+$" },
        podExecutionRoleRef: ref,
        selectors: {
          type: "array",
          minItems: 1,
          maxItems: 5,
          items: {
            type: "object",
            additionalProperties: false,
            required: ["namespace"],
            properties: {
              namespace: { type: "string", minLength: 1, maxLength: 63 },
              labels: { type: "object", maxProperties: 5, additionalProperties: { type: "string" } },
            },
          },
        },
        subnetRefs: { type: "array", items: ref },
        subnets: { type: "array", items: { type: "string", pattern: "^subnet-[0-9a-f]+$" } },
        tags: { type: "object", additionalProperties: { type: "string" } },
      },
      allOf: [
        { anyOf: [{ required: ["clusterName"] }, { required: ["clusterRef"] }] },
        { anyOf: [{ required: ["podExecutionRoleARN"] }, { required: ["podExecutionRoleRef"] }] },
      ],
    },
  },
} as const;
