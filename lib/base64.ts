/**
 * Bytes as base64 text, for JSON documents that must carry binary exactly
 * (an output that is not UTF-8, the input of a call that crashed).
 *
 * @example
 * ```ts
 * import { encodeBase64 } from "./base64.ts";
 * console.assert(encodeBase64(new Uint8Array([0, 255])) === "AP8=");
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
