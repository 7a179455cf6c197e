/**
 * What the benchmarks share: the median of a sample, and clang run to build a
 * comparison binary (libFuzzer's) from a fixture's source.
 *
 * @example
 * ```ts ignore
 * import { clang, median } from "./_tools.ts";
 * await clang(["-O2", "-fsanitize=fuzzer", "-o", "build/bench/x", "fixtures/fuzz/lf_near_empty.c"]);
 * console.log(median([3, 1, 2])); // 2
 * ```
 *
 * @module
 */

/** The median (the lower middle value of an even count). */
export function median(xs: number[]): number {
  const s = [...xs].sort((a, b) => a - b);
  return s[Math.floor((s.length - 1) / 2)]!;
}

/** Runs clang with `args`; throws with its stderr when it fails. */
export async function clang(args: string[]): Promise<void> {
  const out = await new Deno.Command("clang", { args, stderr: "piped" }).output();
  if (!out.success) throw new Error(`clang ${args.join(" ")}: ${new TextDecoder().decode(out.stderr)}`);
}
