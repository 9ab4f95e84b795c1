/**
 * ajv, set up once: strict, every error at once, and errors turned into dagops problems that
 * name the field path, what was expected and what was found.
 */
import { Ajv, type ErrorObject, type ValidateFunction } from "ajv";
import { closest, fieldPath, problem, shown, type Problem } from "./problems.ts";

const ajv = new Ajv({ allErrors: true, strict: true, strictRequired: false, verbose: true, allowUnionTypes: true });
ajv.addVocabulary(["x-expected", "x-wrong-type"]);

const compiled = new WeakMap<object, ValidateFunction>();

/** Validates `data` against `schema`; returns the problems (none when valid). */
export function validateAgainst(schema: object, data: unknown, file: string): Problem[] {
  let validate = compiled.get(schema);
  if (!validate) {
    validate = ajv.compile(schema);
    compiled.set(schema, validate);
  }
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
  return pointer === "" ? [] : pointer.slice(1).split("/").map((s) => s.replace(/~1/g, "/").replace(/~0/g, "~"));
}

function convert(e: ErrorObject, file: string): Problem {
  const at = segments(e.instancePath);
  const parent = (e.parentSchema ?? {}) as { "x-expected"?: string; "x-wrong-type"?: string; properties?: Record<string, unknown>; enum?: unknown[] };
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
      return problem("MISSING_FIELD", file, fieldPath([...at, key]), `required field ${JSON.stringify(key)} is missing`);
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
        `expected ${expected ?? describeKeyword(e)}, found ${shown(e.data)}${expected ? "" : ` (${e.message ?? e.keyword})`}`,
      );
  }
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
  const hint = closest(found, allowed.filter((v): v is string => typeof v === "string"));
  return hint ? `. Did you mean "${hint}"?` : "";
}

function typeName(v: unknown): string {
  if (v === null) return "null";
  if (Array.isArray(v)) return "array";
  return typeof v;
}
