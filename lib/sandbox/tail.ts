/**
 * The last bytes of a stream (a sandbox child's stderr): chunks are kept as
 * they come and dropped from the front once the rest is long enough, so the
 * tail costs at most its size plus one chunk, however much went through.
 *
 * @example
 * ```ts
 * import assert from "node:assert/strict";
 * import { ByteTail } from "./tail.ts";
 * const tail = new ByteTail(4);
 * tail.push(new TextEncoder().encode("abc"));
 * tail.push(new TextEncoder().encode("defg"));
 * assert.ok(tail.text() === "defg");
 * ```
 *
 * @module
 */

/** The last `max` bytes of what was pushed. */
export class ByteTail {
  readonly #max: number;
  #chunks: Uint8Array[] = [];
  #bytes = 0;

  constructor(max: number) {
    this.#max = max;
  }

  push(chunk: Uint8Array): void {
    this.#chunks.push(chunk);
    this.#bytes += chunk.length;
    while (this.#bytes - this.#chunks[0]!.length >= this.#max) this.#bytes -= this.#chunks.shift()!.length;
  }

  /** The tail, decoded leniently. */
  text(): string {
    const all = new Uint8Array(this.#bytes);
    let at = 0;
    for (const c of this.#chunks) {
      all.set(c, at);
      at += c.length;
    }
    return new TextDecoder().decode(all.subarray(Math.max(0, all.length - this.#max)));
  }
}
