/**
 * Sensitive-data classification, shaped like the workflow in the architecture article: discover
 * data stores, fan out one scan per store type, classify the findings (the heavy steps), then fan
 * in to scoring, reporting and alerting. Most steps request 200m / 300Mi with 500m / 600Mi
 * limits; the classifiers request 700Mi with a 1Gi limit.
 */
import { definePipeline } from "#dagops";

const image = "111122223333.dkr.ecr.us-east-1.amazonaws.com/classifier:2.8.1";
const heavy = { requests: { memory: "700Mi" }, limits: { memory: "1Gi" } };
const stores = ["s3", "rds", "dynamodb", "redshift"] as const;

export default definePipeline({
  name: "customer-classification",
  description: "Discover, scan and classify sensitive data across customer accounts every six hours.",
  schedule: "15 */6 * * *",
  timeZone: "Etc/UTC",
  image,
  maxParallel: 6,
  // One run at a time, whoever starts it (the schedule, `dagops start`, a backfill): the default,
  // written out because two runs would write the same findings.
  concurrency: "forbid",
  // The day a run covers (by default the day it was scheduled for) and which tenants: steps get
  // them as DAGOPS_PARAM_DATE and DAGOPS_PARAM_TENANT. Backfill a month with
  // `dagops backfill customer-classification --param date=2026-11-01..2026-11-30`.
  params: {
    date: { type: "date", default: "scheduled-date", description: "The day whose data the run classifies." },
    tenant: { type: "string", default: "all", pattern: "^[a-z0-9-]+$", description: "One tenant, or all." },
  },
  // A failed or timed-out run posts to Slack; the webhook URL lives in the Secret "alerts".
  notify: [
    { on: ["failed", "timed-out"], webhook: { secretKeyRef: { name: "alerts", key: "slack-url" } }, format: "slack" },
  ],
  // Staging and prod live in different AWS accounts, so each assumes a role of its own. Staging
  // runs once a day with debug logs: enough to catch a broken release, at a sixth of the cost.
  overrides: {
    staging: {
      iamRole: "arn:aws:iam::111122223333:role/customer-classification-staging",
      schedule: "15 3 * * *",
      env: [{ name: "LOG_LEVEL", value: "debug" }],
    },
    prod: {
      iamRole: "arn:aws:iam::444455556666:role/customer-classification-prod",
    },
  },
  defaults: {
    resources: {
      requests: { cpu: "200m", memory: "300Mi" },
      limits: { cpu: "500m", memory: "600Mi" },
    },
    retries: 2,
    timeout: "45m",
    capacity: "spot",
    // Typical durations from recent runs: what `npm run cost` prices.
    estimate: "10m",
  },
  steps: [
    {
      name: "discover-accounts",
      command: ["python", "-m", "classifier.discover"],
      // Kubernetes expands $(DAGOPS_PARAM_…) in command and args from the step's env.
      args: ["--date", "$(DAGOPS_PARAM_DATE)", "--tenant", "$(DAGOPS_PARAM_TENANT)"],
      env: [
        { name: "LOG_LEVEL", value: "info" },
        { name: "CUSTOMER_API_TOKEN", valueFrom: { secretKeyRef: { name: "customer-api", key: "token" } } },
      ],
    },
    ...stores.map((store) => ({
      name: `scan-${store}`,
      command: ["python", "-m", "classifier.scan"],
      args: ["--store", store],
      dependsOn: ["discover-accounts"],
      estimate: "20m",
    })),
    ...stores.map((store) => ({
      name: `classify-${store}`,
      command: ["python", "-m", "classifier.classify"],
      args: ["--store", store],
      dependsOn: [`scan-${store}`],
      resources: heavy,
      timeout: "1h30m",
      estimate: "50m",
    })),
    {
      name: "merge-findings",
      command: ["python", "-m", "classifier.merge"],
      dependsOn: stores.map((store) => `classify-${store}`),
    },
    {
      name: "score-risk",
      command: ["python", "-m", "classifier.score"],
      dependsOn: ["merge-findings"],
      resources: heavy,
      estimate: "15m",
    },
    {
      name: "publish-report",
      command: ["python", "-m", "classifier.report"],
      dependsOn: ["score-risk"],
    },
    {
      name: "send-alerts",
      command: ["python", "-m", "classifier.alert"],
      dependsOn: ["score-risk"],
      retries: 4,
      timeout: "10m",
      estimate: "2m",
    },
  ],
});
