/**
 * ajv, set up once: strict, every error at once, and errors turned into dagops problems that
 * name the field path, what was expected and what was found.
 *
 * Compiling a schema is the slow part (for the pipeline schema, longer than a no-op synth's own
 * work; docs/architecture.md, "Schema validators, compiled once"), so each schema is compiled once per ajv version and kept as ajv's standalone
 * code in `node_modules/.cache/dagops-validators/<hash of ajv's version, the options and the
 * schema>.cjs`; later commands `require` that file. The code is written to a temporary file and
 * renamed into place, so a half-written validator is never loaded; where node_modules/ is
 * read-only, schemas are compiled in memory as before.
 */
import { createHash } from "node:crypto";
import { mkdirSync, readFileSync, renameSync, writeFileSync } from "node:fs";
import { createRequire } from "node:module";
import { dirname, join } from "node:path";
import { threadId } from "node:worker_threads";
import type { ErrorObject, ValidateFunction } from "ajv";
import { closest, fieldPath, problem, shown, type Problem } from "../contract/problems.ts";

const OPTIONS = { allErrors: true, strict: true, strictRequired: false, verbose: true, allowUnionTypes: true } as const;
const VOCABULARY = ["x-expected", "x-wrong-type"];

const require = createRequire(import.meta.url);
const AJV_PACKAGE = require.resolve("ajv/package.json");
const CACHE_DIR = join(dirname(AJV_PACKAGE), "..", ".cache", "dagops-validators");
const AJV_VERSION = (JSON.parse(readFileSync(AJV_PACKAGE, "utf8")) as { version: string }).version;

const compiled = new WeakMap<object, ValidateFunction>();

/** Where the compiled validator of a schema is kept. */
export function validatorFile(schema: object): string {
  const key = createHash("sha256")
    .update(`ajv ${AJV_VERSION}\0${JSON.stringify(OPTIONS)}\0${VOCABULARY.join(",")}\0${JSON.stringify(schema)}`)
    .digest("hex");
  return join(CACHE_DIR, `${key.slice(0, 32)}.cjs`);
}

/** ajv's compile, in this process: what the validator cache holds as code. */
export function compileSchema(schema: object): { validate: ValidateFunction; code: () => string } {
  // ajv itself is loaded only when a schema has to be compiled; an instance of its own per
  // schema, since a schema with an $id can be added to an instance only once.
  const ajv = new (require("ajv") as typeof import("ajv")).Ajv({ ...OPTIONS, code: { source: true } });
  ajv.addVocabulary(VOCABULARY);
  const validate = ajv.compile(schema);
  const standalone = require("ajv/dist/standalone") as typeof import("ajv/dist/standalone/index.js");
  return { validate, code: () => standalone.default(ajv, validate) };
}

/** The validator of a schema: from this process, from the validator cache, or compiled now (and cached). */
export function validatorOf(schema: object): ValidateFunction {
  let validate = compiled.get(schema);
  if (validate) return validate;
  const file = validatorFile(schema);
  try {
    validate = require(file) as ValidateFunction;
  } catch {
    // Not cached yet (or a file that does not load: it is replaced).
    const fresh = compileSchema(schema);
    validate = fresh.validate;
    try {
      mkdirSync(CACHE_DIR, { recursive: true });
      // Per thread: worker threads share the process id.
      const tmp = `${file}.${process.pid}-${threadId}.tmp`;
      // The code requires ajv's runtime helpers, which node_modules/.cache/ resolves.
      writeFileSync(tmp, fresh.code());
      renameSync(tmp, file);
    } catch {
      // a read-only node_modules/: compiled in memory, as every time
    }
  }
  compiled.set(schema, validate);
  return validate;
}

/** Validates `data` against `schema`; returns the problems (none when valid). */
export function validateAgainst(schema: object, data: unknown, file: string): Problem[] {
  const validate = validatorOf(schema);
  if (validate(data)) return [];
  return toProblems(validate.errors ?? [], file);
}

function toProblems(errors: readonly ErrorObject[], file: string): Problem[] {
  const out: Problem[] = [];
  const seen = new Set<string>();
  // A failed oneOf reports why each branch failed; the oneOf error itself says it better.
  const oneOfFailures = errors.filter((e) => e.keyword === "oneOf").map((e) => e.schemaPath);
  for (const e of errors) {
    if (oneOfFailures.some((p) => e.schemaPath.startsWith(`${p}/`))) continue;
    const p = convert(e, file);
    const key = `${p.path}\u0000${p.code}`;
    if (seen.has(key)) continue;
    seen.add(key);
    out.push(p);
  }
  return out;
}

function segments(pointer: string): string[] {
  return pointer === ""
    ? []
    : pointer
        .slice(1)
        .split("/")
        .map((s) => s.replace(/~1/g, "/").replace(/~0/g, "~"));
}

function convert(e: ErrorObject, file: string): Problem {
  const at = segments(e.instancePath);
  const parent = (e.parentSchema ?? {}) as {
    "x-expected"?: string;
    "x-wrong-type"?: string;
    properties?: Record<string, unknown>;
    enum?: unknown[];
  };
  const expected = parent["x-expected"];
  switch (e.keyword) {
    case "additionalProperties": {
      const key = String((e.params as { additionalProperty: string }).additionalProperty);
      const known = Object.keys(parent.properties ?? {}).filter((k) => k !== "$schema");
      const hint = closest(key, known);
      return problem(
        "UNKNOWN_FIELD",
        file,
        fieldPath([...at, key]),
        `unknown field ${JSON.stringify(key)}; expected one of: ${known.join(", ")}.${hint ? ` Did you mean "${hint}"?` : ""}`,
      );
    }
    case "required": {
      const key = String((e.params as { missingProperty: string }).missingProperty);
      return problem(
        "MISSING_FIELD",
        file,
        fieldPath([...at, key]),
        `required field ${JSON.stringify(key)} is missing`,
      );
    }
    case "type":
      return problem(
        "WRONG_TYPE",
        file,
        fieldPath(at),
        `expected ${String((e.params as { type: string }).type).replace(",", " or ")}, found ${typeName(e.data)} ${shown(e.data)}${parent["x-wrong-type"] ? `; ${parent["x-wrong-type"]}` : ""}`,
      );
    case "enum":
      return problem(
        "INVALID_VALUE",
        file,
        fieldPath(at),
        `expected one of ${(parent.enum ?? []).map((v) => JSON.stringify(v)).join(", ")}, found ${shown(e.data)}${enumHint(e.data, parent.enum ?? [])}`,
      );
    default:
      return problem(
        "INVALID_VALUE",
        file,
        fieldPath(at),
        `expected ${expected ?? describeKeyword(e)}, found ${shown(e.data)}${expected ? "" : ` (${e.message ?? e.keyword})`}${quantityHint(e.data)}`,
      );
  }
}

/**
 * What a quantity written in another convention means in Kubernetes': `16GB` or `512mb` is
 * `16Gi` or `512Mi` (a binary unit; `16G` would be 10^9 bytes), `2 cores` is `2`.
 */
function quantityHint(value: unknown): string {
  if (typeof value !== "string") return "";
  const bytes = /^\s*(\d+(?:\.\d+)?)\s*([kmgtpe])i?b?\s*$/i.exec(value);
  if (bytes && /[a-z]/i.test(value))
    return `. Did you mean "${bytes[1]}${bytes[2]!
      .toUpperCase()
      .replace("K", "Ki")
      .replace(/^([MGTPE])$/, "$1i")}"?`;
  const cores = /^\s*(\d+(?:\.\d+)?)\s*(?:cores?|cpus?|vcpus?)\s*$/i.exec(value);
  return cores ? `. Did you mean "${cores[1]}"?` : "";
}

function describeKeyword(e: ErrorObject): string {
  const p = e.params as Record<string, unknown>;
  switch (e.keyword) {
    case "minimum":
      return `a number >= ${String(p.limit)}`;
    case "maximum":
      return `a number <= ${String(p.limit)}`;
    case "minLength":
      return `at least ${String(p.limit)} character(s)`;
    case "maxLength":
      return `at most ${String(p.limit)} characters`;
    case "minItems":
      return `at least ${String(p.limit)} item(s)`;
    case "maxItems":
      return `at most ${String(p.limit)} items`;
    case "uniqueItems":
      return "no repeated items";
    default:
      return "a valid value";
  }
}

function enumHint(found: unknown, allowed: readonly unknown[]): string {
  if (typeof found !== "string") return "";
  const hint = closest(
    found,
    allowed.filter((v): v is string => typeof v === "string"),
  );
  return hint ? `. Did you mean "${hint}"?` : "";
}

function typeName(v: unknown): string {
  if (v === null) return "null";
  if (Array.isArray(v)) return "array";
  return typeof v;
}
