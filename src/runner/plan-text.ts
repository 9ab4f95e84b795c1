/**
 * Reads a plan's YAML without a memory spike. The `yaml` parser allocates many times the text
 * while it builds its document (docs/benchmarks.md, "The run manager at scale"), which pushes a
 * 256 MiB Fargate pod towards its limit before a large run starts. Plans are
 * written by dagops's own serializer, one top-level key per line at column 0 and each step an
 * item at column 2, so each step can be parsed on its own: the garbage of one step dies young.
 * Any text that does not have that layout is parsed whole, so the result is always what
 * `parse(text)` gives (a test compares them).
 */
import { parse } from "yaml";

const OPTIONS = { version: "1.1" } as const;

/** The sections of a top-level key whose value is a block sequence, split per item. */
const SPLIT_KEYS = new Set(["steps", "placeholders"]);

/** The text split into its top-level lines and, per split key, one text per item; undefined when the layout is not the serializer's. */
export function planSections(
  text: string,
): { rest: string; sequences: { key: string; items: string[] }[] } | undefined {
  const rest: string[] = [];
  const sequences: { key: string; items: string[][] }[] = [];
  let current: { key: string; items: string[][] } | undefined;
  for (const line of text.split("\n")) {
    const top = /^([A-Za-z][\w-]*):\s*$/.exec(line);
    if (top && SPLIT_KEYS.has(top[1]!)) {
      current = { key: top[1]!, items: [] };
      sequences.push(current);
      continue;
    }
    if (current) {
      if (line.startsWith("  - ")) {
        current.items.push([line]);
        continue;
      }
      if (line === "" || line.startsWith("    ")) {
        if (!current.items.length) return undefined;
        current.items.at(-1)!.push(line);
        continue;
      }
      if (/^\S/.test(line) && !line.startsWith("#") && !line.startsWith("-")) current = undefined;
      else return undefined;
    }
    rest.push(line);
  }
  if (!sequences.length) return undefined;
  return {
    rest: rest.join("\n"),
    sequences: sequences.map((q) => ({ key: q.key, items: q.items.map((i) => i.join("\n")) })),
  };
}

export function parsePlanText(text: string): unknown {
  const sections = planSections(text);
  if (!sections) return parse(text, OPTIONS);
  const doc = parse(sections.rest, OPTIONS) as Record<string, unknown> | null;
  if (doc === null || typeof doc !== "object" || Array.isArray(doc)) return parse(text, OPTIONS);
  for (const { key, items } of sections.sequences) {
    if (key in doc) return parse(text, OPTIONS); // a key twice: let the parser report it
    const parsed: unknown[] = [];
    for (const item of items) {
      let one: unknown;
      try {
        one = parse(item, OPTIONS);
      } catch {
        return parse(text, OPTIONS); // an alias to another item, say: the whole text decides
      }
      if (!Array.isArray(one) || one.length !== 1) return parse(text, OPTIONS);
      parsed.push(one[0]);
    }
    doc[key] = parsed;
  }
  // Keys in the order of the text, as the parser would give them.
  const order = [...text.matchAll(/^([A-Za-z][\w-]*):/gm)].map((m) => m[1]!);
  return Object.fromEntries([...new Set(order)].filter((k) => k in doc).map((k) => [k, doc[k]]));
}
