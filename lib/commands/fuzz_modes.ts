/**
 * The other modes of `plugcheck fuzz`, which fuzz nothing: `--minimize FILE`
 * (shrink a finding's input while it reproduces the same bug), `--replay
 * FILE` (run one input once and say what it does) and `--merge OUT IN...`
 * (keep the inputs that reach new coverage); and what every fuzz run shows
 * while it runs (`runReporters`).
 *
 * @example
 * ```ts ignore
 * import { runReplay } from "./fuzz_modes.ts";
 * const code = await runReplay(ctx, "libmine.so", "findings/crash-0123", {});
 * ```
 *
 * @module
 */
import { dirname, join } from "node:path";
import { UsageError } from "../errors/errors.ts";
import {
  describeFinding,
  type FuzzOptions,
  mergeCorpus,
  minimizeInput,
  replayInput,
  sha1Hex,
  writeWhole,
} from "../fuzz/mod.ts";
import { minimizeReport, renderMinimizeReport } from "../report/fuzz_minimize.ts";
import { mergeReport, renderMergeReport } from "../report/fuzz_merge.ts";
import { renderReplayReport, replayReport, replayStderrLines } from "../report/fuzz_replay.ts";
import { escapeControl } from "../util/safe_text.ts";
import type { CommandContext } from "./context.ts";
import { EXIT } from "./exit_codes.ts";
import { readUserFile } from "./input.ts";
import { paint, paintOut, printErr } from "./output.ts";
import { fuzzFindingLine, fuzzStatus } from "../report/progress.ts";

/** A finding's input file and what its sidecar says (method, kind), for --minimize and --replay. */
function readFinding(
  file: string,
  flag: string,
): { path: string; input: Uint8Array; sidecar: Record<string, unknown> } {
  const { path, bytes: input } = readUserFile(file, flag);
  let sidecar: Record<string, unknown> = {};
  try {
    sidecar = JSON.parse(Deno.readTextFileSync(`${path}.json`));
  } catch {
    // no sidecar: the method comes from --method (or the plugin's only one)
  }
  return { path, input, sidecar };
}

/** `fuzz --minimize FILE`: shrinks a finding's input while it reproduces the same bug. */
export async function runMinimize(ctx: CommandContext, lib: string, file: string, o: FuzzOptions): Promise<number> {
  const { path, input, sidecar } = readFinding(file, "--minimize");
  if (o.methods === undefined && typeof sidecar.method === "string" && o.target !== "libfuzzer") {
    if (sidecar.target !== "libfuzzer") o.methods = [sidecar.method];
  }
  ctx.status.update(`minimizing ${input.length} bytes`);
  const r = await minimizeInput(lib, input, { ...o, artifactsDir: o.artifactsDir ?? dirname(path) });
  ctx.status.done();
  const out = join(o.artifactsDir ?? dirname(path), `minimized-from-${sha1Hex(input)}`);
  if (r.reproduced) writeWhole(out, r.input);
  const doc = minimizeReport(r, path, out);
  if (!doc.reproduced) {
    printErr(
      `plugcheck: error: ${escapeControl(file)} does not reproduce a finding (${input.length} bytes ran cleanly)`,
    );
  }
  if (ctx.format === "json") ctx.json(doc);
  else if (doc.reproduced) ctx.out(renderMinimizeReport(doc));
  return doc.ok ? EXIT.OK : EXIT.PLUGIN_FAILED;
}

/** `fuzz --replay FILE`: runs one input once and says what it does. */
export async function runReplay(ctx: CommandContext, lib: string, file: string, o: FuzzOptions): Promise<number> {
  const { input, sidecar } = readFinding(file, "--replay");
  if (o.methods === undefined && typeof sidecar.method === "string" && sidecar.target !== "libfuzzer") {
    o.methods = [sidecar.method];
  }
  const { finding, run } = await replayInput(lib, input, o);
  const words = finding && await describeFinding(finding, run.pluginPath);
  const doc = replayReport(input, finding, words);
  if (ctx.format === "json") {
    ctx.json(doc);
  } else {
    ctx.out(renderReplayReport(doc, paintOut));
    for (const line of replayStderrLines(finding)) printErr(line);
  }
  return doc.ok ? EXIT.OK : EXIT.PLUGIN_FAILED;
}

/** `fuzz --merge OUT IN...`: the inputs of IN that reach new coverage, added to OUT. */
export async function runMerge(ctx: CommandContext, lib: string, dirs: string[], o: FuzzOptions): Promise<number> {
  if (dirs.length < 2) {
    throw new UsageError("Option --merge needs an output directory and at least one to take inputs from");
  }
  ctx.status.update(`merging ${dirs.slice(1).join(", ")} into ${dirs[0]}`);
  let r;
  try {
    r = await mergeCorpus(lib, dirs[0]!, dirs.slice(1), o);
  } finally {
    ctx.status.done();
  }
  const doc = mergeReport(r);
  if (ctx.format === "json") ctx.json(doc);
  else ctx.out(renderMergeReport(doc));
  return EXIT.OK;
}

/** A fuzz run's status line and its findings announced on stderr as they come (`fuzz`, `fuzz --against`). */
export function runReporters(ctx: CommandContext): Pick<FuzzOptions, "onProgress" | "onFinding"> {
  return {
    onProgress: (p) => ctx.status.update(fuzzStatus(p)),
    onFinding: (f) => {
      ctx.status.done();
      printErr(fuzzFindingLine(f, paint));
    },
  };
}
