/**
 * One `plugcheck fuzz` run as the fuzz benchmarks time it (`bench/fuzz_speed.ts`,
 * `bench/uninstrumented_guards.ts`): a whole process, timed from spawn to
 * exit, its artifacts in a temporary directory removed afterwards, its stderr
 * dropped.
 *
 * @example
 * ```ts ignore
 * import { timedFuzz } from "./_timed_fuzz.ts";
 * const { seconds, out } = await timedFuzz([lib, "--runs", "1000", "--seed", "1", "--json"], "piped");
 * ```
 *
 * @module
 */
import { CLI_ARGS } from "../tests/_helpers.ts";

/** Runs `plugcheck fuzz ARGS --artifacts DIR` (DIR new and removed after); its output and seconds from spawn to exit. */
export async function timedFuzz(
  args: readonly string[],
  stdout: "piped" | "null" = "null",
): Promise<{ seconds: number; out: Deno.CommandOutput }> {
  const dir = await Deno.makeTempDir({ prefix: "plugcheck-bench-fuzz-" });
  try {
    const t0 = performance.now();
    const out = await new Deno.Command(Deno.execPath(), {
      args: [...CLI_ARGS, "fuzz", ...args, "--artifacts", dir],
      env: { DENO_NO_UPDATE_CHECK: "1" },
      stdout,
      stderr: "null",
    }).output();
    return { seconds: (performance.now() - t0) / 1000, out };
  } finally {
    await Deno.remove(dir, { recursive: true });
  }
}
