/**
 * The one YAML form dagops writes: keys sorted (apiVersion, kind, metadata, name, namespace
 * first, then alphabetical), no line folding, LF, trailing newline.
 *
 * This is a small emitter for plain data (objects, arrays, strings, numbers, booleans, null)
 * rather than `yaml.stringify`: the library spends time on generality dagops does not need, and
 * at 2,000 pipelines that alone took longer than the whole synth budget (`npm run bench`
 * measures both: the floor it prints is `yaml.stringify` of the same objects). Its rule is conservative: a string is written plain only when
 * both YAML 1.1 (Go's sigs.k8s.io/yaml, which Argo CD and kubectl use) and YAML 1.2 read it back
 * as the same string; otherwise it is double-quoted with JSON escapes, which are valid YAML.
 * test/unit/contract/yaml.test.ts proves the round trip with the `yaml` parser in both versions.
 */

import { LONE_SURROGATE } from "./text.ts";

/**
 * A key's place among the leading ones, 99 when it is not one: at the top `apiVersion`, `kind`,
 * `metadata` lead, like every Kubernetes manifest; below the top, `name` and `namespace`.
 */
const rankTop = (key: string) => (key === "apiVersion" ? 0 : key === "kind" ? 1 : key === "metadata" ? 2 : 99);
const rankNested = (key: string) => (key === "name" ? 0 : key === "namespace" ? 1 : 99);

const compareTop = (a: string, b: string) => rankTop(a) - rankTop(b) || (a < b ? -1 : a > b ? 1 : 0);
const compareNested = (a: string, b: string) => rankNested(a) - rankNested(b) || (a < b ? -1 : a > b ? 1 : 0);

/** Keys in canonical order; objects built by dagops usually are already, so check before sorting. */
function sortKeys(keys: string[], top: boolean): string[] {
  const compare = top ? compareTop : compareNested;
  for (let i = 1; i < keys.length; i++) if (compare(keys[i - 1]!, keys[i]!) > 0) return keys.sort(compare);
  return keys;
}

/** A deep copy with object keys in canonical order and undefined values dropped. */
export function canonical<T>(value: T, top = true): T {
  if (Array.isArray(value)) return value.map((v) => canonical(v, false)) as T;
  if (value !== null && typeof value === "object") {
    const out: Record<string, unknown> = {};
    for (const k of sortKeys(Object.keys(value as object), top)) {
      const v = (value as Record<string, unknown>)[k];
      if (v !== undefined) out[k] = canonical(v, false);
    }
    return out as T;
  }
  return value;
}

/** Options for reading dagops output back with the `yaml` package. */
export const YAML_OPTIONS = { version: "1.1" } as const;

/**
 * `prefix` (a comment header) is written first, as the start of the same text: the text is
 * copied into one piece once, when first read (see emitBlock); `prefix + toYaml(v)` would make
 * every reader (the hash, the UTF-8 encoder) copy it again.
 */
export function toYaml(value: unknown, prefix = ""): string {
  const keys = value !== null && typeof value === "object" ? entriesOf(value as Collection) : undefined;
  return keys !== undefined
    ? emitBlock(value as Collection, keys, 0, prefix, "", true)
    : `${prefix}${scalar(value, 0)}\n`;
}

type Collection = readonly unknown[] | Record<string, unknown>;

/**
 * A non-empty collection's keys (an array's: null), or undefined when it is empty and so written
 * inline (`[]`, `{}`). Objects are asked once: no second `Object.keys` to sort them.
 */
function entriesOf(v: Collection): string[] | null | undefined {
  if (Array.isArray(v)) return v.length ? null : undefined;
  const keys = Object.keys(v);
  return keys.length ? keys : undefined;
}

/** Indentation by depth (two spaces a level), and the same followed by "- ". */
const INDENT: string[] = [];
const DASH: string[] = [];
const indentOf = (depth: number) => INDENT[depth] ?? (INDENT[depth] = "  ".repeat(depth));
const dashOf = (depth: number) => DASH[depth] ?? (DASH[depth] = `${"  ".repeat(depth)}- `);

/**
 * Appends to `out` a non-empty collection whose first line starts at the current position,
 * indented by `depth` levels; its first line starts with `first` (the position's own text: an
 * item's "- "). The text grows by `+=`: V8 links the pieces and copies them once, when the text
 * is first read, about twice as fast as collecting them in an array and joining it.
 */
function emitBlock(
  value: Collection,
  keys: string[] | null,
  depth: number,
  out: string,
  first: string,
  top = false,
): string {
  let prefix = first;
  const indent = indentOf(depth);
  if (keys === null) {
    for (const item of value as readonly unknown[]) {
      const inner = item !== null && typeof item === "object" ? entriesOf(item as Collection) : undefined;
      if (inner !== undefined)
        out = nested(item as Collection, inner, depth + 1, out, prefix === indent ? dashOf(depth) : `${prefix}- `);
      else out += `${prefix}- ${scalar(item, depth + 1)}\n`;
      prefix = indent;
    }
    return out;
  }
  const obj = value as Record<string, unknown>;
  for (const key of sortKeys(keys, top)) {
    const v = obj[key];
    if (v === undefined) continue;
    const k = plainSafe(key) ? key : quoted(key);
    const inner = v !== null && typeof v === "object" ? entriesOf(v as Collection) : undefined;
    if (inner !== undefined) {
      out += `${prefix}${k}:\n`;
      // Sequences under a key are indented one level, like `yaml.stringify` does.
      out = nested(v as Collection, inner, depth + 1, out, indentOf(depth + 1));
    } else out += `${prefix}${k}: ${scalar(v, depth + 1)}\n`;
    prefix = indent;
  }
  return out;
}

/**
 * The text of frozen collections (dagops's shared constants: a step's security contexts, its
 * tolerations...), by depth, without the first line's prefix: each is written once per depth,
 * not once per step of every plan. Only a collection frozen all the way down is remembered
 * (checked once); anything else may change between two writes and is written every time.
 */
const frozenTexts = new WeakMap<object, (string | undefined)[] | null>();

function nested(value: Collection, keys: string[] | null, depth: number, out: string, first: string): string {
  if (!Object.isFrozen(value)) return emitBlock(value, keys, depth, out, first);
  let texts = frozenTexts.get(value);
  if (texts === undefined) frozenTexts.set(value, (texts = deepFrozen(value) ? [] : null));
  if (texts === null) return emitBlock(value, keys, depth, out, first);
  // The first line's prefix is the only part of the text that depends on where it goes.
  const text = (texts[depth] ??= emitBlock(value, keys, depth, "", ""));
  return out + first + text;
}

function deepFrozen(v: unknown): boolean {
  if (v === null || typeof v !== "object") return true;
  return Object.isFrozen(v) && Object.values(v).every(deepFrozen);
}

function scalar(v: unknown, depth: number): string {
  if (v === null || v === undefined) return "null";
  if (typeof v === "boolean") return v ? "true" : "false";
  if (typeof v === "number") {
    if (!Number.isFinite(v)) throw new Error(`cannot serialize ${v}`);
    return String(v);
  }
  if (Array.isArray(v)) return "[]";
  if (typeof v === "object") return "{}";
  const s = String(v);
  if (s.includes("\n")) return literal(s, indentOf(depth)) ?? quoted(s);
  return plainSafe(s) ? s : quoted(s);
}

/**
 * Characters that JSON leaves raw but Go's YAML parser (Argo CD, kubectl) reads differently:
 * NEL, LS and PS are line breaks there (folded into a space inside quotes, so a plan's text and
 * its hash would disagree), and DEL, the C1 controls, U+FFFE and U+FFFF make the file
 * unreadable. U+FEFF is escaped too, so no byte-order mark sits inside a document.
 */
const GO_SPECIAL = /[\u007f-\u009f\u2028\u2029\ufeff\ufffe\uffff]/g;

/** A double-quoted scalar: JSON's escapes, plus YAML's for what Go's parser treats specially. */
function quoted(s: string): string {
  // Go's parser refuses a \uD800-\uDFFF escape, and no raw form exists: validation refuses these first.
  if (LONE_SURROGATE.test(s))
    throw new Error(`cannot serialize a string with an unpaired UTF-16 surrogate: ${JSON.stringify(s.slice(0, 40))}`);
  return JSON.stringify(s).replace(GO_SPECIAL, (c) => {
    const code = c.charCodeAt(0);
    if (code === 0x85) return "\\N";
    if (code === 0x2028) return "\\L";
    if (code === 0x2029) return "\\P";
    return code <= 0xff ? `\\x${code.toString(16).padStart(2, "0")}` : `\\u${code.toString(16).padStart(4, "0")}`;
  });
}

/** Plan texts repeat across clusters; their indented form is computed once. */
const literalCache = new Map<number, Map<string, string | undefined>>();

/** Block literal (`|` keeps one final newline, `|-` none, `|+` several), or undefined when the string cannot be one. */
function literal(s: string, indent: string): string | undefined {
  if (s.length < 4096) return literalUncached(s, indent);
  let byText = literalCache.get(indent.length);
  if (!byText) literalCache.set(indent.length, (byText = new Map()));
  let out: string | undefined = byText.get(s);
  if (out === undefined && !byText.has(s)) {
    if (byText.size > 64) byText.clear();
    out = literalUncached(s, indent);
    byText.set(s, out);
  }
  return out;
}

function literalUncached(s: string, indent: string): string | undefined {
  if (!literalSafe(s)) return undefined;
  // Counted by hand: /\n*$/ backtracks from every position, quadratic on a 60 KB plan.
  let trailing = 0;
  while (trailing < s.length && s.charCodeAt(s.length - 1 - trailing) === 10) trailing++;
  const chomp = trailing === 0 ? "-" : trailing === 1 ? "" : "+";
  const body = trailing > 0 ? s.slice(0, -1) : s;
  return `|${chomp}\n${body
    .split("\n")
    .map((line) => (line === "" ? "" : indent + line))
    .join("\n")}`;
}

function literalSafe(s: string): boolean {
  // A leading space would need an indentation indicator; control characters need escapes.
  // Go's parser also breaks lines at NEL, LS and PS and refuses DEL, C1 controls and U+FFFE/FFFF.
  return (
    !s.startsWith(" ") &&
    !s.startsWith("\n") &&
    !/[\u0000-\u0008\u000b-\u001f\u007f-\u009f\u2028\u2029\ufeff\ufffe\uffff]/.test(s) &&
    !LONE_SURROGATE.test(s)
  );
}

const BOOL_NULL_1_1 =
  /^(y|Y|yes|Yes|YES|n|N|no|No|NO|true|True|TRUE|false|False|FALSE|on|On|ON|off|Off|OFF|null|Null|NULL|~)$/;
/** Anything that starts like a number and uses only number-ish characters: ints, floats, hex, octal, sexagesimal, dates. */
const NUMBER_LIKE = /^[-+]?[.]?[0-9][0-9a-fA-FxXoObBeE._:+-]*$/;
const SPECIAL_FLOAT = /^[-+]?\.(inf|Inf|INF|nan|NaN|NAN)$|^[-+._]+$/;
/** YAML 1.1 timestamps may contain spaces: `2025-1-1 10:00:00`. */
const TIMESTAMP_LIKE = /^[0-9]{4}-[0-9]{1,2}-[0-9]{1,2}/;
/** Printable ASCII without the characters that need care anywhere in a plain scalar. */
const PLAIN_CHARS = /^[\x20-\x7e]*$/;

/** Strings repeat a lot (keys, labels, images): remember the answer, within a bound. */
const plainCache = new Map<string, boolean>();

function plainSafe(s: string): boolean {
  let safe = plainCache.get(s);
  if (safe === undefined) {
    safe = isPlainSafe(s);
    if (plainCache.size > 100_000) plainCache.clear();
    plainCache.set(s, safe);
  }
  return safe;
}

function isPlainSafe(s: string): boolean {
  if (s === "" || !PLAIN_CHARS.test(s)) return false;
  if (s.startsWith(" ") || s.endsWith(" ") || s.endsWith(":")) return false;
  if (s.includes(": ") || s.includes(" #") || s.includes("\t")) return false;
  if (BOOL_NULL_1_1.test(s) || NUMBER_LIKE.test(s) || SPECIAL_FLOAT.test(s) || TIMESTAMP_LIKE.test(s)) return false;
  const first = s[0]!;
  if ("?:,[]{}#&*!|>'\"%@`".includes(first)) return false;
  if (first === "-" && (s.length === 1 || s[1] === " " || s.startsWith("---"))) return false;
  if (first === "<" && s.startsWith("<<")) return false;
  return true;
}
