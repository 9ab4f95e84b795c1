/** The emitter round-trips through the real `yaml` parser, as YAML 1.1 (Argo CD, kubectl) and 1.2. */
import assert from "node:assert/strict";
import { join } from "node:path";
import { test } from "node:test";
import { parse } from "yaml";
import { canonical, toYaml } from "../charts/serialize.ts";
import { REPO, snapshot } from "./helpers.ts";

const TRICKY = [
  "yes", "no", "on", "off", "y", "n", "Y", "N", "true", "False", "null", "~", "", " ", " lead", "trail ", "0123", "0x1F", "0o17", "0b101", "1e3", "1E-3", ".5", "5.",
  "1_000", "+1", "-1", "1:20", "190:20:30", "2025-01-01", "2025-1-1 10:00:00", ".inf", "-.Inf", ".NaN", "200m", "1Gi", "500Mi", "-", "--store", "---", "- x", "-m",
  "a: b", "a:b", "a:", "a #b", "a#b", "#x", "&x", "*x", "!x", "|x", ">x", "'x", '"x', "%x", "@x", "`x", "{x}", "[x]", "x,y", "?x", ":x", "<<", "<x",
  "with 'quotes'", 'with "double"', "tab\there", "line1\nline2\n", "no newline\nat end", "two\n\n", "\nleading newline", " indented\nblock", "trailing space \nline",
  "unicode ✓ é", "emoji 🚀", "ctrl \u0001 char", "cr\r\nlf", "metadata.labels['batch.kubernetes.io/job-name']", "15 */6 * * *", "arn:aws:iam::111122223333:role/x",
  "https://example.com/a?b=c#d", "C:\\path", "\\", "=", "1.2.3", "v1.2.3", "1.2.3-rc1", "0", "00", "12345678901234567890",
];

test("tricky strings survive a round trip as values, keys and list items, in YAML 1.1 and 1.2", () => {
  const doc = { values: Object.fromEntries(TRICKY.map((s, i) => [`k${i}`, s])), keys: Object.fromEntries(TRICKY.filter((s) => !s.includes("\n")).map((s) => [s, s])), list: TRICKY };
  const text = toYaml(doc);
  for (const version of ["1.1", "1.2"] as const) assert.deepEqual(parse(text, { version }), canonical(doc), `YAML ${version}`);
});

test("numbers, booleans, null, empty collections and nesting", () => {
  const doc = { a: 1, b: -2.5, c: true, d: false, e: null, f: [], g: {}, h: [[1, [2]], { x: [{}] }], i: [{ a: 1, b: [1, 2] }, "s"] };
  for (const version of ["1.1", "1.2"] as const) assert.deepEqual(parse(toYaml(doc), { version }), doc);
});

test("random strings round-trip (seeded, 5,000 cases)", () => {
  let seed = 42;
  const rand = () => ((seed = (seed * 1103515245 + 12345) % 2 ** 31) / 2 ** 31);
  const alphabet = "aZ09 -_:#'\"\n\t.,[]{}&*!|>%@`?~=+/\\yesnoONOFFtrue0x1e.:é✓";
  const strings = Array.from({ length: 5000 }, () => Array.from({ length: Math.floor(rand() * 12) }, () => alphabet[Math.floor(rand() * alphabet.length)]).join(""));
  const doc = { list: strings, map: Object.fromEntries(strings.map((s, i) => [`${i}-${s.replace(/\n/g, "")}`, s])) };
  const text = toYaml(doc);
  for (const version of ["1.1", "1.2"] as const) assert.deepEqual(parse(text, { version }), canonical(doc));
});

test("every committed generated file parses back to the object it was written from", async () => {
  for (const [path, text] of await snapshot(join(REPO, "generated"))) {
    const obj = parse(text, { version: "1.1" });
    assert.equal(toYaml(obj), text.slice(text.indexOf("\n") + 1), path);
  }
});
