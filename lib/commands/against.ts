/**
 * The `--against OLD.so` flags of `check`, `stress` and `fuzz` (and
 * `--max-slowdown`, and `--junit` where only the comparison has one), and
 * running and printing such a run: the comparison as text or JSON, and as
 * JUnit XML and an HTML page when asked. Exit code 1 on a regression.
 *
 * @example
 * ```ts ignore
 * import { runAgainst } from "./against.ts";
 * return await runAgainst(ctx, { junit, html }, (signal) => checkAgainst(newPath, oldPath, { signal }, against));
 * ```
 *
 * @module
 */
import { UsageError } from "../errors/errors.ts";
import type { Flag } from "./command.ts";
import type { CommandContext } from "./context.ts";
import { EXIT } from "./exit_codes.ts";
import { userPath } from "./input.ts";
import { interruptExitCode } from "./interrupt.ts";
import { paintOut, printWarnings } from "./output.ts";
import { reportPath, writeWhole } from "./report_file.ts";
import { type Comparison, comparisonJunitXml, DEFAULT_MAX_SLOWDOWN, renderComparison } from "../report/compare/mod.ts";
import { comparisonPage } from "../report/html/compare_page.ts";
import { fuzzAgainst } from "../against/run_against.ts";
import type { FuzzOptions } from "../fuzz/mod.ts";
import { abortOnInterrupt } from "./interrupt.ts";
import { runReporters } from "./fuzz_modes.ts";

/** `--against` and `--max-slowdown`. */
export const AGAINST_FLAGS: Record<string, Flag> = {
  against: {
    type: "string",
    value: "OLD.so",
    help:
      "run the same on OLD.so (the previous build) first and\nprint what regressed, improved or changed (exit 1 on a\nregression)",
  },
  "max-slowdown": {
    type: "string",
    value: "X",
    help:
      `with --against: how many times slower (or bigger) the new\nbuild may be before it is a regression (default ${DEFAULT_MAX_SLOWDOWN})`,
  },
};

/**
 * The old build's path (checked to exist: a library file, or with `directory` a directory) and the tolerance, or
 * undefined without `--against`.
 */
export async function againstFlags(
  ctx: CommandContext,
  directory = false,
): Promise<{ oldPath: string; maxSlowdown: number } | undefined> {
  const given = ctx.string("against");
  if (given === undefined) {
    if (ctx.string("max-slowdown") !== undefined) throw new UsageError("Option --max-slowdown goes with --against");
    return undefined;
  }
  const oldPath = userPath(given);
  try {
    const info = await Deno.stat(oldPath);
    if (directory ? !info.isDirectory : !info.isFile) throw new Error("not the same kind");
  } catch {
    throw new UsageError(`--against ${given}: no such ${directory ? "directory" : "library file"}`);
  }
  const maxSlowdown = ctx.positiveNumber("max-slowdown", DEFAULT_MAX_SLOWDOWN);
  if (maxSlowdown < 1) throw new UsageError(`Option --max-slowdown must be at least 1: got ${maxSlowdown}`);
  return { oldPath, maxSlowdown };
}

/** `--junit FILE` of a command whose only JUnit document is `--against`'s comparison (`stress`, `fuzz`). */
export const AGAINST_JUNIT_FLAG: Flag = {
  type: "string",
  value: "FILE",
  help: "with --against: also write the comparison as JUnit XML",
};

/** That flag's file, checked: without `--against` it is a usage error. */
export async function againstJunit(ctx: CommandContext, against: unknown): Promise<string | undefined> {
  const junit = await reportPath(ctx.string("junit"), "junit");
  if (junit !== undefined && against === undefined) throw new UsageError("Option --junit goes with --against");
  return junit;
}

/**
 * Runs `work` (an `--against` run: both builds, compared) with Ctrl-C and SIGTERM handled and the status line cleared
 * after it, then writes the comparison where asked, prints it, and returns the exit code (1 on a regression).
 */
export async function runAgainst(
  ctx: CommandContext,
  files: { junit?: string | undefined; html?: string | undefined },
  work: (signal: AbortSignal) => Promise<{ comparison: Comparison }>,
): Promise<number> {
  const { signal, release } = abortOnInterrupt();
  let c: Comparison;
  try {
    c = (await work(signal)).comparison;
  } finally {
    release();
    ctx.status.done();
  }
  if (files.junit !== undefined) await writeWhole(files.junit, comparisonJunitXml(c));
  if (files.html !== undefined) await writeWhole(files.html, comparisonPage(c));
  if (ctx.format === "json") ctx.json(c);
  else {
    ctx.out(renderComparison(c, paintOut));
    printWarnings(c.warnings);
  }
  if (signal.aborted) return interruptExitCode();
  return c.ok ? EXIT.OK : EXIT.PLUGIN_FAILED;
}

/** `fuzz --against`: both builds fuzzed (the new one seeded with what the old run found), compared and printed. */
export async function fuzzAgainstCommand(
  ctx: CommandContext,
  lib: string,
  options: FuzzOptions,
  against: { oldPath: string; maxSlowdown: number },
  files: { html: string | undefined; junit: string | undefined },
): Promise<number> {
  return await runAgainst(
    ctx,
    files,
    (signal) =>
      fuzzAgainst(lib, against.oldPath, { ...options, signal, ...runReporters(ctx) }, {
        maxSlowdown: against.maxSlowdown,
        seed: options.seed ?? 1,
        load: {
          ...options.env !== undefined && { env: options.env },
          ...options.adapter !== undefined && { adapter: options.adapter },
        },
        onStep: (step) => ctx.status.update(`fuzz --against: ${step}`),
      }),
  );
}
