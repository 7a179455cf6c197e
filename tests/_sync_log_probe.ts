/**
 * Subprocess probe for log_test.ts: calls the `log` method synchronously, so
 * the JS thread is blocked inside the FFI call while the plugin's background
 * thread logs. With a JS callback as the log sink this deadlocks; with the
 * native queue it must return. Prints `sent=<n> delivered=<m>` on stdout.
 */
import { configureSync, type LogRecord } from "../lib/util/deps.ts";
import { loadPlugin } from "../mod.ts";

const records: LogRecord[] = [];
configureSync({
  sinks: { mem: (r: LogRecord) => records.push(r) },
  loggers: [
    { category: ["plugin"], lowestLevel: "trace", sinks: ["mem"] },
    { category: ["logtape", "meta"], lowestLevel: "warning", sinks: [] },
  ],
});
const plugin = await loadPlugin(Deno.args[0]!, { log: "trace" });
const inst = await plugin.createInstance();
let sent = 0;
for (let i = 0; i < 20; i++) sent += Number(new TextDecoder().decode(inst.invokeSync("log", '"sync"')));
const delivered = records.filter((r) => r.category.at(-1) === "worker").length;
await inst.destroy();
await plugin.close();
console.log(`sent=${sent} delivered=${delivered}`);
