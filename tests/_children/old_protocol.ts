// Misbehaving sandbox child: speaks protocol version 99.
import { hello } from "./_misbehave.ts";
hello(99);
await new Promise((r) => setTimeout(r, 60_000));
