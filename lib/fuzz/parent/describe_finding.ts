/**
 * A finding in words for a person reading one at a time (`fuzz --replay`):
 * where it happened (the first frame inside the plugin), the sanitizer's
 * summary and its stack symbolized (never its shadow-byte legend), or the
 * crashed thread's stack from the first plugin frame on, with how many
 * runtime frames (libc, the sanitizer runtime, plugcheck's helper) were above
 * it.
 *
 * @example
 * ```ts ignore
 * import { describeFinding } from "./describe_finding.ts";
 * const words = await describeFinding(finding, pluginPath);
 * for (const line of words.stack) console.log(line);
 * ```
 *
 * @module
 */
import { formatFrame, symbolize, type SymbolizedFrame } from "../../load/symbolize.ts";
import { type FindingCandidate, inModule } from "../crash/finding.ts";
import type { FileFrame } from "../wire.ts";
import { ASAN_STACK_FRAMES, asanMessage, summarySymbolized, symbolizeAsanStack } from "../crash/asan_stack.ts";

/** What {@link describeFinding} says. */
export interface FindingWords {
  /** The finding's message, with its place in words. */
  message: string;
  /** The first frame inside the plugin. */
  location?: string;
  /** The sanitizer's SUMMARY, with its place in words. */
  summary?: string;
  /** The stack: the sanitizer's, or the crashed thread's from the first plugin frame on. */
  stack: string[];
  /** Frames above the first plugin frame (runtime frames), left out of `stack`. */
  runtimeFrames: number;
}

/** The frames a crash recorded, as `symbolize` takes them: return addresses one byte back (a call that never returns
 * is then named by its caller's line, not by what follows it). */
export function crashFramesAsked(frames: readonly FileFrame[]): FileFrame[] {
  return frames.map((fr, i) => (i === 0 ? fr : { ...fr, offset: Math.max(0, fr.offset - 1) }));
}

/** A crash's frames symbolized (undefined when the tools could not, or it has none). */
export async function symbolizeCrashFrames(frames: readonly FileFrame[]): Promise<SymbolizedFrame[] | undefined> {
  return frames.length === 0 ? undefined : await symbolize(crashFramesAsked(frames)).catch(() => undefined);
}

/** Symbolizes what `c` recorded and says it in words. */
export async function describeFinding(c: FindingCandidate, pluginPath: string): Promise<FindingWords> {
  const frames = await symbolizeCrashFrames(c.frames ?? []) ?? crashFramesAsked(c.frames ?? []);
  const top = frames.find((f) => inModule(f.module, pluginPath));
  const location = top !== undefined ? formatFrame(top) : c.asan?.location ?? c.panic?.location;
  if (c.asan) {
    const stack = c.asanStack ? await symbolizeAsanStack(c.asanStack) : c.asan.frames;
    const symbolized = summarySymbolized(c.asan.summary);
    return {
      message: symbolized || location === undefined ? c.message : asanMessage(c.asan, location),
      ...location !== undefined && { location },
      summary: symbolized || location === undefined
        ? `SUMMARY: ${c.asan.summary}`
        : `SUMMARY: AddressSanitizer: ${c.asan.errorType} in ${location}`,
      stack: stack.slice(0, ASAN_STACK_FRAMES),
      runtimeFrames: 0,
    };
  }
  const from = top !== undefined ? frames.indexOf(top) : 0;
  return {
    message: c.message,
    ...location !== undefined && { location },
    stack: frames.slice(from, from + ASAN_STACK_FRAMES).map((f, i) => `#${i} ${formatFrame(f)}`),
    runtimeFrames: from,
  };
}
