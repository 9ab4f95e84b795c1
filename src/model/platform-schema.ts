/** JSON Schema for the platform configuration, checked with the same ajv setup as pipelines. */
const dnsLabel = {
  type: "string",
  pattern: "^[a-z0-9]([-a-z0-9]*[a-z0-9])?$",
  maxLength: 63,
  "x-expected": "a DNS-1123 label",
} as const;
const arn = (kind: string) =>
  ({
    type: "string",
    pattern: `^arn:aws[a-z-]*:iam::[0-9]{12}:${kind}/[\\w+=,.@/-]{1,512}$`,
    "x-expected": `an IAM ${kind} ARN such as arn:aws:iam::111122223333:${kind}/name`,
  }) as const;
const duration = {
  type: "string",
  pattern: "^(?=\\d)(\\d+h)?(\\d+m)?(\\d+s)?$",
  "x-expected": 'a duration such as "1m" or "720h"',
} as const;
const quantity = {
  type: "string",
  pattern: "^[0-9]+(\\.[0-9]+)?(m|k|M|G|T|Ki|Mi|Gi|Ti)?$",
  "x-expected": "a Kubernetes quantity",
} as const;

export const platformSchema = {
  type: "object",
  additionalProperties: false,
  required: ["clusters"],
  properties: {
    clusters: {
      type: "array",
      minItems: 1,
      items: {
        type: "object",
        additionalProperties: false,
        required: ["name", "argocd", "aws", "karpenter", "fargate", "runManager"],
        properties: {
          name: dnsLabel,
          eksClusterName: {
            type: "string",
            pattern: "^[0-9A-Za-z][A-Za-z0-9\\-_]{0,99}$",
            "x-expected": "an EKS cluster name",
          },
          argocd: {
            type: "object",
            additionalProperties: false,
            required: ["repoURL", "targetRevision"],
            properties: {
              repoURL: {
                type: "string",
                pattern: "^(https://|ssh://|git@)\\S+$",
                "x-expected": "a git URL (https://, ssh:// or git@)",
              },
              targetRevision: { type: "string", minLength: 1, maxLength: 255 },
              namespace: dnsLabel,
              destinationServer: {
                type: "string",
                pattern: "^https://\\S+$",
                "x-expected": "an https:// API server URL",
              },
            },
          },
          aws: {
            type: "object",
            additionalProperties: false,
            required: ["region", "accountId"],
            properties: {
              region: {
                type: "string",
                pattern: "^[a-z]{2}(-[a-z]+)+-[0-9]$",
                "x-expected": "an AWS region such as us-east-1",
              },
              accountId: { type: "string", pattern: "^[0-9]{12}$", "x-expected": "a twelve-digit AWS account ID" },
            },
          },
          karpenter: {
            type: "object",
            additionalProperties: false,
            required: ["discoveryTag", "nodeRole", "amiAlias"],
            properties: {
              discoveryTag: { type: "string", minLength: 1, maxLength: 256 },
              nodeRole: {
                type: "string",
                pattern: "^[\\w+=,.@-]{1,64}$",
                "x-expected": "an IAM role name (not an ARN)",
              },
              amiAlias: {
                type: "string",
                pattern: "^(al2023|al2|bottlerocket)@(v[0-9]{8}|v[0-9]+\\.[0-9]+\\.[0-9]+)$",
                "x-expected": "a pinned AMI alias such as al2023@v20251120 (not @latest)",
              },
              namespace: dnsLabel,
              pools: {
                type: "object",
                additionalProperties: false,
                properties: {
                  categories: {
                    type: "array",
                    minItems: 1,
                    uniqueItems: true,
                    items: { type: "string", pattern: "^[a-z]+$" },
                  },
                  minGeneration: { type: "integer", minimum: 1, maximum: 10 },
                  architectures: { type: "array", minItems: 1, uniqueItems: true, items: { enum: ["amd64", "arm64"] } },
                  minFamilies: { type: "integer", minimum: 1, maximum: 50 },
                  excludedSizes: {
                    type: "array",
                    uniqueItems: true,
                    items: { type: "string", pattern: "^[a-z0-9]+$" },
                  },
                  consolidateAfter: duration,
                  expireAfter: duration,
                  disruptionBudget: {
                    type: "string",
                    pattern: "^([0-9]+|100|[0-9]{1,2}%)$|^100%$",
                    "x-expected": 'a node count or a percentage such as "10%"',
                  },
                  limits: {
                    type: "object",
                    additionalProperties: false,
                    required: ["cpu", "memory"],
                    properties: { cpu: quantity, memory: quantity },
                  },
                  rootVolumeSize: quantity,
                },
              },
            },
          },
          fargate: {
            type: "object",
            additionalProperties: false,
            required: ["podExecutionRoleArn", "subnets"],
            properties: {
              podExecutionRoleArn: arn("role"),
              subnets: {
                type: "array",
                minItems: 1,
                uniqueItems: true,
                items: {
                  type: "string",
                  pattern: "^subnet-[0-9a-f]{8,17}$",
                  "x-expected": "a subnet ID such as subnet-0a1b2c3d",
                },
              },
            },
          },
          runManager: {
            type: "object",
            additionalProperties: false,
            required: ["image"],
            properties: { image: { type: "string", minLength: 1 } },
          },
          placeholderImage: {
            type: "string",
            pattern: "^[a-z0-9][a-z0-9._/:-]*@sha256:[0-9a-f]{64}$",
            "x-expected":
              "an image pinned by digest, such as 111122223333.dkr.ecr.us-east-1.amazonaws.com/pause:3.10@sha256:ee6521f2…",
          },
          logging: {
            oneOf: [
              { const: false },
              {
                type: "object",
                additionalProperties: false,
                properties: {
                  logGroup: {
                    type: "string",
                    pattern: "^[\\w/.#-]{1,512}$",
                    "x-expected": "a CloudWatch Logs group name such as /dagops/data-prod/run-managers",
                  },
                  stepsLogGroup: {
                    type: "string",
                    pattern: "^[\\w/.#-]{1,512}$",
                    "x-expected": "a CloudWatch Logs group name such as /aws/containerinsights/data-prod/application",
                  },
                },
              },
            ],
            "x-expected": "false (no log routing) or { logGroup }",
          },
          artifacts: {
            type: "string",
            pattern: "^s3://[a-z0-9][a-z0-9.-]{1,61}[a-z0-9](/[\\w!.*'()/-]*)?$",
            "x-expected": "an S3 prefix such as s3://example-data-artifacts/dagops",
          },
          kubeContext: {
            type: "string",
            minLength: 1,
            maxLength: 253,
            "x-expected": "the name of a kubeconfig context",
          },
          prices: {
            type: "string",
            pattern: "^[^/].*\\.json$",
            "x-expected": "a repository-relative path to a .json price snapshot, such as data/aws-eu-west-1.json",
          },
        },
      },
    },
  },
} as const;
