// Misbehaving sandbox child: writes half a reply frame, then exits 0.
import { encodeFrame, hello, KIND, send, serve } from "./_misbehave.ts";
hello();
await serve((f) => {
  const whole = encodeFrame({ id: f.id, kind: KIND.REPLY, header: { ok: true }, blobs: [new Uint8Array(100)] });
  send(whole.subarray(0, 40));
  Deno.exit(0);
});
