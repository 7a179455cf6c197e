/**
 * Shared by the misbehaving sandbox children used in sandbox_test.ts: each
 * completes a valid handshake (or not), then breaks the protocol in one way.
 *
 * @module
 */
import { encodeFrame, type Frame, KIND, PROTOCOL_VERSION, readFile, readFrames } from "../../lib/sandbox/protocol.ts";

export function send(bytes: Uint8Array): void {
  let data = bytes;
  while (data.length > 0) data = data.subarray(Deno.stdout.writeSync(data));
}

/** A HELLO that passes the parent's checks. */
export function hello(protocol = PROTOCOL_VERSION): void {
  send(encodeFrame({
    id: 0,
    kind: KIND.HELLO,
    header: {
      protocol,
      ok: true,
      pid: Deno.pid,
      abi: { major: 1, minor: 0, raw: 65536 },
      description: {
        name: "fake",
        version: "1",
        thread_safe_instances: true,
        methods: [{ name: "echo", description: "", input: "bytes", pure: true, examples: [] }],
      },
      capabilities: { stats: false },
      optionalSymbols: [],
      initMs: 0,
    },
    blobs: [],
  }));
}

/** Calls `respond` for every request frame. */
export async function serve(respond: (f: Frame) => void): Promise<void> {
  for await (const f of readFrames(readFile(Deno.stdin), 1 << 20)) respond(f);
}

export { encodeFrame, KIND };
