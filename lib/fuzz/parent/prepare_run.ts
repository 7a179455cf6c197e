/**
 * A fuzz run settled before its first child: the library's real path, what
 * it is (an npa plugin or a libFuzzer harness, from its dynamic symbols)
 * and whether it is an AddressSanitizer build (then its runtime is preloaded
 * into every child, with `ASAN_OPTIONS` set for fuzzing), the artifacts and
 * corpus directories, the seeds, the repro and minimize commands, and the
 * session the jobs share (`session.ts`).
 *
 * @example
 * ```ts ignore
 * import { prepareRun } from "./prepare_run.ts";
 * const run = await prepareRun(path, resolveFuzzOptions({ runs: 1000 }));
 * const job = new FuzzJob(0, run.session);
 * ```
 *
 * @module
 */
import { resolve } from "node:path";
import { readElfDynamic } from "../../load/elf.ts";
import { type ElfDynamicInfo, isLibFuzzerHarness, sanitizerOf, usesSanitizerCoverage } from "../../load/elf_info.ts";
import { ADAPTERS } from "../../load/adapters.ts";
import { sanitizerEnv } from "../../load/sanitizer.ts";
import { UsageError } from "../../errors/errors.ts";
import { loadError } from "../../errors/host_errors.ts";
import { resolveLibrary } from "../../load/resolve_path.ts";
import { shellQuote } from "../../util/safe_text.ts";
import { CorpusDirectory, readInputs } from "./artifacts.ts";
import { type Finding, FindingBook } from "./finding_book.ts";
import type { ResolvedFuzzOptions } from "./options.ts";
import { FuzzSession, HARNESS_METHOD } from "./session.ts";
import type { FuzzTargetKind } from "../wire.ts";

/** A run, prepared. */
export interface PreparedRun {
  pluginPath: string;
  target: FuzzTargetKind;
  sanitizer: "asan" | undefined;
  /** Built with SanitizerCoverage (guided unless `coverage: false`). */
  instrumented: boolean;
  options: ResolvedFuzzOptions;
  session: FuzzSession;
  book: FindingBook;
  artifactsDir: string;
  /** The command that reproduces a finding. */
  reproFor(f: Pick<Finding, "method" | "kind" | "artifact">): string;
  /** The command that minimizes a finding. */
  minimizeFor(f: Pick<Finding, "method" | "artifact">): string;
}

/** Settles what the run is before anything runs. Throws `UsageError` or `LoadError`. */
export async function prepareRun(path: string, o: ResolvedFuzzOptions): Promise<PreparedRun> {
  const real = await resolveLibrary(path, undefined);
  let info;
  try {
    info = await readElfDynamic(real);
  } catch (cause) {
    throw loadError(path, "not a shared library plugcheck can read", cause);
  }
  // Served through an adapter, the library is an npa target, whatever it exports.
  const target = o.target ?? (o.adapter === undefined && isLibFuzzerHarness(info) ? "libfuzzer" : "npa");
  if (target === "libfuzzer" && !info.defined.has(HARNESS_METHOD)) {
    throw loadError(path, `it exports no ${HARNESS_METHOD}, so it is no libFuzzer harness`);
  }
  if (target === "libfuzzer" && o.methods?.length) {
    throw new UsageError(`${path} is a libFuzzer harness with one entry point: --method does not apply`);
  }
  const sanitizer = o.sanitizer === "none" ? undefined : o.sanitizer ?? sanitizerOf(info);
  // Every fuzz child gets the coverage runtime (unless guidance is off): for an instrumented plugin its counters,
  // for any plugin its interposed memcmp, strcmp, ... which feed the comparison mutations.
  // Reports unsymbolized: a crash costs no llvm-symbolizer start; the run symbolizes each bug once (finding_book.ts).
  const setEnv = await sanitizerEnv(path, {
    info,
    asan: sanitizer === "asan",
    coverageRuntime: o.coverage,
    symbolize: false,
  });
  const artifactsDir = resolve(o.artifactsDir ?? Deno.cwd());
  Deno.mkdirSync(artifactsDir, { recursive: true });
  const corpusDirs = o.corpus.map((d) => resolve(d));
  const corpusDir = corpusDirs.length > 0 ? new CorpusDirectory(corpusDirs[0]!) : undefined;
  for (const d of corpusDirs.slice(1)) {
    try {
      if (!Deno.statSync(d).isDirectory) throw new UsageError(`Corpus ${JSON.stringify(d)} is not a directory`);
    } catch (e) {
      if (e instanceof UsageError) throw e;
      throw new UsageError(`Cannot read corpus directory ${JSON.stringify(d)}: ${e instanceof Error ? e.message : e}`);
    }
  }
  const initial = readInputs(corpusDirs, o.maxLen);
  const lib = shellQuote(real);
  const extraFlags = [
    ...o.adapter !== undefined ? [`--adapter ${shellQuote(o.adapter)}`] : [],
    ...o.config !== undefined ? [`--config ${shellQuote(o.config)}`] : [],
  ];
  const reproFor = (f: Pick<Finding, "method" | "kind" | "artifact">) =>
    target === "libfuzzer" ? `plugcheck fuzz ${lib} --replay ${shellQuote(f.artifact)}` : [
      `plugcheck invoke ${lib} ${shellQuote(f.method)} --input-file ${shellQuote(f.artifact)} --isolate`,
      ...extraFlags,
      ...f.kind === "timeout" ? [`--timeout ${o.timeoutMs}`] : [],
    ].join(" ");
  const adapterFlag = o.adapter !== undefined ? ` --adapter ${shellQuote(o.adapter)}` : "";
  const minimizeFor = (f: Pick<Finding, "method" | "artifact">) =>
    `plugcheck fuzz ${lib}${adapterFlag} --minimize ${shellQuote(f.artifact)}`;
  // The extras run for findings only, so after `session` below exists.
  const book: FindingBook = new FindingBook(artifactsDir, (f): Record<string, unknown> => ({
    seed: o.seed,
    target,
    plugin: real,
    ...sanitizer && { sanitizer },
    repro: reproFor(f),
    minimize: minimizeFor(f),
    ...session.plugin && { plugin_name: session.plugin.name, plugin_version: session.plugin.version },
  }));
  const instrumented = usesSanitizerCoverage(info);
  const session = new FuzzSession(real, o, {
    target,
    setEnv,
    artifactsDir,
    initial,
    corpusDir,
    book,
    guided: instrumented && o.coverage,
    served: servedAs(target, info, o.adapter),
    // A plugin behind an adapter gets its inputs through the adapter, which reads them: its binary's words do not apply.
    binaryOf: o.binaryDictionary && o.adapter === undefined ? real : undefined,
  });
  return {
    pluginPath: real,
    target,
    sanitizer,
    instrumented,
    options: o,
    session,
    book,
    artifactsDir,
    reproFor,
    minimizeFor,
  };
}

/**
 * How the fork server can start the target (`fork_server.ts`): a harness or
 * a plain npa plugin as it is, an adapted library through its adapter (the
 * one given, or the built-in one for its ABI, found as `openCheckedLibrary`
 * finds it: the npa symbols missing, the ABI's entry symbol there);
 * undefined when only a Deno child can (an npa target that exports neither).
 */
function servedAs(
  target: FuzzTargetKind,
  info: ElfDynamicInfo,
  adapter: string | undefined,
): { adapter?: string } | undefined {
  if (target === "libfuzzer") return {};
  if (adapter !== undefined) return { adapter };
  if (info.defined.has("npa_instance_invoke")) return {};
  const builtIn = ADAPTERS.find((a) => a.entry !== undefined && info.defined.has(a.entry));
  return builtIn === undefined ? undefined : { adapter: builtIn.path() };
}
