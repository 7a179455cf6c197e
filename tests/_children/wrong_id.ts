// Misbehaving sandbox child: answers every request with the wrong id.
import { encodeFrame, hello, KIND, send, serve } from "./_misbehave.ts";
hello();
await serve((f) => send(encodeFrame({ id: f.id + 99, kind: KIND.REPLY, header: { ok: true }, blobs: [] })));
