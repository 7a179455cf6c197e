/**
 * An AddressSanitizer report's first stack, in words. Fuzz children run
 * ASan with `symbolize=0` (starting llvm-symbolizer in every crashing process
 * costs ~80 ms), so their reports name frames by module and offset; the
 * parent symbolizes the stack of each bug once, here, for the report, the
 * sidecar and `--replay`. Frames ASan symbolized itself are kept as written.
 *
 * @example
 * ```ts ignore
 * import { symbolizeAsanStack } from "./asan_stack.ts";
 * const lines = await symbolizeAsanStack(report.frames); // ["#0 encode_name dns.c:72 (libdns.so+0x2e49)", ...]
 * ```
 *
 * @module
 */
import { formatFrame, symbolize } from "../../load/symbolize.ts";
import type { AsanFrame } from "./asan_report.ts";

/**
 * A report's one-line message: `AddressSanitizer: heap-buffer-overflow (WRITE
 * of size 1) in encode_name at dns.c:72 (libdns.so+0x2e49)`, or `... at
 * libdns.so+0x2e49` (`word` "at") before the place is known in words.
 */
export function asanMessage(
  asan: { errorType: string; access?: string | undefined },
  location?: string,
  word: "in" | "at" = "in",
): string {
  const access = asan.access?.match(/^(?:READ|WRITE) of size \d+/)?.[0];
  return `AddressSanitizer: ${asan.errorType}${access ? ` (${access})` : ""}${location ? ` ${word} ${location}` : ""}`;
}

/** True when a report's SUMMARY names the function (ASan symbolized it), not only a module+offset. */
export function summarySymbolized(summary: string): boolean {
  return / in \S/.test(summary);
}

/** Frames of the stack a report or a sidecar shows. */
export const ASAN_STACK_FRAMES = 8;

/** One frame as ASan printed it (symbolized or not). */
export function asanFrameText(f: AsanFrame): string {
  return `#${f.index} ${f.function ?? f.pc}${
    f.file ? ` ${f.file}:${f.line ?? "?"}` : f.module ? ` (${f.module}+${f.offset})` : ""
  }`;
}

/** The first {@link ASAN_STACK_FRAMES} frames, symbolized where the report left them as module+offset. */
export async function symbolizeAsanStack(frames: readonly AsanFrame[]): Promise<string[]> {
  const shown = frames.slice(0, ASAN_STACK_FRAMES);
  const raw = shown.map((f) =>
    f.function === undefined && f.module !== undefined && f.offset !== undefined
      ? { module: f.module, offset: Number.parseInt(f.offset, 16) }
      : undefined
  );
  const asked = raw.filter((r) => r !== undefined);
  const got = asked.length === 0 ? [] : await symbolize(asked).catch(() => undefined);
  let k = 0;
  return shown.map((f, i) => {
    if (raw[i] === undefined) return asanFrameText(f);
    const s = got?.[k++];
    return s?.function ? `#${f.index} ${formatFrame(s)}` : asanFrameText(f);
  });
}
