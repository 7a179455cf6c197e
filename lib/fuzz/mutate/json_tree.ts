/**
 * JSON documents as trees the JSON mutator can edit and write back: a strict
 * parser (RFC 8259) that keeps what `JSON.parse` would lose (the text of
 * numbers, so `-0` or `9007199254740993` survive; duplicate keys, in order)
 * and a serializer with layout variations (indentation, spacing, line ends,
 * `\u` escapes for non-ASCII characters).
 *
 * @example
 * ```ts
 * import assert from "node:assert/strict";
 * import { parseJsonTree, serializeJson } from "./json_tree.ts";
 * const tree = parseJsonTree('{"a": -0, "a": [1e400]}')!;
 * assert.ok(serializeJson(tree) === '{"a":-0,"a":[1e400]}');
 * assert.ok(serializeJson(tree, { indent: "  " }) === '{\n  "a": -0,\n  "a": [\n    1e400\n  ]\n}');
 * ```
 *
 * @module
 */

/** A JSON value. */
export type JsonNode = JsonNumber | JsonString | JsonBoolean | JsonNull | JsonArray | JsonObject;
/** A number, as its JSON text. */
export interface JsonNumber {
  /** The node's type. */
  kind: "number";
  /** The number as written (a valid JSON number: `-0`, `1e400`, `9007199254740993`...). */
  text: string;
}
/** A string (any UTF-16 text, lone surrogates included: they are written as `\u` escapes). */
export interface JsonString {
  /** The node's type. */
  kind: "string";
  /** The string, unescaped. */
  value: string;
}
/** `true` or `false`. */
export interface JsonBoolean {
  /** The node's type. */
  kind: "boolean";
  /** The value. */
  value: boolean;
}
/** `null`. */
export interface JsonNull {
  /** The node's type. */
  kind: "null";
}
/** An array. */
export interface JsonArray {
  /** The node's type. */
  kind: "array";
  /** The elements, in order. */
  items: JsonNode[];
}
/** An object: its members in order, a key possibly more than once. */
export interface JsonObject {
  /** The node's type. */
  kind: "object";
  /** The members, in order. */
  entries: JsonEntry[];
}
/** A member of an object. */
export interface JsonEntry {
  /** The key, unescaped. */
  key: string;
  /** The value. */
  value: JsonNode;
}

/** The deepest nesting {@link parseJsonTree} accepts. */
export const MAX_JSON_DEPTH = 512;

/** The tree of the JSON text `text`, or undefined when it is not JSON (or nests deeper than {@link MAX_JSON_DEPTH}). */
export function parseJsonTree(text: string): JsonNode | undefined {
  const p = new Parser(text);
  const node = p.value(0);
  return node !== undefined && p.end() ? node : undefined;
}

const NUMBER = /-?(?:0|[1-9][0-9]*)(?:\.[0-9]+)?(?:[eE][+-]?[0-9]+)?/y;

class Parser {
  #at = 0;
  constructor(readonly text: string) {}

  end(): boolean {
    this.#space();
    return this.#at === this.text.length;
  }

  #space(): void {
    const t = this.text;
    let c = t.charCodeAt(this.#at);
    while (c === 0x20 || c === 0x0a || c === 0x0d || c === 0x09) c = t.charCodeAt(++this.#at);
  }

  value(depth: number): JsonNode | undefined {
    if (depth > MAX_JSON_DEPTH) return undefined;
    this.#space();
    const t = this.text, c = t[this.#at];
    if (c === "{") return this.#object(depth);
    if (c === "[") return this.#array(depth);
    if (c === '"') {
      const value = this.#string();
      return value === undefined ? undefined : { kind: "string", value };
    }
    if (c === "t" || c === "f" || c === "n") {
      for (const [word, node] of LITERALS) {
        if (t.startsWith(word, this.#at)) {
          this.#at += word.length;
          return node();
        }
      }
      return undefined;
    }
    NUMBER.lastIndex = this.#at;
    const m = NUMBER.exec(t);
    if (m === null) return undefined;
    this.#at += m[0].length;
    return { kind: "number", text: m[0] };
  }

  #array(depth: number): JsonArray | undefined {
    const items: JsonNode[] = [];
    this.#at++;
    this.#space();
    if (this.text[this.#at] === "]") {
      this.#at++;
      return { kind: "array", items };
    }
    for (;;) {
      const item = this.value(depth + 1);
      if (item === undefined) return undefined;
      items.push(item);
      this.#space();
      const c = this.text[this.#at++];
      if (c === "]") return { kind: "array", items };
      if (c !== ",") return undefined;
    }
  }

  #object(depth: number): JsonObject | undefined {
    const entries: JsonEntry[] = [];
    this.#at++;
    this.#space();
    if (this.text[this.#at] === "}") {
      this.#at++;
      return { kind: "object", entries };
    }
    for (;;) {
      this.#space();
      if (this.text[this.#at] !== '"') return undefined;
      const key = this.#string();
      this.#space();
      if (key === undefined || this.text[this.#at++] !== ":") return undefined;
      const value = this.value(depth + 1);
      if (value === undefined) return undefined;
      entries.push({ key, value });
      this.#space();
      const c = this.text[this.#at++];
      if (c === "}") return { kind: "object", entries };
      if (c !== ",") return undefined;
    }
  }

  /** The string starting at the quote under the cursor, or undefined when malformed. */
  #string(): string | undefined {
    const t = this.text, start = this.#at;
    let i = start + 1, escaped = false;
    for (;;) {
      const c = t.charCodeAt(i);
      if (Number.isNaN(c) || c < 0x20) return undefined;
      if (c === 0x22) break;
      if (c === 0x5c) {
        const e = t[i + 1];
        if (e === "u") {
          if (!/^[0-9a-fA-F]{4}$/.test(t.slice(i + 2, i + 6))) return undefined;
          i += 6;
        } else if (e !== undefined && '"\\/bfnrt'.includes(e)) i += 2;
        else return undefined;
        escaped = true;
      } else i++;
    }
    this.#at = i + 1;
    return escaped ? JSON.parse(t.slice(start, i + 1)) as string : t.slice(start + 1, i);
  }
}

const LITERALS: [string, () => JsonNode][] = [
  ["true", () => ({ kind: "boolean", value: true })],
  ["false", () => ({ kind: "boolean", value: false })],
  ["null", () => ({ kind: "null" })],
];

/** How {@link serializeJson} lays a document out; the default is compact, on one line. */
export interface JsonLayout {
  /** The indentation of one level; "" (the default) writes everything on one line. */
  indent?: string;
  /** The line end when indenting ("\n" by default). */
  newline?: string;
  /** Between a key and its value (": " when indenting, else ":"). */
  colon?: string;
  /** Between members on one line (","). */
  comma?: string;
  /** Whitespace before and after the whole document (""). */
  pad?: string;
  /** Writes every non-ASCII character as a `\u` escape. */
  asciiOnly?: boolean;
}

/** `node` as JSON text. */
export function serializeJson(node: JsonNode, layout: JsonLayout = {}): string {
  const indent = layout.indent ?? "";
  const w: Writer = {
    indent,
    newline: indent === "" ? "" : layout.newline ?? "\n",
    colon: layout.colon ?? (indent === "" ? ":" : ": "),
    comma: layout.comma ?? ",",
    asciiOnly: layout.asciiOnly === true,
  };
  const pad = layout.pad ?? "";
  return pad + write(w, node, "") + pad;
}

interface Writer {
  indent: string;
  newline: string;
  colon: string;
  comma: string;
  asciiOnly: boolean;
}

function write(w: Writer, node: JsonNode, margin: string): string {
  switch (node.kind) {
    case "number":
      return node.text;
    case "string":
      return quote(node.value, w.asciiOnly);
    case "boolean":
      return node.value ? "true" : "false";
    case "null":
      return "null";
    case "array":
    case "object": {
      const array = node.kind === "array";
      const n = array ? node.items.length : node.entries.length;
      if (n === 0) return array ? "[]" : "{}";
      const inner = margin + w.indent;
      const between = w.newline === "" ? w.comma : "," + w.newline + inner;
      let text = array ? "[" : "{";
      if (w.newline !== "") text += w.newline + inner;
      for (let i = 0; i < n; i++) {
        if (i > 0) text += between;
        if (array) text += write(w, node.items[i]!, inner);
        else {
          const entry = node.entries[i]!;
          text += quote(entry.key, w.asciiOnly) + w.colon + write(w, entry.value, inner);
        }
      }
      if (w.newline !== "") text += w.newline + margin;
      return text + (array ? "]" : "}");
    }
  }
}

/** `s` as a JSON string literal (JSON.stringify escapes quotes, backslashes, controls and lone surrogates). */
function quote(s: string, asciiOnly: boolean): string {
  if (plain(s, asciiOnly)) return '"' + s + '"';
  const q = JSON.stringify(s);
  return asciiOnly ? q.replace(/[\u0080-\uffff]/g, (c) => "\\u" + c.charCodeAt(0).toString(16).padStart(4, "0")) : q;
}

/** Whether `s` needs no escape (with `asciiOnly`, no `\u` escape either). */
function plain(s: string, asciiOnly: boolean): boolean {
  for (let i = 0; i < s.length; i++) {
    const c = s.charCodeAt(i);
    if (c < 0x20 || c === 0x22 || c === 0x5c || (c >= 0xd800 && c <= 0xdfff) || (asciiOnly && c >= 0x80)) return false;
  }
  return true;
}
