/**
 * `plugcheck invoke`: loads a plugin, creates one instance and calls a method,
 * printing the output bytes on stdout (or a JSON document with
 * `--format json`).
 *
 * @example
 * ```ts ignore
 * import { run } from "./invoke.ts";
 * const code = await run(["build/fixtures/libref_rust.so", "upper", "--input", "hi"]);
 * ```
 *
 * @module
 */
import { PluginCrashError, PluginTimeoutError, UnknownMethodError, UsageError } from "../errors/errors.ts";
import { LatencyHistogram } from "../util/histogram.ts";
import { DEFAULT_INVOKE_TIMEOUT_MS } from "../plugin/options.ts";
import { defineCommand } from "./command.ts";
import type { CommandContext } from "./context.ts";
import { DEFAULT_MAX_INPUT_BYTES, parseConfigFlag, readInput } from "./input.ts";
import { printErr, printWarnings, STDOUT_IS_TERMINAL } from "./output.ts";
import { isWav } from "../audio/wav.ts";
import { invokeAudio } from "./invoke_audio.ts";
import { endCalls, exitAfter } from "./invoke_end.ts";
import { invokeDocument, invokeTiming, notJsonWarning, repeatLine, shownOutput } from "../report/invoke_report.ts";

function hintFor(error: unknown, ctx: CommandContext): string | undefined {
  const plugin = ctx.plugins.at(-1);
  if (error instanceof UnknownMethodError && plugin) {
    return `methods of ${plugin.describe().name}: ${plugin.describe().methods.map((m) => m.name).join(", ")}`;
  }
  if (error instanceof PluginTimeoutError) return "the call may be stuck; raise --timeout if it is just slow";
  if (error instanceof PluginCrashError) {
    const r = error.request;
    return r?.method !== undefined
      ? `the crash happened in "${r.method}"; rerun with --verbose for the whole child stderr`
      : "rerun with --verbose for the whole child stderr";
  }
  return undefined;
}

/**
 * `--control NAME=VALUE` values as words of an adapter's text input: `"NAME"=VALUE` (a quoted name is only ever a
 * port's, never a setting such as `frames`), `#INDEX=VALUE` as given. A usage error for anything else.
 */
export function parseControls(values: readonly string[]): string[] {
  return values.map((v) => {
    const at = v.lastIndexOf("=");
    const name = v.slice(0, at);
    const value = v.slice(at + 1);
    if (at <= 0 || !Number.isFinite(Number(value)) || value.trim() === "") {
      throw new UsageError(
        `--control takes NAME=VALUE with a number for VALUE (e.g. --control Gain=0.5): got ${JSON.stringify(v)}`,
      );
    }
    if (/^#\d+$/.test(name)) return `${name}=${Number(value)}`;
    if (name.includes('"') || [...name].some((c) => c.charCodeAt(0) < 0x20)) {
      throw new UsageError(
        `--control ${
          JSON.stringify(v)
        }: a port name with a quote or a control character cannot be given by name; give its index (#N, as plugcheck load lists it)`,
      );
    }
    return `"${name}"=${Number(value)}`;
  });
}

/** The `invoke` command. */
export const command = defineCommand({
  name: "invoke",
  summary: "call one method and print its output",
  positionals: ["library", "method"],
  usage: `<library> <method> [--input TEXT | --input-file PATH | --stdin]
                   [--control NAME=VALUE]... [--output OUT.wav] [--config JSON]
                   [--timeout MS] [--repeat N]
                   [--format text|json]
                   [--isolate [--env NAME]... [--grace MS]] [--max-input-bytes N]
                   [--sha256 HEX] [--adapter PATH] [--log DIRECTIVES] [--verbose]`,
  description: `Loads the plugin, creates one instance (with --config), calls <method> and
prints its output bytes on stdout, unchanged. Errors go to stderr as one line
naming the failure (e.g. 'plugin returned status 1 (INVALID_INPUT): ...').
Without an input option the input is empty. If the plugin exports
npa_plugin_stats, instances and buffers must be back to where they started
once the instance is destroyed; a leak is reported as an error (exit 1).
What the plugin writes to stdout goes to stderr and is reported as a warning;
processes it leaves running are ended and reported.

Audio (a library whose adapter declares audio I/O, such as a LADSPA
library): --input-file in.wav runs the file through the method, its channels
mapped to the audio inputs in order (a mono file feeds every input), at the
file's sample rate (a different --config sample_rate is refused: plugcheck
does not resample), in calls of at most max_block frames (default 4096) on
one instance that runs on from call to call. --output out.wav writes the
audio outputs (32-bit float WAV), from a WAV file or a generated --input.
stdout then gets peak, RMS and NaN/Inf/denormal counts per output port.`,
  flags: {
    input: { type: "string", value: "TEXT", help: "input as UTF-8 text" },
    "input-file": {
      type: "string",
      value: "PATH",
      help: "input read from a file (raw bytes; a WAV file is audio\nfor an audio plugin: see above)",
    },
    output: {
      type: "string",
      value: "OUT.wav",
      help: "write the audio outputs to this WAV file (audio plugins;\nwritten whole or not at all)",
    },
    stdin: { type: "boolean", help: "input read from standard input (raw bytes)" },
    config: { type: "string", value: "JSON", help: "instance config, a JSON object (default: none)" },
    control: {
      type: "string",
      multiple: true,
      value: "NAME=VALUE",
      help:
        "set a control by port name or #index (repeatable), for adapted\nlibraries whose text input takes controls (LADSPA): appended\nto --input (default: the method's first example input)",
    },
    repeat: {
      type: "string",
      value: "N",
      help:
        "call N times on the same instance; prints the last output\nand a latency summary on stderr; stops at the first failure",
    },
    "max-input-bytes": {
      type: "string",
      value: "N",
      help: `largest input read (default ${DEFAULT_MAX_INPUT_BYTES}, 64 MiB); more is a\nusage error`,
    },
  },
  timeout: {
    default: DEFAULT_INVOKE_TIMEOUT_MS,
    help:
      `deadline for each call, load, destroy and unloading included\n(default ${DEFAULT_INVOKE_TIMEOUT_MS}); on expiry the call is abandoned (in process)\nor the sandbox child killed (--isolate); exit code 1`,
  },
  examples: [
    "plugcheck invoke build/fixtures/libref_rust.so upper --input hello",
    "plugcheck invoke build/fixtures/libref_c.so sum --input '[1, 2, 3.5]' --format json",
    "plugcheck invoke ./libmine.so parse --input-file sample.bin --timeout 500",
    "plugcheck invoke ./libmine.so parse --input-file crash.bin --isolate",
    "echo -n hi | plugcheck invoke ./libmine.so echo --stdin --repeat 1000",
    "plugcheck invoke /usr/lib/ladspa/amp.so amp_mono --input 'noise seed=1' --control Gain=0.5",
    "plugcheck invoke /usr/lib/ladspa/amp.so amp_stereo --input-file in.wav --control Gain=0.5 --output out.wav",
  ],
  hint: hintFor,
  run: async (ctx: CommandContext) => {
    const [path, method] = ctx.positionals as [string, string];
    const repeat = ctx.positiveInt("repeat", 1);
    const config = parseConfigFlag(ctx.string("config"));
    const controls = parseControls(ctx.list("control"));
    const inputFile = ctx.string("input-file");
    let input = await readInput(
      { input: ctx.string("input"), "input-file": inputFile, stdin: ctx.flag("stdin") },
      ctx.positiveInt("max-input-bytes", DEFAULT_MAX_INPUT_BYTES),
    );
    const outFile = ctx.string("output");
    const plugin = await ctx.openPlugin(path);
    const described = plugin.describe();
    // A WAV file is audio for a plugin that takes audio; for any other, it is bytes like any file.
    const wav = inputFile !== undefined && described.adapter?.audio_io === true && isWav(input);
    if (wav || outFile !== undefined) {
      if (repeat > 1) {
        throw new UsageError("--repeat calls with one input: it goes with neither audio files nor --output");
      }
      if (ctx.flag("stdin")) throw new UsageError("--output writes audio from a WAV --input-file or an --input text");
      if (inputFile !== undefined && !wav && described.adapter?.audio_io === true) {
        throw new UsageError(`--output needs audio in: --input-file ${JSON.stringify(inputFile)} is not a WAV file`);
      }
      return await invokeAudio(ctx, plugin, {
        path,
        method,
        ...wav
          ? { wav: input, inputFile: inputFile! }
          : ctx.string("input") !== undefined && { text: ctx.string("input")! },
        controls,
        config,
        ...outFile !== undefined && { output: outFile },
      });
    }
    if (controls.length > 0 && (inputFile !== undefined || ctx.flag("stdin"))) {
      throw new UsageError("--control adds words to a text input: give it with --input, or no input at all");
    }
    const declared = described.methods.find((m) => m.name === method);
    const kind = declared?.input;
    if (controls.length > 0) {
      if (described.adapter?.control_words !== true) {
        throw new UsageError(
          `Cannot set --control: ${path} takes no controls (only an adapted library whose text input takes them, such as a LADSPA library)`,
        );
      }
      const base = ctx.string("input") ?? declared?.examples[0]?.input ?? "";
      input = new TextEncoder().encode([base, ...controls].join(" "));
    }
    const before = await plugin.readStats();
    const instance = await plugin.createInstance(config, { timeoutMs: ctx.timeoutMs });
    const latency = new LatencyHistogram();
    let output: Uint8Array = new Uint8Array(0);
    for (let i = 0; i < repeat; i++) {
      // The last call's output may go over the input, which is not needed after it: a big output then costs no
      // fresh memory (faulting in 64 MiB costs more than copying it).
      const into = i === repeat - 1 ? input : undefined;
      const t0 = performance.now();
      output = await instance.invoke(method, input, { timeoutMs: ctx.timeoutMs, into });
      latency.recordMs(performance.now() - t0);
      if (repeat > 1) ctx.status.update(`invoke ${method}: ${i + 1}/${repeat} calls`);
    }
    const { leak, warnings } = await endCalls(ctx, plugin, instance, method, before);
    const json = ctx.format === "json";
    const { fields: shown, notJson } = shownOutput(output, kind, json);
    if (notJson) warnings.push(notJsonWarning(method));
    const timing = invokeTiming(repeat, latency.summary());
    if (json) {
      ctx.json(invokeDocument(method, shown, timing, leak, warnings));
    } else {
      ctx.out(output);
      if (STDOUT_IS_TERMINAL && output.length > 0 && output[output.length - 1] !== 10) ctx.out("\n");
      printWarnings(warnings);
    }
    if (repeat > 1) printErr(repeatLine(timing));
    return exitAfter(ctx, leak);
  },
});

/** `plugcheck invoke --help`. */
export const help: string = command.help;
/** Runs `plugcheck invoke` with the arguments after `invoke`; returns the exit code. */
export const run: (args: string[]) => Promise<number> = command.run;
