/**
 * A fast reader for the plain YAML that definitions are written in, beside the `yaml` library.
 *
 * `yaml` 2.x takes about a millisecond, and allocates over a megabyte, for a 1.5 KB definition:
 * a third of everything a full synth allocated at 2,000 pipelines, and 2–3 s of its compiling
 * thread. Definitions use a small part of YAML: block mappings and sequences, one-line flow
 * collections, plain and one-line quoted scalars, comments. This reader takes exactly that part
 * and returns what `yaml` would (the 1.2 core schema, as `readYaml` asks for); for anything else
 * (anchors, tags, block or multi-line scalars, tabs, CRLF, documents, duplicate keys, a line it
 * does not expect) it answers OUTSIDE and the caller reads the file with `yaml`, which then
 * also writes the error messages and their positions. It never guesses: a construct it is not
 * sure of is OUTSIDE. `test/plain-yaml.test.ts` holds it to `yaml` on every YAML file of the
 * repository, on thousands of random documents in every style, and on each of them mutated.
 */

/**
 * The options definitions are read with by `yaml` (the YAML 1.2 core schema: no custom tags, no
 * merge keys, duplicate keys refused; its warnings are the loader's to report, not printed),
 * which readPlainYaml's answers equal.
 */
export const READ_OPTIONS = { schema: "core", merge: false, uniqueKeys: true, strict: true, prettyErrors: false, logLevel: "error" } as const;

/** What readPlainYaml answers for a text it leaves to `yaml`. */
export const OUTSIDE: unique symbol = Symbol("outside the plain subset");

/** Thrown inside the reader, caught at its top: the text is OUTSIDE. */
const BAIL = new Error("outside the plain subset");

// Printable characters YAML allows in a document, without tabs, CR, BOM or the line
// separators U+2028/2029 (each of those has rules of its own; `yaml` gets them).
const DISALLOWED = /[^\n\x20-\x7E\xA0-\u2027\u202A-\uFEFE\uFF00-\uFFFD]/;
const KEY = /^[A-Za-z0-9_][A-Za-z0-9_./-]*$/;
// The core schema's plain scalars other than strings, as `yaml` resolves them, in its order.
const NULL = /^(?:~|[Nn]ull|NULL)?$/;
const BOOL = /^(?:[Tt]rue|TRUE|[Ff]alse|FALSE)$/;
const INT_OCT = /^0o[0-7]+$/;
const INT = /^[-+]?[0-9]+$/;
const INT_HEX = /^0x[0-9a-fA-F]+$/;
const FLOAT_NAN = /^(?:[-+]?\.(?:inf|Inf|INF)|\.nan|\.NaN|\.NAN)$/;
const FLOAT_EXP = /^[-+]?(?:\.[0-9]+|[0-9]+(?:\.[0-9]*)?)[eE][-+]?[0-9]+$/;
const FLOAT = /^[-+]?(?:\.[0-9]+|[0-9]+\.[0-9]*)$/;
const ESCAPES: Readonly<Record<string, string>> = {
  "0": "\0", a: "\x07", b: "\b", e: "\x1b", f: "\f", n: "\n", r: "\r", t: "\t", v: "\v",
  N: "\u0085", _: "\u00a0", L: "\u2028", P: "\u2029", " ": " ", '"': '"', "/": "/", "\\": "\\",
};
const HEX_LENGTH: Readonly<Record<string, number>> = { x: 2, u: 4, U: 8 };
/** Characters a plain scalar cannot start with (YAML's indicators). */
const INDICATORS = "-?:,[]{}#&*!|>'\"%@`";
const FLOW_INDICATORS = ",[]{}";
/** Collections nested deeper than this are OUTSIDE (a definition needs a handful of levels; `yaml` stops a hostile depth). */
const MAX_DEPTH = 64;

/** A plain scalar's value under the core schema, as `yaml` resolves it. */
export function plainScalar(s: string): unknown {
  const c = s.charCodeAt(0);
  // Most scalars start with a letter that none of the patterns below admits.
  if ((c >= 0x61 && c <= 0x7a) || (c >= 0x41 && c <= 0x5a)) {
    if (!"nNtTfF".includes(s[0]!)) return s;
  }
  if (NULL.test(s)) return null;
  if (BOOL.test(s)) return s[0] === "t" || s[0] === "T";
  if (INT_OCT.test(s)) return parseInt(s.substring(2), 8);
  if (INT.test(s)) return parseInt(s, 10);
  if (INT_HEX.test(s)) return parseInt(s.substring(2), 16);
  if (FLOAT_NAN.test(s)) return s.slice(-3).toLowerCase() === "nan" ? NaN : s[0] === "-" ? Number.NEGATIVE_INFINITY : Number.POSITIVE_INFINITY;
  if (FLOAT_EXP.test(s) || FLOAT.test(s)) return parseFloat(s);
  return s;
}

/**
 * The value of a YAML text that is a block mapping or sequence in the plain subset (see the file's
 * comment), equal to `parseDocument(text, READ_OPTIONS).toJS()`; OUTSIDE for any other text,
 * valid YAML or not.
 */
export function readPlainYaml(text: string): unknown {
  if (DISALLOWED.test(text)) return OUTSIDE;
  // The content lines: not blank, not comments. Each one's indent and content span.
  const starts: number[] = [];
  const ends: number[] = [];
  const indents: number[] = [];
  for (let pos = 0; pos <= text.length; ) {
    let end = text.indexOf("\n", pos);
    if (end < 0) end = text.length;
    let i = pos;
    while (i < end && text.charCodeAt(i) === 0x20) i++;
    if (i < end && text.charCodeAt(i) !== 0x23) {
      if (i === pos && (text.startsWith("---", i) || text.startsWith("...", i))) return OUTSIDE;
      let e = end;
      while (text.charCodeAt(e - 1) === 0x20) e--;
      starts.push(i);
      ends.push(e);
      indents.push(i - pos);
    }
    pos = end + 1;
  }
  const n = starts.length;
  if (n === 0) return OUTSIDE;
  let li = 0;
  let depth = 0;

  const bail = (): never => {
    throw BAIL;
  };
  const skipSpaces = (i: number, e: number): number => {
    while (i < e && text.charCodeAt(i) === 0x20) i++;
    return i;
  };
  const isItem = (l: number): boolean => text.charCodeAt(starts[l]!) === 0x2d && (starts[l]! + 1 === ends[l]! || text.charCodeAt(starts[l]! + 1) === 0x20);
  /** Nothing but a comment may follow position i on its line. */
  const lineEnd = (i: number, e: number): void => {
    const j = skipSpaces(i, e);
    if (j < e && !(text.charCodeAt(j) === 0x23 && j > i)) bail();
  };

  /** A plain key is a string of the usual characters, short enough for an implicit key (else OUTSIDE). */
  const plainKey = (key: string): void => {
    if (!KEY.test(key) || key.length > 1000 || plainScalar(key) !== key) bail();
  };

  /** A quoted scalar at i (either quote), ending on its line: its value and the position after it. */
  const quoted = (i: number, e: number): [string, number] => {
    if (text[i] === "'") {
      let out = "";
      for (let from = i + 1; ; ) {
        const q = text.indexOf("'", from);
        if (q < 0 || q >= e) bail();
        if (q + 1 < e && text[q + 1] === "'") {
          out += text.slice(from, q + 1);
          from = q + 2;
          continue;
        }
        return [out + text.slice(from, q), q + 1];
      }
    }
    let out = "";
    let from = i + 1;
    for (let j = from; j < e; j++) {
      const ch = text[j];
      if (ch === '"') return [out + text.slice(from, j), j + 1];
      if (ch !== "\\") continue;
      out += text.slice(from, j);
      const next = text[j + 1] ?? "";
      const simple = Object.hasOwn(ESCAPES, next) ? ESCAPES[next] : undefined;
      if (simple !== undefined) {
        out += simple;
        j += 1;
      } else if (Object.hasOwn(HEX_LENGTH, next)) {
        const length = HEX_LENGTH[next]!;
        const hex = text.slice(j + 2, j + 2 + length);
        if (hex.length !== length || j + 2 + length > e || !/^[0-9a-fA-F]+$/.test(hex)) bail();
        const code = parseInt(hex, 16);
        if (code > 0x10ffff) bail();
        out += String.fromCodePoint(code);
        j += 1 + length;
      } else bail();
      from = j + 1;
    }
    return bail();
  };

  /** A plain scalar in a flow collection at i: its value and the position after it. */
  const flowPlain = (i: number, e: number): [unknown, number] => {
    const c = text[i]!;
    if (INDICATORS.includes(c) && !(c === "-" && i + 1 < e && !(" " + FLOW_INDICATORS).includes(text[i + 1]!))) bail();
    let j = i;
    let last = i;
    for (; j < e; j++) {
      const ch = text[j]!;
      if (FLOW_INDICATORS.includes(ch)) break;
      if (ch === ":" && (j + 1 === e || (" " + FLOW_INDICATORS).includes(text[j + 1]!))) bail();
      if (ch === " ") {
        if (text[j + 1] === "#") bail();
        continue;
      }
      last = j + 1;
    }
    return [plainScalar(text.slice(i, last)), j];
  };

  /** A flow collection or scalar at i, on one line: its value and the position after it. */
  const flowNode = (i: number, e: number): [unknown, number] => {
    const c = text[i];
    if ((c === "[" || c === "{") && depth >= MAX_DEPTH) bail();
    if (c === "[") {
      const list: unknown[] = [];
      let j = skipSpaces(i + 1, e);
      if (text[j] === "]") return [list, j + 1];
      for (;;) {
        depth++;
        const [value, after] = flowNode(j, e);
        depth--;
        list.push(value);
        j = skipSpaces(after, e);
        if (text[j] === "]") return [list, j + 1];
        if (text[j] !== ",") bail();
        j = skipSpaces(j + 1, e);
        if (j >= e || text[j] === "]") bail();
      }
    }
    if (c === "{") {
      const map: Record<string, unknown> = {};
      let j = skipSpaces(i + 1, e);
      if (text[j] === "}") return [map, j + 1];
      for (;;) {
        let key: string;
        if (text[j] === '"' || text[j] === "'") [key, j] = quoted(j, e);
        else {
          const colon = text.indexOf(": ", j);
          if (colon < 0 || colon >= e) bail();
          key = text.slice(j, colon);
          plainKey(key);
          j = colon;
        }
        if (text[j] !== ":" || text[j + 1] !== " ") bail();
        if (key === "__proto__" || Object.hasOwn(map, key)) bail();
        depth++;
        const [value, after] = flowNode(skipSpaces(j + 1, e), e);
        depth--;
        map[key] = value;
        j = skipSpaces(after, e);
        if (text[j] === "}") return [map, j + 1];
        if (text[j] !== ",") bail();
        j = skipSpaces(j + 1, e);
        if (j >= e || text[j] === "}") bail();
      }
    }
    if (c === '"' || c === "'") {
      const [value, after] = quoted(i, e);
      // A quoted scalar followed by ":" is a key: a one-pair mapping, left to `yaml`.
      if (text[skipSpaces(after, e)] === ":") bail();
      return [value, after];
    }
    if (i >= e) bail();
    return flowPlain(i, e);
  };

  /** The value that fills the rest of a line from i: a scalar or a flow collection. */
  const inlineValue = (i: number, e: number): unknown => {
    const c = text[i]!;
    if (c === "[" || c === "{" || c === '"' || c === "'") {
      const [value, after] = c === "[" || c === "{" ? flowNode(i, e) : quoted(i, e);
      lineEnd(after, e);
      return value;
    }
    if (INDICATORS.includes(c) && !(c === "-" && i + 1 < e && text[i + 1] !== " ")) bail();
    let last = i;
    for (let j = i; j < e; j++) {
      const ch = text[j]!;
      if (ch === " ") {
        if (text[j + 1] === "#") break;
        continue;
      }
      if (ch === ":" && (j + 1 === e || text[j + 1] === " ")) bail();
      if (FLOW_INDICATORS.includes(ch) && ch !== ",") bail();
      last = j + 1;
    }
    return plainScalar(text.slice(i, last));
  };

  /** A mapping key at i followed by ":" and a space or the line's end: the key and the position after ":". */
  const keyAt = (i: number, e: number): [string, number] | undefined => {
    const c = text[i];
    // A flow collection is a value here (as a key it is OUTSIDE: inlineValue stops at its ":").
    if (c === "[" || c === "{") return undefined;
    if (c === '"' || c === "'") {
      const [key, after] = quoted(i, e);
      if (text[after] !== ":" || (after + 1 < e && text[after + 1] !== " ")) return undefined;
      if (after - i > 1000) bail();
      return [key, after + 1];
    }
    for (let j = i; j < e; j++) {
      const ch = text[j];
      if (ch === "#" && text[j - 1] === " ") return undefined;
      if (ch !== ":" || (j + 1 < e && text[j + 1] !== " ")) continue;
      const key = text.slice(i, j);
      plainKey(key);
      return [key, j + 1];
    }
    return undefined;
  };

  const block = (): unknown => {
    if (++depth > MAX_DEPTH) bail();
    const value = isItem(li) ? sequence(indents[li]!) : mapping(indents[li]!);
    depth--;
    return value;
  };

  const mapping = (col: number): Record<string, unknown> => {
    const map: Record<string, unknown> = {};
    while (li < n) {
      const indent = indents[li]!;
      if (indent < col) break;
      if (indent > col) bail();
      if (isItem(li)) break;
      const e = ends[li]!;
      const key = keyAt(starts[li]!, e) ?? bail();
      if (key[0] === "__proto__" || Object.hasOwn(map, key[0])) bail();
      const v = skipSpaces(key[1], e);
      if (v < e && text.charCodeAt(v) !== 0x23) {
        map[key[0]] = inlineValue(v, e);
        li++;
        continue;
      }
      li++;
      if (li < n && indents[li]! > col) map[key[0]] = block();
      else if (li < n && indents[li] === col && isItem(li)) map[key[0]] = sequence(col);
      else map[key[0]] = null;
    }
    return map;
  };

  const sequence = (col: number): unknown[] => {
    const list: unknown[] = [];
    while (li < n) {
      const indent = indents[li]!;
      if (indent < col) break;
      if (indent > col) bail();
      if (!isItem(li)) break;
      const s = starts[li]!;
      const e = ends[li]!;
      const v = skipSpaces(s + 1, e);
      if (v === e || text.charCodeAt(v) === 0x23) {
        li++;
        list.push(li < n && indents[li]! > col ? block() : null);
        continue;
      }
      if (text[v] === "-" && (v + 1 === e || text[v + 1] === " ")) bail();
      if (keyAt(v, e)) {
        // A compact mapping ("- key: value"): its keys line up with the first one.
        indents[li] = indent + (v - s);
        starts[li] = v;
        list.push(mapping(indents[li]!));
        continue;
      }
      list.push(inlineValue(v, e));
      li++;
    }
    return list;
  };

  try {
    const value = block();
    return li === n ? value : OUTSIDE;
  } catch (e) {
    if (e === BAIL) return OUTSIDE;
    throw e;
  }
}
