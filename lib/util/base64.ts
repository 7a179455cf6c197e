/**
 * Bytes as base64 text, for JSON documents that must carry binary exactly
 * (an output that is not UTF-8, the input of a call that crashed).
 *
 * @example
 * ```ts
 * import assert from "node:assert/strict";
 * import { decodeBase64, encodeBase64 } from "./base64.ts";
 * assert.ok(encodeBase64(new Uint8Array([0, 255])) === "AP8=");
 * assert.ok(decodeBase64("AP8=")[1] === 255);
 * ```
 *
 * @module
 */

/** `bytes` as standard base64 (with padding). */
export function encodeBase64(bytes: Uint8Array): string {
  let binary = "";
  const CHUNK = 0x8000;
  for (let at = 0; at < bytes.length; at += CHUNK) {
    binary += String.fromCharCode(...bytes.subarray(at, at + CHUNK));
  }
  return btoa(binary);
}

/** The bytes of standard base64 text; throws on text that is not base64. */
export function decodeBase64(text: string): Uint8Array<ArrayBuffer> {
  return Uint8Array.from(atob(text), (ch) => ch.charCodeAt(0));
}
