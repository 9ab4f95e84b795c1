/**
 * Every problem dagops reports carries a stable code, the file it was found in, the field path
 * inside that file, and a message that says what was expected, what was found and how to fix it.
 * Tests assert `code` and `path`; people read `message`.
 */
/**
 * Every code, in the order the checks run, with the stage that reports it and what it means:
 * docs/checks.md's table is generated from this (`npm run docs`), and a test keeps the two equal.
 */
export const PROBLEM_CODE_MEANINGS = {
  FILE_UNREADABLE: [
    "reading",
    "A definition could not be read: gone, unreadable, not a regular file, or a symlink that leads out of the repository.",
  ],
  YAML_SYNTAX: ["reading", "The YAML does not parse; the message gives the line and column of the first error."],
  YAML_UNSAFE: [
    "reading",
    "YAML dagops refuses to read: a tag, a merge key, a duplicate key, more than 20 aliases, or a file over 1 MiB.",
  ],
  MODULE_LOAD_FAILED: [
    "reading",
    "A TypeScript definition did not load: it threw, timed out, exited, exported something that is not plain data, or imports a file outside the repository.",
  ],
  NO_DEFAULT_EXPORT: [
    "reading",
    "A TypeScript definition has no default export (`export default definePipeline({...})`).",
  ],
  UNKNOWN_FIELD: ["schema", "A field the schema does not have; the message suggests the closest one."],
  MISSING_FIELD: ["schema", "A required field is absent."],
  WRONG_TYPE: ["schema", "A field holds the wrong type (a number where a quoted quantity belongs, for one)."],
  INVALID_VALUE: [
    "schema",
    "A value outside what the field allows: a pattern, an enum, a range, or text no YAML reader can carry.",
  ],
  DUPLICATE_PIPELINE: ["graph", "Two definitions (or a pipeline and a template's tenant) give the same pipeline name."],
  NAME_MISMATCH: ["graph", "A pipeline's name differs from its file's name."],
  RESERVED_NAME: ["graph", "A pipeline name dagops uses itself (its namespace would clash)."],
  DUPLICATE_STEP: ["graph", "Two steps of one pipeline have the same name."],
  UNKNOWN_STEP: ["graph", "`dependsOn` names a step the pipeline does not have."],
  SELF_DEPENDENCY: ["graph", "A step depends on itself."],
  CYCLE: ["graph", "The steps' dependencies form a cycle; the message gives its path."],
  UNKNOWN_CLUSTER: ["semantics", "A cluster (in `clusters` or `overrides`) that platform.config.ts does not define."],
  BAD_QUANTITY: [
    "semantics",
    "A CPU or memory quantity that does not parse, or memory in thousandths of a byte (`300m`).",
  ],
  MISSING_REQUESTS: [
    "semantics",
    "A step with no CPU or memory request, from itself or `defaults`: Karpenter could not size its node.",
  ],
  LIMIT_BELOW_REQUEST: ["semantics", "A limit below its request, which the API server refuses."],
  BAD_CRON: [
    "semantics",
    "A schedule the CronJob controller would refuse (robfig/cron v3 rules: day of week 0-6, five fields).",
  ],
  BAD_TIME_ZONE: ["semantics", "A time zone that Go's time zone database does not have, spelled as it spells it."],
  BAD_DURATION: ["semantics", "A timeout or estimate outside 1 s to 24 h (a run timeout: up to 168 h)."],
  BAD_IMAGE: ["semantics", "An image reference that does not parse."],
  UNPINNED_IMAGE: [
    "semantics",
    "An image without a tag, or tagged `latest`: `git revert` would not restore the same code.",
  ],
  MISSING_IMAGE: ["semantics", "A step with no image, from itself or the pipeline."],
  SECRET_LITERAL: [
    "semantics",
    "A credential written as a literal value (an AWS key, a token, a password in a URL); use `valueFrom.secretKeyRef`.",
  ],
  RESERVED_ENV: ["semantics", "An env name dagops sets itself (`DAGOPS_*`)."],
  UNKNOWN_PARAM: ["semantics", "A value for a parameter the pipeline (or template) does not declare."],
  DUPLICATE_ENV: ["semantics", "Two env entries of one step with the same name."],
  SHARED_ROLE: [
    "semantics",
    "Warning: one IAM role for clusters in different AWS accounts (IRSA trusts one account's OIDC providers).",
  ],
  DST_SCHEDULE: [
    "semantics",
    "Warning: a schedule whose time a daylight-saving change skips or repeats in its time zone.",
  ],
  BAD_CONFIG: ["semantics", "platform.config.ts is invalid: a field of a cluster, or a cluster defined twice."],
  NO_LOG_DESTINATION: ["semantics", "Warning: a cluster routes no logs, so a step's log goes with its pod."],
  OUTPUT_SCHEMA: [
    "output",
    "A generated object fails its kind's schema (kubernetes-models, Karpenter, Argo CD, ACK): a dagops bug or a value the model let through.",
  ],
  OBJECT_TOO_LARGE: ["output", "A generated object over 1 MiB, which etcd refuses."],
  DUPLICATE_OBJECT: ["output", "Two generated objects with the same kind, namespace and name."],
  DUPLICATE_PATH: ["output", "Two generated objects written to the same file."],
  FARGATE_UNMATCHED: ["output", "A run-manager pod that no Fargate profile selects: it would stay Pending."],
  FARGATE_MATCHES_STEP: [
    "output",
    "A step pod that a Fargate profile selects: it would run on Fargate, not on the NodePools.",
  ],
  NO_NODEPOOL: ["output", "A step pod that no NodePool admits (taints not tolerated, requirements not satisfiable)."],
  APP_PATH_MISSING: ["output", "An Application whose path holds no generated object."],
  POD_SECURITY: ["output", 'A pod that does not meet Pod Security "restricted".'],
  KARPENTER_RULE: ["output", "A NodePool or EC2NodeClass that breaks a CEL rule of Karpenter's CRDs."],
  NO_INSTANCE_FITS: [
    "capacity",
    "A step no instance type of its NodePool can hold, after Karpenter's and the kubelet's overheads.",
  ],
  TOO_FEW_FAMILIES: [
    "capacity",
    "A step that fits fewer instance families than the pool's `minValues`: Karpenter would not launch for it.",
  ],
  FARGATE_TOO_LARGE: ["capacity", "A run manager larger than Fargate's largest size."],
  POOL_LIMIT: ["capacity", "One run's peak (or one step) exceeds its NodePool's limits."],
  POOL_LIMIT_SHARED: [
    "capacity",
    "Warning: pipelines that start at the same time together exceed a NodePool's limits.",
  ],
  BAD_PRICE_DATA: ["capacity", "A price snapshot that is missing or does not match its schema."],
  DRIFT_STALE: ["drift", "A file under generated/ differs from a fresh render: run `npm run synth`."],
  DRIFT_MISSING: ["drift", "A file a fresh render writes is missing from generated/."],
  DRIFT_EXTRA: ["drift", "A file under generated/ that no render writes."],
  UNSAFE_ENTRY: ["drift", "Something under generated/ that is not a regular file (a symlink, a FIFO, a device)."],
} as const satisfies Record<string, readonly [string, string]>;

export type ProblemCode = keyof typeof PROBLEM_CODE_MEANINGS;

export type Severity = "error" | "warning";

export interface Problem {
  readonly code: ProblemCode;
  /** Repository-relative path of the file the problem is in, with forward slashes. */
  readonly file: string;
  /** Field path inside the file, such as `steps[2].dependsOn[0]`; empty for the whole file. */
  readonly path: string;
  readonly message: string;
  readonly severity: Severity;
  /** 1-based line in the file, when known (YAML sources). */
  readonly line?: number;
  /** 1-based column, when known (YAML syntax errors). */
  readonly column?: number;
}

export function problem(
  code: ProblemCode,
  file: string,
  path: string,
  message: string,
  severity: Severity = "error",
): Problem {
  return { code, file, path, message, severity };
}

export function hasErrors(problems: readonly Problem[]): boolean {
  return problems.some((p) => p.severity === "error");
}

/** Turns a JSON pointer or a list of keys into `steps[2].dependsOn[0]`. */
export function fieldPath(segments: readonly (string | number)[]): string {
  let out = "";
  for (const s of segments) {
    if (typeof s === "number" || /^\d+$/.test(s)) out += `[${s}]`;
    else if (/^[A-Za-z_$][\w$-]*$/.test(s)) out += out === "" ? s : `.${s}`;
    else out += `[${JSON.stringify(s)}]`;
  }
  return out;
}

/** A short, quoted rendering of a value found in the input, for messages. */
export function shown(value: unknown): string {
  if (value === undefined) return "nothing";
  const json = JSON.stringify(value);
  if (json === undefined) return String(value);
  return json.length > 60 ? `${json.slice(0, 57)}...` : json;
}

/** The closest candidate by edit distance, for "did you mean" hints; undefined when none is close. */
export function closest(word: string, candidates: readonly string[]): string | undefined {
  let best: string | undefined;
  let bestDistance = Math.max(2, Math.floor(word.length / 3)) + 1;
  for (const c of candidates) {
    // A stem of a longer name (`retry` for `retries`, `depend` for `dependsOn`) counts as one edit.
    const stem = word.length >= 4 && c.toLowerCase().startsWith(word.toLowerCase().slice(0, -1));
    const d = stem ? 1 : editDistance(word.toLowerCase(), c.toLowerCase());
    if (d < bestDistance) {
      best = c;
      bestDistance = d;
    }
  }
  return best;
}

function editDistance(a: string, b: string): number {
  const row = Array.from({ length: b.length + 1 }, (_, i) => i);
  for (let i = 1; i <= a.length; i++) {
    let diagonal = row[0]!;
    row[0] = i;
    for (let j = 1; j <= b.length; j++) {
      const above = row[j]!;
      row[j] = Math.min(row[j]! + 1, row[j - 1]! + 1, diagonal + (a[i - 1] === b[j - 1] ? 0 : 1));
      diagonal = above;
    }
  }
  return row[b.length]!;
}

export function didYouMean(word: string, candidates: readonly string[]): string {
  const c = closest(word, candidates);
  return c === undefined ? "" : ` Did you mean "${c}"?`;
}

/**
 * Formats problems grouped by file, errors first, in a stable order:
 *
 *   ✖ pipelines/nightly-etl.yaml: 2 problems
 *     steps[2].dependsOn[0]  UNKNOWN_STEP  unknown step "extrct"; known: extract, transform.
 */
export function formatProblems(problems: readonly Problem[]): string {
  const byFile = new Map<string, Problem[]>();
  for (const p of sortProblems(problems)) {
    const list = byFile.get(p.file) ?? [];
    list.push(p);
    byFile.set(p.file, list);
  }
  const lines: string[] = [];
  for (const [file, list] of byFile) {
    const errors = list.filter((p) => p.severity === "error").length;
    const mark = errors > 0 ? "✖" : "⚠";
    lines.push(`${mark} ${file || "(no file)"}: ${list.length} problem${list.length === 1 ? "" : "s"}`);
    const where = (p: Problem) =>
      (p.path || "(file)") + (p.line ? ` (line ${p.line}${p.column ? `, column ${p.column}` : ""})` : "");
    const width = Math.min(48, Math.max(...list.map((p) => where(p).length)));
    for (const p of list) {
      const tag = p.severity === "warning" ? `${p.code} (warning)` : p.code;
      lines.push(`  ${where(p).padEnd(width)}  ${tag}  ${p.message}`);
    }
  }
  return lines.join("\n");
}

export function sortProblems(problems: readonly Problem[]): Problem[] {
  return [...problems].sort(
    (a, b) =>
      cmp(a.file, b.file) ||
      cmp(a.severity === "error" ? "0" : "1", b.severity === "error" ? "0" : "1") ||
      cmp(a.path, b.path) ||
      cmp(a.code, b.code) ||
      cmp(a.message, b.message),
  );
}

function cmp(a: string, b: string): number {
  return a < b ? -1 : a > b ? 1 : 0;
}
