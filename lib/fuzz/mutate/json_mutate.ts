/**
 * Structure-aware mutation for methods whose input is JSON: the input is
 * parsed, one to three edits are made at nodes picked over the whole tree
 * (numbers pushed to boundaries, strings given quotes, escapes, controls,
 * non-ASCII or length, types swapped, keys added, removed, renamed or
 * duplicated, elements inserted, removed, duplicated or swapped, values
 * nested or unnested), and the result is written back as JSON, now and then
 * with another layout. The output is always valid JSON, so the plugin's
 * logic is reached rather than its parser's first error.
 *
 * @example
 * ```ts
 * import assert from "node:assert/strict";
 * import { Prng } from "../../util/prng.ts";
 * import { mutateJson } from "./json_mutate.ts";
 * const trace: string[] = [];
 * const out = mutateJson(new Prng(1), new TextEncoder().encode('{"a":[1,2]}'), 4096, [], trace)!;
 * JSON.parse(new TextDecoder().decode(out)); // always parses
 * assert.ok(trace.length >= 1);
 * ```
 *
 * @module
 */
import type { Prng } from "../../util/prng.ts";
import {
  type JsonArray,
  type JsonLayout,
  type JsonNode,
  type JsonObject,
  parseJsonTree,
  serializeJson,
} from "./json_tree.ts";
import { JsonValues } from "./json_values.ts";

/** The edits {@link mutateJson} makes (and reports through its `trace`); "Reformat" is a layout change. */
export const JSON_MUTATIONS: readonly string[] = [
  "ChangeNumber",
  "ChangeString",
  "FlipBoolean",
  "ChangeType",
  "AddKey",
  "RemoveKey",
  "RenameKey",
  "DuplicateKey",
  "InsertElement",
  "RemoveElement",
  "DuplicateElement",
  "SwapElements",
  "Nest",
  "Unnest",
  "Reformat",
];

const LAYOUTS: JsonLayout[] = [
  { indent: "  " },
  { indent: "\t" },
  { indent: "    ", newline: "\r\n" },
  { colon: ": ", comma: ", " },
  { colon: " : ", comma: " , ", pad: " " },
  { pad: "\n" },
  { indent: " ", colon: ":", pad: "\r\n\t" },
  {},
];
const KINDS: JsonNode["kind"][] = ["number", "string", "boolean", "null", "array", "object"];
const JSON_NUMBER = /^-?(?:0|[1-9][0-9]*)(?:\.[0-9]+)?(?:[eE][+-]?[0-9]+)?$/;
/** Attempts at a result that fits `maxLen` before giving up. */
const ATTEMPTS = 3;

const utf8 = new TextDecoder("utf-8", { fatal: true, ignoreBOM: true });
const lenient = new TextDecoder();
const encoder = new TextEncoder();
const wordCache = new WeakMap<readonly Uint8Array[], string[]>();

/**
 * A mutation of the JSON document `input`, as UTF-8 bytes (at most `maxLen`
 * of them), drawing every choice from `prng`; undefined when `input` is not
 * UTF-8 JSON or no result fits in `maxLen`. Dictionary words (decoded as
 * UTF-8) become strings and keys. The names of the edits made are pushed to
 * `trace` when given (see {@link JSON_MUTATIONS}).
 */
export function mutateJson(
  prng: Prng,
  input: Uint8Array,
  maxLen: number,
  dictionary: readonly Uint8Array[] = [],
  trace?: string[],
): Uint8Array<ArrayBuffer> | undefined {
  let text: string;
  try {
    text = utf8.decode(input);
  } catch {
    return undefined;
  }
  let words = wordCache.get(dictionary);
  if (words === undefined) wordCache.set(dictionary, words = dictionary.map((w) => lenient.decode(w)));
  const traceStart = trace?.length ?? 0;
  for (let attempt = 0; attempt < ATTEMPTS; attempt++) {
    const root = parseJsonTree(text);
    if (root === undefined) return undefined;
    if (trace !== undefined) trace.length = traceStart;
    const edit = new JsonEdit(prng, words, Math.max(0, maxLen - input.length), trace);
    const out = serializeJson(edit.run(root), edit.layout());
    if (out.length > maxLen) continue; // a UTF-8 encoding is never shorter than its UTF-16 text
    const bytes = encoder.encode(out);
    if (bytes.length <= maxLen) return bytes;
  }
  if (trace !== undefined) trace.length = traceStart;
  return undefined;
}

/** Where a node sits: its container and index there (the root sits in a holder array). */
interface Site {
  parent: JsonArray | JsonObject;
  index: number;
  node: JsonNode;
}

/** One mutation of one document. */
class JsonEdit {
  readonly #values: JsonValues;

  constructor(readonly prng: Prng, words: readonly string[], room: number, readonly trace: string[] | undefined) {
    this.#values = new JsonValues(prng, words, room);
  }

  /** Makes 1 to 3 edits to the document `root` and returns its new root. */
  run(root: JsonNode): JsonNode {
    const holder: JsonArray = { kind: "array", items: [root] };
    for (let n = 1 + this.#below(3); n > 0; n--) {
      const sites = collect(holder);
      const name = this.#edit(sites[this.#below(sites.length)]!, sites);
      this.trace?.push(name);
    }
    return holder.items[0]!;
  }

  /** The layout to write the result with: the compact one three times in four. */
  layout(): JsonLayout {
    if (this.#below(4) !== 0) return {};
    this.trace?.push("Reformat");
    const layout = { ...this.#pick(LAYOUTS) };
    if (this.#below(2) === 0 || Object.keys(layout).length === 0) layout.asciiOnly = true;
    return layout;
  }

  #below(n: number): number {
    return this.prng.below(n);
  }

  #pick<T>(list: readonly T[]): T {
    return list[this.#below(list.length)]!;
  }

  /** Edits the node at `site` (`sites`: every node, for copies); returns the edit's name. */
  #edit(site: Site, sites: Site[]): string {
    const node = site.node;
    const r = this.#below(8);
    if (r === 6 || (r === 5 && node.kind === "null")) {
      put(site, this.#changeType(node));
      return "ChangeType";
    }
    if (r === 7) {
      put(site, this.#below(2) === 0 ? array([node]) : object([{ key: this.#values.key(), value: node }]));
      return "Nest";
    }
    switch (node.kind) {
      case "number":
        node.text = this.#values.number(node.text);
        return "ChangeNumber";
      case "string":
        node.value = this.#values.string(node.value);
        return "ChangeString";
      case "boolean":
        node.value = !node.value;
        return "FlipBoolean";
      case "null":
        put(site, this.#changeType(node));
        return "ChangeType";
      case "array":
        return this.#editArray(site, node, sites);
      case "object":
        return this.#editObject(site, node, sites);
    }
  }

  #editArray(site: Site, node: JsonArray, sites: Site[]): string {
    const items = node.items, n = items.length;
    const op = n === 0 ? 0 : this.#below(n === 1 ? 4 : 5);
    if (op === 0) {
      items.splice(this.#below(n + 1), 0, this.#below(2) === 0 ? this.#values.fresh() : clone(this.#pick(sites).node));
      return "InsertElement";
    }
    const i = this.#below(n);
    if (op === 1) {
      items.splice(i, 1);
      return "RemoveElement";
    }
    if (op === 2) {
      const copies = this.#below(4) === 0 ? 2 + this.#below(15) : 1;
      items.splice(i + 1, 0, ...Array.from({ length: copies }, () => clone(items[i]!)));
      return "DuplicateElement";
    }
    if (op === 3) {
      put(site, items[i]!);
      return "Unnest";
    }
    const j = (i + 1 + this.#below(n - 1)) % n;
    [items[i], items[j]] = [items[j]!, items[i]!];
    return "SwapElements";
  }

  #editObject(site: Site, node: JsonObject, sites: Site[]): string {
    const entries = node.entries, n = entries.length;
    const op = n === 0 ? 0 : this.#below(5);
    if (op === 0) {
      const value = this.#below(3) === 0 ? clone(this.#pick(sites).node) : this.#values.fresh();
      entries.splice(this.#below(n + 1), 0, { key: this.#values.key(), value });
      return "AddKey";
    }
    const i = this.#below(n), entry = entries[i]!;
    if (op === 1) {
      entries.splice(i, 1);
      return "RemoveKey";
    }
    if (op === 2) {
      const key = this.#values.key(entry.key);
      entry.key = key === entry.key ? key + "_" : key;
      return "RenameKey";
    }
    if (op === 3) {
      const value = this.#below(2) === 0 ? clone(entry.value) : this.#values.fresh();
      entries.splice(this.#below(n + 1), 0, { key: entry.key, value });
      return "DuplicateKey";
    }
    put(site, entry.value);
    return "Unnest";
  }

  /** `node` turned into a value of another type (keeping what can be kept: a number's text, an array's elements...). */
  #changeType(node: JsonNode): JsonNode {
    const kinds = KINDS.filter((k) => k !== node.kind);
    switch (this.#pick(kinds)) {
      case "number":
        if (node.kind === "string" && JSON_NUMBER.test(node.value)) return { kind: "number", text: node.value };
        if (node.kind === "boolean") return { kind: "number", text: node.value ? "1" : "0" };
        return { kind: "number", text: this.#values.boundaryNumber() };
      case "string": {
        if (node.kind === "number") return { kind: "string", value: node.text };
        if (node.kind === "boolean" || node.kind === "null") return { kind: "string", value: serializeJson(node) };
        // a container: its JSON, as a string, or a new string
        return { kind: "string", value: this.#below(2) === 0 ? serializeJson(node) : this.#values.string("") };
      }
      case "boolean":
        return { kind: "boolean", value: this.#below(2) === 0 };
      case "null":
        return { kind: "null" };
      case "array":
        if (node.kind === "object") return array(node.entries.map((e) => e.value));
        return array(this.#below(2) === 0 ? [] : [this.#values.fresh()]);
      default:
        if (node.kind === "array") return object(node.items.map((value, i) => ({ key: String(i), value })));
        return object(this.#below(2) === 0 ? [] : [{ key: this.#values.key(), value: this.#values.fresh() }]);
    }
  }
}

/** Every node under `holder` (the holder itself excluded), with where it sits. */
function collect(holder: JsonArray): Site[] {
  const sites: Site[] = [];
  const todo: (JsonArray | JsonObject)[] = [holder];
  for (let parent = todo.pop(); parent !== undefined; parent = todo.pop()) {
    const n = parent.kind === "array" ? parent.items.length : parent.entries.length;
    for (let index = 0; index < n; index++) {
      const node = parent.kind === "array" ? parent.items[index]! : parent.entries[index]!.value;
      sites.push({ parent, index, node });
      if (node.kind === "array" || node.kind === "object") todo.push(node);
    }
  }
  return sites;
}

function put(site: Site, node: JsonNode): void {
  if (site.parent.kind === "array") site.parent.items[site.index] = node;
  else site.parent.entries[site.index]!.value = node;
}

function array(items: JsonNode[]): JsonArray {
  return { kind: "array", items };
}

function object(entries: JsonObject["entries"]): JsonObject {
  return { kind: "object", entries };
}

function clone(node: JsonNode): JsonNode {
  switch (node.kind) {
    case "array":
      return array(node.items.map(clone));
    case "object":
      return object(node.entries.map((e) => ({ key: e.key, value: clone(e.value) })));
    default:
      return { ...node };
  }
}
