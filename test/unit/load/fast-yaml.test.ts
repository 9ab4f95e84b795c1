/**
 * The fast reader (js-yaml, src/load/fast-yaml.ts) against `yaml` itself: whatever text it
 * reads, it reads as `yaml` does (same value, same key order), and every text `yaml` refuses or
 * warns about, and every anchor, alias and tag, it leaves to `yaml` (OUTSIDE). Held on the repository's own definitions, the bench's, the fuzzer's cases, thousands
 * of random documents written in every style YAML allows (some of which do not mean what they
 * seem), each of those mutated character by character, and a list of YAML's known traps.
 */
import assert from "node:assert/strict";
import { readdirSync, readFileSync } from "node:fs";
import { join } from "node:path";
import { test } from "node:test";
import { parseDocument } from "yaml";
import { syntheticPipeline, syntheticTemplate, syntheticTenants } from "../../../src/bench/bench.ts";
import { OUTSIDE, READ_OPTIONS, readFastYaml } from "../../../src/load/fast-yaml.ts";
import { pipelineCase, random } from "../../support/fuzz.ts";

const ROOT = join(import.meta.dirname, "../../..");

/** What `yaml` makes of a text: its value, or undefined when it reports an error or a warning. */
function yamlValue(text: string): { value: unknown } | undefined {
  const doc = parseDocument(text, READ_OPTIONS);
  if (doc.errors.length > 0 || doc.warnings.length > 0) return undefined;
  try {
    return { value: doc.toJS({ maxAliasCount: 20 }) };
  } catch {
    return undefined;
  }
}

/** Checks the reader against `yaml` on one text; returns whether the reader took it. */
function agrees(text: string): boolean {
  const fast = readFastYaml(text);
  if (fast === OUTSIDE) return false;
  const slow = yamlValue(text);
  assert.ok(slow, `the reader took a text yaml refuses:\n${text}`);
  assert.deepStrictEqual(fast, slow.value, `the reader and yaml disagree on:\n${text}`);
  // Key order, which deepStrictEqual does not compare.
  assert.equal(JSON.stringify(fast), JSON.stringify(slow.value), `key order differs on:\n${text}`);
  return true;
}

test("the fast reader reads every YAML definition of the example, and the bench's, as yaml does", () => {
  const files = readdirSync(join(ROOT, "test/fixtures/example/pipelines")).filter((f) => f.endsWith(".yaml"));
  assert.ok(files.length >= 3);
  for (const f of files)
    assert.ok(
      agrees(readFileSync(join(ROOT, "test/fixtures/example/pipelines", f), "utf8")),
      `pipelines/${f} is read by yaml, not the fast reader`,
    );
  for (let i = 0; i < 50; i++) assert.ok(agrees(syntheticPipeline(i, 15)));
  assert.ok(agrees(syntheticTemplate(15)));
  assert.ok(agrees(syntheticTenants(200)));
});

test("the fast reader agrees with yaml on the fuzzer's pipeline cases", () => {
  const rand = random(7);
  let taken = 0;
  for (let i = 0; i < 1500; i++) if (agrees(pipelineCase(rand))) taken++;
  assert.ok(taken > 500, `the reader took only ${taken} of 1500 cases`);
});

// Scalars that mean something else than they seem, or that YAML readers disagree on.
const SCALARS = [
  "x",
  "etl",
  "a b",
  "a  b",
  "a:b",
  "a: b",
  "a #b",
  "a#b",
  "a,b",
  "a, b",
  "[a]",
  "{a}",
  "a]",
  "a}",
  "-",
  "-a",
  "- a",
  "--",
  "---",
  "...",
  "?",
  "?a",
  ":",
  ":a",
  "~",
  "null",
  "Null",
  "NULL",
  "nULL",
  "",
  " ",
  " a",
  "a ",
  "true",
  "True",
  "TRUE",
  "tRUE",
  "false",
  "yes",
  "no",
  "on",
  "off",
  "y",
  "n",
  "0",
  "-0",
  "+0",
  "00",
  "012",
  "0o17",
  "0o8",
  "0x1F",
  "0X1F",
  "0x",
  "0b101",
  "1_000",
  "1e3",
  "1E3",
  "1e+3",
  "-1.5e-3",
  ".5",
  "5.",
  "-.5",
  "+.5",
  "1.0",
  "1.50",
  ".inf",
  "-.Inf",
  "+.INF",
  ".nan",
  ".NaN",
  "-.nan",
  "inf",
  "NaN",
  "1:20",
  "12:30:45",
  "2026-12-02",
  "9007199254740993",
  "123456789012345678901234567890",
  "'",
  "''",
  '"',
  "a'b",
  'a"b',
  "'a'",
  '"a"',
  "\\",
  "\\n",
  "é",
  "日本",
  "🚀",
  "#",
  "a #",
  "&a",
  "*a",
  "!a",
  "!!str a",
  "|",
  ">",
  "%a",
  "@a",
  "`a",
  "<<",
  "arn:aws:iam::111122223333:role/x",
  "111122223333.dkr.ecr.us-east-1.amazonaws.com/a:1.0.0",
  "postgres://u:p@h/db",
  "0 3 * * *",
  "*/5 * * * *",
  "H H/4 * * *",
  "300Mi",
  "200m",
  "45m",
];
const KEYS = [
  "name",
  "a",
  "b",
  "steps",
  "x-y",
  "a.b",
  "a/b",
  "a_b",
  "1",
  "0x1",
  "true",
  "null",
  "~",
  "a b",
  "a:b",
  "__proto__",
  "constructor",
  "toString",
  "-a",
  ".a",
  "'a'",
  "é",
  "x".repeat(1100),
];

/** A random value for the writer below. */
function randomValue(rand: () => number, depth = 0): unknown {
  const pick = <T>(xs: readonly T[]): T => xs[Math.floor(rand() * xs.length)]!;
  const r = rand();
  if (r < 0.45 || depth > 3) return pick(SCALARS);
  if (r < 0.5) return pick([0, 1, -1, 0.5, 2 ** 53, true, false, null]);
  if (r < 0.75) return Array.from({ length: Math.floor(rand() * 4) }, () => randomValue(rand, depth + 1));
  return Object.fromEntries(
    Array.from({ length: Math.floor(rand() * 4) }, () => [pick(KEYS), randomValue(rand, depth + 1)]),
  );
}

/**
 * Writes a value as YAML in a random style: block or flow collections, plain, single- or
 * double-quoted scalars, escapes, comments, odd indents and spacing. Nothing keeps the text
 * meaning the value (a scalar written plain may be a number, a key, a comment): the tests
 * compare the reader with `yaml` on the text, whatever it means.
 */
function writeRandom(rand: () => number, value: unknown): string {
  const pick = <T>(xs: readonly T[]): T => xs[Math.floor(rand() * xs.length)]!;
  const scalar = (v: unknown): string => {
    if (typeof v !== "string") return String(v);
    const r = rand();
    if (r < 0.6) return v;
    if (r < 0.75) return `'${v.replace(/'/g, "''")}'`;
    if (r < 0.85) return JSON.stringify(v);
    // Double-quoted with YAML's own escapes.
    return `"${[...v].map((c) => (rand() < 0.3 ? pick([`\\x${c.charCodeAt(0).toString(16).padStart(2, "0")}`, `\\u${c.charCodeAt(0).toString(16).padStart(4, "0")}`, "\\_", "\\/", "\\ ", "\\N", "\\L"]) : c === '"' ? '\\"' : c === "\\" ? "\\\\" : c)).join("")}"`;
  };
  const comment = (): string => (rand() < 0.1 ? pick([" # note", "  #x", " #", "#x"]) : "");
  const flow = (v: unknown): string => {
    if (Array.isArray(v)) return `[${v.map(flow).join(pick([", ", ",", " , "]))}${rand() < 0.03 ? "," : ""}]`;
    if (v !== null && typeof v === "object")
      return `{${pick(["", " "])}${Object.entries(v)
        .map(([k, x]) => `${scalar(k)}${pick([": ", ": ", ":", " : "])}${flow(x)}`)
        .join(", ")}${pick(["", " "])}}`;
    return scalar(v);
  };
  const lines: string[] = [];
  const block = (v: unknown, indent: number, lead: string): void => {
    const pad = " ".repeat(indent);
    if (Array.isArray(v) && v.length > 0 && rand() < 0.8) {
      v.forEach((x, i) => {
        const first = i === 0 ? lead : pad;
        if (x !== null && typeof x === "object" && Object.keys(x).length > 0 && rand() < 0.8) {
          const gap = pick([" ", " ", "  ", "   "]);
          block(x, indent + 1 + gap.length, `${first}-${gap}`);
        } else if (x !== null && typeof x === "object" && rand() < 0.5) {
          lines.push(`${first}-${comment()}`);
          block(x, indent + pick([2, 4]), " ".repeat(indent + 2));
        } else lines.push(`${first}- ${flow(x)}${comment()}`);
      });
      return;
    }
    if (v !== null && typeof v === "object" && !Array.isArray(v) && Object.keys(v).length > 0 && rand() < 0.8) {
      Object.entries(v).forEach(([k, x], i) => {
        const first = i === 0 ? lead : pad;
        const key = scalar(k);
        if (
          x !== null &&
          typeof x === "object" &&
          (Array.isArray(x) ? x.length : Object.keys(x).length) > 0 &&
          rand() < 0.7
        ) {
          lines.push(`${first}${key}:${comment()}`);
          if (rand() < 0.2) lines.push(pick(["", "# between", `${pad}  # indented`]));
          // A sequence may sit at its key's own indent.
          const deeper = Array.isArray(x) && rand() < 0.3 ? indent : indent + pick([1, 2, 2, 4]);
          block(x, deeper, " ".repeat(deeper));
        } else
          lines.push(
            `${first}${key}:${pick([" ", " ", "  "])}${x === null && rand() < 0.5 ? "" : flow(x)}${comment()}`,
          );
      });
      return;
    }
    lines.push(`${lead}${flow(v)}`);
  };
  if (rand() < 0.1) lines.push(pick(["# yaml-language-server: $schema=../schema/pipeline.schema.json", "", "   "]));
  block(value, rand() < 0.05 ? 2 : 0, rand() < 0.05 ? "  " : "");
  return lines.join("\n") + pick(["\n", "\n", "", "\n\n"]);
}

test("the fast reader agrees with yaml on random documents in every style, and on each of them mutated", () => {
  const rand = random(12);
  const pick = <T>(xs: readonly T[]): T => xs[Math.floor(rand() * xs.length)]!;
  // Per kind: documents yaml reads cleanly, and of those the ones the reader took.
  const count = { clean: { read: 0, taken: 0 }, mutated: { read: 0, taken: 0 } };
  const tally = (kind: keyof typeof count, text: string) => {
    if (yamlValue(text)) count[kind].read++;
    if (agrees(text)) count[kind].taken++;
  };
  for (let i = 0; i < 3000; i++) {
    const root =
      rand() < 0.7
        ? Object.fromEntries(
            Array.from({ length: 1 + Math.floor(rand() * 4) }, () => [pick(KEYS.slice(0, 7)), randomValue(rand)]),
          )
        : [randomValue(rand), randomValue(rand)];
    const text = writeRandom(rand, root);
    tally("clean", text);
    // A character inserted, deleted or replaced: what a hand edit gets wrong.
    for (let m = 0; m < 3; m++) {
      const at = Math.floor(rand() * (text.length + 1));
      const ch = pick([
        " ",
        "  ",
        "\n",
        "\t",
        "#",
        ":",
        "-",
        "'",
        '"',
        "[",
        "]",
        "{",
        "}",
        ",",
        "\\",
        "&",
        "*",
        "!",
        "?",
        "|",
        ">",
        "a",
        "0",
        "\r\n",
        "\ufeff",
        "\u2028",
      ]);
      const r = rand();
      tally(
        "mutated",
        r < 0.4
          ? text.slice(0, at) + ch + text.slice(at)
          : r < 0.7
            ? text.slice(0, at) + text.slice(at + 1)
            : text.slice(0, at) + ch + text.slice(at + 1),
      );
    }
  }
  // Both paths exercised: the writer's styles are hostile on purpose (flow roots, keys that are
  // numbers, ":" without a space), so the reader leaves many to yaml, and still takes a good share.
  for (const kind of ["clean", "mutated"] as const)
    assert.ok(
      count[kind].taken > count[kind].read / 4,
      `${kind}: the reader took ${count[kind].taken} of the ${count[kind].read} documents yaml reads`,
    );
});

test("the fast reader leaves anchors, aliases, tags, duplicate keys, several documents and every error to yaml; what else it takes, it reads as yaml does", () => {
  const outside = [
    "a: &x 1\nb: *x\n", // anchors and aliases
    "a: &x [1]\n",
    "a: !!str 1\n", // tags
    "a: !custom 1\n",
    "a: 1\na: 2\n", // a duplicate key
    'a: 1\n"a": 2\n',
    "a: 1\n---\nb: 2\n", // two documents
    "", // no document
    "# only a comment\n",
    "a: 'b\n", // unclosed quotes
    'a: "\\q"\n', // an unknown escape
    "a: b: c\n",
    "a: 1\n b: 2\n", // a bad indent
    `a: ${"[".repeat(10_000)}${"]".repeat(10_000)}\n`, // nesting too deep to read (yaml stops it)
  ];
  for (const text of outside) assert.equal(readFastYaml(text), OUTSIDE, JSON.stringify(text));
  // YAML's other constructs: taken or left, but never read otherwise than yaml reads them.
  const either = [
    "a: |\n  text\n", // block scalars
    "a: >\n  text\n",
    "a: one\n  two\n", // a multi-line plain scalar
    'a: "one\n  two"\n',
    "a: [1,\n  2]\n",
    "? a\n: 1\n", // an explicit key
    "---\na: 1\n", // document markers
    "a: 1\n...\n",
    "%YAML 1.2\n---\na: 1\n",
    "a:\t1\n", // a tab
    "a: 1\r\nb: 2\r\n", // CRLF
    "\ufeffa: 1\n", // a byte-order mark
    "<<: {a: 1}\n", // a merge key (a plain key under the options)
    "- - a\n",
    "a: [b, ]\n",
    "a: {b}\n",
    "a: [b: c]\n",
    "just a scalar\n",
    "__proto__: 1\n",
    "1: one\n",
    "true: yes\n",
    Array.from({ length: 200 }, (_, i) => `${" ".repeat(i)}k:`).join("\n"),
  ];
  for (const text of either) agrees(text);
  // And a few it takes, each as yaml reads it.
  const inside = [
    "a: 1\nb: [x, 'y', \"z\"]\nc: {d: e, f: [1, 2]}\n",
    "steps:\n- name: a\n  command: [run, a]\n- name: b\n  dependsOn: [a]\n",
    "a:\n  - 1\n  -\n  - x: 1\n    y: [2]\n",
    "- a: 1\n  b:\n  - 2\n",
    "a: 'it''s'  # a comment\nb: \"tab\\there \\u00e9 \\x41 \\U0001F680\"\n",
    "a: ~\nb:\nc: ''\nd: -1.5e3\ne: 0o17\nf: 0x1F\ng: .inf\nh: 012\ni: 1_000\n",
    "a: arn:aws:iam::111122223333:role/x\nb: [a:b, c]\n",
    "  a: 1\n  b: 2\n",
  ];
  for (const text of inside) assert.ok(agrees(text), JSON.stringify(text));
});
