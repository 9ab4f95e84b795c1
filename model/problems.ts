/**
 * Every problem dagops reports carries a stable code, the file it was found in, the field path
 * inside that file, and a message that says what was expected, what was found and how to fix it.
 * Tests assert `code` and `path`; people read `message`.
 */
export const PROBLEM_CODES = [
  // Tier 0: reading the files
  "FILE_UNREADABLE",
  "YAML_SYNTAX",
  "YAML_UNSAFE",
  "MODULE_LOAD_FAILED",
  "NO_DEFAULT_EXPORT",
  // Tier 1: schema
  "UNKNOWN_FIELD",
  "MISSING_FIELD",
  "WRONG_TYPE",
  "INVALID_VALUE",
  // Tier 2: graph
  "DUPLICATE_PIPELINE",
  "NAME_MISMATCH",
  "RESERVED_NAME",
  "DUPLICATE_STEP",
  "UNKNOWN_STEP",
  "SELF_DEPENDENCY",
  "CYCLE",
  // Tier 3: semantics
  "UNKNOWN_CLUSTER",
  "BAD_QUANTITY",
  "MISSING_REQUESTS",
  "LIMIT_BELOW_REQUEST",
  "BAD_CRON",
  "BAD_TIME_ZONE",
  "BAD_DURATION",
  "BAD_IMAGE",
  "UNPINNED_IMAGE",
  "MISSING_IMAGE",
  "SECRET_LITERAL",
  "RESERVED_ENV",
  "UNKNOWN_PARAM",
  "DUPLICATE_ENV",
  "SHARED_ROLE",
  "DST_SCHEDULE",
  "BAD_CONFIG",
  "NO_LOG_DESTINATION",
  // Tier 4: output
  "OUTPUT_SCHEMA",
  "OBJECT_TOO_LARGE",
  "DUPLICATE_OBJECT",
  "DUPLICATE_PATH",
  "FARGATE_UNMATCHED",
  "FARGATE_MATCHES_STEP",
  "NO_NODEPOOL",
  "APP_PATH_MISSING",
  "POD_SECURITY",
  "KARPENTER_RULE",
  // Capacity: will it schedule, does it fit the pool limits
  "NO_INSTANCE_FITS",
  "TOO_FEW_FAMILIES",
  "FARGATE_TOO_LARGE",
  "POOL_LIMIT",
  "POOL_LIMIT_SHARED",
  "BAD_PRICE_DATA",
  // Tier 5: drift
  "DRIFT_STALE",
  "DRIFT_MISSING",
  "DRIFT_EXTRA",
  "UNSAFE_ENTRY",
] as const;

export type ProblemCode = (typeof PROBLEM_CODES)[number];

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
    const where = (p: Problem) => (p.path || "(file)") + (p.line ? ` (line ${p.line}${p.column ? `, column ${p.column}` : ""})` : "");
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
