/** The emitter round-trips through the real `yaml` parser, as YAML 1.1 (Argo CD, kubectl) and 1.2. */
import assert from "node:assert/strict";
import { join } from "node:path";
import { test } from "node:test";
import { parse } from "yaml";
import { canonical, toYaml } from "../../../src/contract/yaml.ts";
import { REPO, snapshot, exampleTree, manifests } from "../../support/helpers.ts";

/** The tests' own example repository, synthesized (test/support/helpers.ts). */
const EXAMPLE_ROOT = await exampleTree();

const TRICKY = [
  "yes",
  "no",
  "on",
  "off",
  "y",
  "n",
  "Y",
  "N",
  "true",
  "False",
  "null",
  "~",
  "",
  " ",
  " lead",
  "trail ",
  "0123",
  "0x1F",
  "0o17",
  "0b101",
  "1e3",
  "1E-3",
  ".5",
  "5.",
  "1_000",
  "+1",
  "-1",
  "1:20",
  "190:20:30",
  "2025-01-01",
  "2025-1-1 10:00:00",
  ".inf",
  "-.Inf",
  ".NaN",
  "200m",
  "1Gi",
  "500Mi",
  "-",
  "--store",
  "---",
  "- x",
  "-m",
  "a: b",
  "a:b",
  "a:",
  "a #b",
  "a#b",
  "#x",
  "&x",
  "*x",
  "!x",
  "|x",
  ">x",
  "'x",
  '"x',
  "%x",
  "@x",
  "`x",
  "{x}",
  "[x]",
  "x,y",
  "?x",
  ":x",
  "<<",
  "<x",
  "with 'quotes'",
  'with "double"',
  "tab\there",
  "line1\nline2\n",
  "no newline\nat end",
  "two\n\n",
  "\nleading newline",
  " indented\nblock",
  "trailing space \nline",
  "unicode ✓ é",
  "emoji 🚀",
  "ctrl \u0001 char",
  "cr\r\nlf",
  "metadata.labels['batch.kubernetes.io/job-name']",
  "15 */6 * * *",
  "arn:aws:iam::111122223333:role/x",
  "https://example.com/a?b=c#d",
  "C:\\path",
  "\\",
  "=",
  "1.2.3",
  "v1.2.3",
  "1.2.3-rc1",
  "0",
  "00",
  "12345678901234567890",
];

test("tricky strings survive a round trip as values, keys and list items, in YAML 1.1 and 1.2", () => {
  const doc = {
    values: Object.fromEntries(TRICKY.map((s, i) => [`k${i}`, s])),
    keys: Object.fromEntries(TRICKY.filter((s) => !s.includes("\n")).map((s) => [s, s])),
    list: TRICKY,
  };
  const text = toYaml(doc);
  for (const version of ["1.1", "1.2"] as const)
    assert.deepEqual(parse(text, { version }), canonical(doc), `YAML ${version}`);
});

test("numbers, booleans, null, empty collections and nesting", () => {
  const doc = {
    a: 1,
    b: -2.5,
    c: true,
    d: false,
    e: null,
    f: [],
    g: {},
    h: [[1, [2]], { x: [{}] }],
    i: [{ a: 1, b: [1, 2] }, "s"],
  };
  for (const version of ["1.1", "1.2"] as const) assert.deepEqual(parse(toYaml(doc), { version }), doc);
});

test("random strings round-trip (seeded, 5,000 cases)", () => {
  let seed = 42;
  const rand = () => (seed = (seed * 1103515245 + 12345) % 2 ** 31) / 2 ** 31;
  const alphabet = "aZ09 -_:#'\"\n\t.,[]{}&*!|>%@`?~=+/\\yesnoONOFFtrue0x1e.:é✓";
  const strings = Array.from({ length: 5000 }, () =>
    Array.from({ length: Math.floor(rand() * 12) }, () => alphabet[Math.floor(rand() * alphabet.length)]).join(""),
  );
  const doc = { list: strings, map: Object.fromEntries(strings.map((s, i) => [`${i}-${s.replace(/\n/g, "")}`, s])) };
  const text = toYaml(doc);
  for (const version of ["1.1", "1.2"] as const) assert.deepEqual(parse(text, { version }), canonical(doc));
});

test("every committed generated file parses back to the object it was written from", async () => {
  for (const [path, text] of await manifests(join(EXAMPLE_ROOT, "generated"))) {
    if (path === ".dagops-cache.json") continue; // JSON bookkeeping, not an object file
    const obj = parse(text, { version: "1.1" });
    assert.equal(toYaml(obj), text.slice(text.indexOf("\n") + 1), path);
  }
});

/**
 * What Go's YAML parser (Argo CD, kubectl) reads differently from the `yaml` package: raw NEL,
 * LS and PS are line breaks there (folded inside quotes), raw DEL, C1 controls, U+FFFE and U+FFFF
 * are refused, and so are \uD800-\uDFFF escapes. Emitted text must contain none of them.
 */
function goHazards(text: string): string[] {
  const found: string[] = [];
  for (const m of text.matchAll(/[\u007f-\u009f\u2028\u2029\ufffe\uffff]/g))
    found.push(`raw U+${m[0].charCodeAt(0).toString(16).padStart(4, "0")} at ${m.index}`);
  for (const m of text.matchAll(/\\u[dD][89abAB][0-9a-fA-F]{2}|\\u[dD][c-fC-F][0-9a-fA-F]{2}/g))
    found.push(`surrogate escape ${m[0]} at ${m.index}`);
  for (const m of text.matchAll(/[\ud800-\udbff](?![\udc00-\udfff])|(?<![\ud800-\udbff])[\udc00-\udfff]/g))
    found.push(`lone surrogate at ${m.index}`);
  return found;
}

const GO_SPECIAL = [
  "nel \u0085 in a line",
  "nel\u0085  followed by spaces",
  "ls \u2028 ps \u2029",
  "del \u007f",
  "c1 \u0080 \u009f",
  "nonchars \ufffe \uffff",
  "bom \ufeff inside",
  "multi\nline \u0085 nel\n",
  "multi\nline \u007f del\n",
  "emoji in a block 🚀\nsecond line\n",
];

test("characters Go's YAML parser treats specially are escaped: the round trip holds and Go reads the same", () => {
  const doc = {
    values: Object.fromEntries(GO_SPECIAL.map((s, i) => [`k${i}`, s])),
    keys: Object.fromEntries(GO_SPECIAL.filter((s) => !s.includes("\n")).map((s) => [s, s])),
    list: GO_SPECIAL,
  };
  const text = toYaml(doc);
  assert.deepEqual(goHazards(text), []);
  for (const version of ["1.1", "1.2"] as const)
    assert.deepEqual(parse(text, { version }), canonical(doc), `YAML ${version}`);
  assert.match(text, /"nel \\N in a line"/, "NEL as YAML's \\N escape");
  assert.match(text, /"ls \\L ps \\P"/);
  assert.match(text, /"del \\x7f"/);
  assert.match(
    text,
    /"emoji in a block 🚀\\nsecond line\\n"|\|\n\s+emoji in a block 🚀/,
    "a valid surrogate pair is ordinary text",
  );
});

test("a lone surrogate cannot be written: the serializer refuses it rather than emit U+FFFD", () => {
  assert.throws(() => toYaml({ a: "x\ud800y" }), /unpaired UTF-16 surrogate/);
  assert.throws(() => toYaml({ a: "multi\nline \udc00\n" }), /unpaired UTF-16 surrogate/);
});

test("random strings with the characters Go treats specially round-trip and stay Go-safe (seeded, 3,000 cases)", () => {
  let seed = 7;
  const rand = () => (seed = (seed * 1103515245 + 12345) % 2 ** 31) / 2 ** 31;
  const alphabet = [
    "a",
    " ",
    "\n",
    ":",
    "#",
    "\u0085",
    "\u2028",
    "\u2029",
    "\u007f",
    "\u0080",
    "\u009f",
    "\ufeff",
    "\ufffe",
    "\uffff",
    "é",
    "🚀",
    "\t",
    '"',
    "\\",
  ];
  const strings = Array.from({ length: 3000 }, () =>
    Array.from({ length: Math.floor(rand() * 10) }, () => alphabet[Math.floor(rand() * alphabet.length)]).join(""),
  );
  const text = toYaml({ list: strings });
  assert.deepEqual(goHazards(text), []);
  for (const version of ["1.1", "1.2"] as const) assert.deepEqual(parse(text, { version }), { list: strings });
});

test("every committed generated file is Go-safe", async () => {
  for (const [path, text] of await manifests(join(EXAMPLE_ROOT, "generated")))
    assert.deepEqual(goHazards(text), [], path);
});

test("a frozen part shared at several depths and positions is written as its unfrozen copy would be; a part not frozen all the way down is written afresh", () => {
  const freeze = <T>(v: T): T => {
    if (v !== null && typeof v === "object") {
      for (const x of Object.values(v)) freeze(x);
      Object.freeze(v);
    }
    return v;
  };
  const make = () => ({ name: "shared", b: [1, "two", { c: "line1\nline2\n" }], a: { z: null, y: ["yes"] } });
  const shared = freeze(make());
  const place = (part: unknown) => ({
    kind: "X",
    top: part,
    deep: { deeper: { list: [part, part, [part]] } },
    again: part,
  });
  assert.equal(toYaml(place(shared)), toYaml(place(make())));
  // Written a second time from what was remembered, still the same.
  assert.equal(toYaml(place(shared)), toYaml(place(make())));

  // Frozen at the top only: its insides may change between two writes, and the text follows.
  const shallow = Object.freeze({ inner: { value: "before" } });
  assert.match(toYaml({ x: shallow }), /value: before/);
  shallow.inner.value = "after";
  assert.match(toYaml({ x: shallow }), /value: after/);
});
