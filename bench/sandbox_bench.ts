/**
 * What the sandbox costs, against the in-process path (Rust reference plugin,
 * `echo` of 64 B): one call's round trip, a batch of 1024 calls in one
 * message, and the time from a crash to a working fresh child (segfault
 * fixture: detect the death, spawn, dlopen, init, describe, create).
 * Run: `deno task bench`.
 *
 * @module
 */
import { loadPlugin } from "../mod.ts";
import { fault, fixture } from "../tests/_helpers.ts";

const input = new Uint8Array(64).fill(7);
const batch = Array.from({ length: 1024 }, () => input);

const local = await loadPlugin(fixture("ref_rust"));
const localInst = await local.createInstance();
const boxed = await loadPlugin(fixture("ref_rust"), { isolate: true, idleTimeoutMs: Infinity });
const boxedInst = await boxed.createInstance();
// The floor: a bare stdio echo child, same streams, no framing, no plugin.
const echo = new Deno.Command(Deno.execPath(), {
  args: ["run", new URL("./_echo_child.ts", import.meta.url).pathname],
  stdin: "piped",
  stdout: "piped",
}).spawn();
const echoIn = echo.stdin.getWriter();
const echoOut = echo.stdout.getReader();

const crashy = await loadPlugin(fault("segfault"), { isolate: true, restartCap: Infinity, idleTimeoutMs: Infinity });

Deno.bench("in process: invokeSync echo 64 B", { group: "one call", baseline: true }, () => {
  localInst.invokeSync("echo", input);
});
Deno.bench("in process: invoke (async) echo 64 B", { group: "one call" }, async () => {
  await localInst.invoke("echo", input);
});
Deno.bench("floor: bare stdio echo child, 64 B round trip", { group: "one call" }, async () => {
  await echoIn.write(input);
  for (let got = 0; got < input.length;) got += (await echoOut.read()).value!.length;
});
Deno.bench("sandbox: invoke echo 64 B (round trip)", { group: "one call" }, async () => {
  await boxedInst.invoke("echo", input);
});

Deno.bench("in process: 1024 x invokeSync echo 64 B", { group: "1024 calls", baseline: true }, () => {
  for (const i of batch) localInst.invokeSync("echo", i);
});
Deno.bench("sandbox: invokeBatch 1024 x echo 64 B", { group: "1024 calls" }, async () => {
  await boxedInst.invokeBatch("echo", batch);
});

Deno.bench("sandbox: crash, then a fresh child answering", { group: "restart", n: 20, warmup: 2 }, async () => {
  const inst = await crashy.createInstance();
  await inst.invoke("crash").catch(() => {});
  const fresh = await crashy.createInstance();
  await fresh.invoke("echo", input);
});
Deno.bench("sandbox: load (spawn + handshake) and close", { group: "restart", n: 20, warmup: 2 }, async () => {
  const p = await loadPlugin(fixture("ref_rust"), { isolate: true });
  await p.close();
});
