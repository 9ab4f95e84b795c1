/**
 * Definitions are read with js-yaml first: it reads them several times faster than `yaml`, and
 * allocates far less. `yaml` stays for everything else: the error messages and their positions,
 * and any document that uses YAML beyond plain data.
 *
 * The fast path takes a document only when it is one document of plain data: no anchor, alias or
 * tag (js-yaml's core schema would resolve them in its own way), no duplicate key (js-yaml
 * refuses those, and `yaml` then says where). For such a document both libraries give the same
 * value under the YAML 1.2 core schema; `test/unit/load/fast-yaml.test.ts` holds them to it on every YAML
 * file of the repository and on thousands of random documents.
 */
import { CORE_SCHEMA, constructFromEvents, EVENT_ID, parseEvents, SCALAR_STYLE_PLAIN } from "js-yaml";

/** Plain scalars the core schema reads as something else than a string: as mapping keys the two libraries name them differently. */
const NOT_A_STRING =
  /^(?:~|null|Null|NULL|true|True|TRUE|false|False|FALSE|[-+]?(?:[0-9][0-9_]*|0o[0-7]+|0x[0-9a-fA-F]+|\.[0-9]+|[0-9]+\.[0-9]*|(?:\.[0-9]+|[0-9]+(?:\.[0-9]*)?)[eE][-+]?[0-9]+)|[-+]?\.(?:inf|Inf|INF)|\.(?:nan|NaN|NAN))?$/;

/**
 * The options definitions are read with by `yaml` (the YAML 1.2 core schema: no custom tags, no
 * merge keys, duplicate keys refused; its warnings are the loader's to report, not printed).
 */
export const READ_OPTIONS = {
  schema: "core",
  merge: false,
  uniqueKeys: true,
  strict: true,
  prettyErrors: false,
  logLevel: "error",
} as const;

/** What readFastYaml answers for a text it leaves to `yaml`. */
export const OUTSIDE: unique symbol = Symbol("outside plain data");

/** The value of a one-document text of plain data, as `yaml` would read it with READ_OPTIONS; OUTSIDE for any other text. */
export function readFastYaml(text: string): unknown {
  // A byte-order mark: the two libraries place it differently.
  if (text.includes("\uFEFF")) return OUTSIDE;
  let events;
  try {
    events = parseEvents(text, { maxDepth: 64 });
  } catch {
    return OUTSIDE;
  }
  let documents = 0;
  // Each open collection, and how many nodes it holds so far: in a mapping, every other one is a key.
  const open: { mapping: boolean; nodes: number }[] = [];
  for (const e of events) {
    if (e.type === EVENT_ID.DOCUMENT) documents++;
    else if (e.type === EVENT_ID.POP) open.pop();
    else if (e.type === EVENT_ID.ALIAS || e.anchorStart !== -1 || e.tagStart !== -1) return OUTSIDE;
    else {
      const parent = open.at(-1);
      const key = parent?.mapping === true && parent.nodes % 2 === 0;
      if (parent) parent.nodes++;
      if (e.type === EVENT_ID.SCALAR) {
        // A key such as `null` or `1`: js-yaml and `yaml` turn it into different strings.
        if (key && e.style === SCALAR_STYLE_PLAIN && NOT_A_STRING.test(text.slice(e.valueStart, e.valueEnd)))
          return OUTSIDE;
        // YAML limits an implicit key to 1024 characters; `yaml` holds to it, js-yaml does not.
        if (key && e.valueEnd - e.valueStart > 1000) return OUTSIDE;
      } else {
        if (key) return OUTSIDE; // a collection as a key
        open.push({ mapping: e.type === EVENT_ID.MAPPING, nodes: 0 });
      }
    }
  }
  if (documents !== 1) return OUTSIDE;
  try {
    return constructFromEvents(events, { source: text, schema: CORE_SCHEMA })[0];
  } catch {
    return OUTSIDE;
  }
}
