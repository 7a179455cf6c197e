// Misbehaving sandbox child: plugcheck itself fails in it (a FATAL frame, exit 70) on the first request.
import { encodeFrame, hello, KIND, send, serve } from "./_misbehave.ts";
hello();
await serve(() => {
  send(
    encodeFrame({
      id: 0,
      kind: KIND.FATAL,
      header: { message: "RangeError: Maximum call stack size exceeded" },
      blobs: [],
    }),
  );
  Deno.exit(70);
});
