// Misbehaving sandbox child: answers the first request with a frame claiming 4 GiB.
import { hello, send, serve } from "./_misbehave.ts";
hello();
await serve(() => send(new Uint8Array([0xff, 0xff, 0xff, 0xff, 1, 2, 3])));
