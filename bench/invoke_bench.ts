/**
 * Cost of one plugin call through plugcheck's guard, per path, against the
 * Rust reference plugin: `invokeSync` (the hot-loop path) vs `invoke`
 * (nonblocking, with a deadline), for 64 B and 4 KiB echoes, plus a raw FFI
 * call with no guard as the floor. Run: `deno task bench`.
 *
 * @module
 */
import { loadPlugin } from "../mod.ts";
import { fixture } from "../tests/_helpers.ts";

const plugin = await loadPlugin(fixture("ref_rust"));
const inst = await plugin.createInstance();
const small = new Uint8Array(64).fill(7);
const large = new Uint8Array(4096).fill(7);

Deno.bench("invokeSync echo 64 B", { group: "64 B", baseline: true }, () => {
  inst.invokeSync("echo", small);
});
Deno.bench("invoke (async, deadline) echo 64 B", { group: "64 B" }, async () => {
  await inst.invoke("echo", small, { timeoutMs: 5000 });
});
Deno.bench("invokeSync echo 4 KiB", { group: "4 KiB", baseline: true }, () => {
  inst.invokeSync("echo", large);
});
Deno.bench("invoke (async, deadline) echo 4 KiB", { group: "4 KiB" }, async () => {
  await inst.invoke("echo", large, { timeoutMs: 5000 });
});
Deno.bench("invokeSync sum [1,2,3.5]", { group: "json" }, () => {
  inst.invokeSync("sum", "[1,2,3.5]");
});
