/**
 * Running a helper tool of the toolchain (gcc, clang, llvm-symbolizer,
 * addr2line) for what it prints, with a deadline: a tool that is not
 * installed, cannot be started or outlives its deadline (then it is killed)
 * is an answer, never an exception, so callers can fall back to another tool
 * or to no answer at all.
 *
 * @example
 * ```ts
 * import assert from "node:assert/strict";
 * import { runTool } from "./run_tool.ts";
 * const run = await runTool(Deno.execPath(), ["--version"], { timeoutMs: 5000 });
 * assert.ok(run.ran && run.code === 0 && run.stdout.startsWith("deno "));
 * const missing = await runTool("plugcheck-no-such-tool", []);
 * assert.ok(!missing.ran && missing.reason === "missing"); // an answer, not an exception
 * ```
 *
 * @module
 */
import { timer } from "./timers.ts";

/** How long a tool may run by default (ms). */
export const DEFAULT_TOOL_TIMEOUT_MS = 5000;

/** What running a tool gave. */
export type ToolRun =
  /** The tool ran to its end (whatever its exit code). */
  | { ran: true; code: number; stdout: string; stderr: string }
  /**
   * It did not: `missing` (no such command), `failed` (it could not be
   * started: permission, resources), `timeout` (killed at its deadline).
   */
  | { ran: false; reason: "missing" | "failed" | "timeout"; message: string };

/** Options of {@link runTool}. */
export interface RunToolOptions {
  /** Deadline (ms), after which the tool is killed (SIGKILL); default {@link DEFAULT_TOOL_TIMEOUT_MS}. */
  timeoutMs?: number;
}

/**
 * Runs `command` with `args` (no shell, no standard input, the environment
 * of this process) and collects its output as text.
 */
export async function runTool(
  command: string,
  args: readonly string[],
  options: RunToolOptions = {},
): Promise<ToolRun> {
  const timeoutMs = options.timeoutMs ?? DEFAULT_TOOL_TIMEOUT_MS;
  let child: Deno.ChildProcess;
  try {
    child = new Deno.Command(command, { args: [...args], stdin: "null", stdout: "piped", stderr: "piped" }).spawn();
  } catch (e) {
    const message = e instanceof Error ? e.message : String(e);
    return { ran: false, reason: e instanceof Deno.errors.NotFound ? "missing" : "failed", message };
  }
  let timedOut = false;
  const cancel = timer(timeoutMs, () => {
    timedOut = true;
    try {
      child.kill("SIGKILL");
    } catch {
      // already gone
    }
  });
  try {
    const out = await child.output();
    if (timedOut) return { ran: false, reason: "timeout", message: `"${command}" ran longer than ${timeoutMs} ms` };
    const decoder = new TextDecoder();
    return { ran: true, code: out.code, stdout: decoder.decode(out.stdout), stderr: decoder.decode(out.stderr) };
  } finally {
    cancel();
  }
}
