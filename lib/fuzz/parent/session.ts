/**
 * The session the jobs of a fuzz run share (`prepare_run.ts` makes it): the
 * child spec and the fork server's options, the seeds and the dictionary,
 * the first child's describe() validated and the methods chosen, corpus
 * entries and findings collected.
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
import { parseDescription } from "../../plugin/describe_schema.ts";
import { RunDictionary } from "./binary_dictionary.ts";
import { UsageError } from "../../errors/errors.ts";
import type { ChildSpec } from "../../sandbox/sandbox_child.ts";
import { maxFrameFor } from "../../sandbox/spawn.ts";
import { type CorpusDirectory, sha1Hex } from "./artifacts.ts";
import type { FindingCandidate } from "../crash/finding.ts";
import type { Finding, FindingBook } from "./finding_book.ts";
import type { InputFile } from "./input_file.ts";
import type { ForkServerOptions } from "./fork_server.ts";
import type { JobSession } from "./job_session.ts";
import type { ResolvedFuzzOptions } from "./options.ts";
import type { FuzzChildOptions, FuzzMethod, FuzzTargetKind } from "../wire.ts";
import { childEntry } from "../../util/prebuilt.ts";

/** The largest buffer a fuzz child copies out of the plugin (outputs are judged in C, never copied). */
const MAX_OUTPUT_BYTES = 64 * 1024 * 1024;
/** The entry point a libFuzzer harness is fuzzed through, named like a method in reports. */
export const HARNESS_METHOD = "LLVMFuzzerTestOneInput";

/** The session the jobs of one run share. */
export class FuzzSession implements JobSession {
  readonly pluginPath: string;
  readonly seed: number;
  readonly maxLen: number;
  readonly timeoutMs: number;
  readonly rssLimitMb: number;
  leaks: boolean;
  readonly graceMs = 2000;
  readonly artifactsDir: string;
  readonly arenaBytes: number;
  readonly #dictionary: RunDictionary;
  readonly warnings: string[] = [];
  readonly book: FindingBook;
  readonly ready: Promise<void>;
  /** Resolves when a child first runs inputs: what a run's duration counts from. */
  readonly fuzzing: Promise<void>;
  methods: readonly FuzzMethod[] = [];
  /** The methods the run fuzzes, once the first child said what the plugin has. */
  acceptedMethods: readonly string[] | undefined;
  /** What describe() said, for the report. */
  plugin: { name: string; version: string } | undefined;
  stopping = false;
  onFinding: (f: Finding) => void = () => {};
  /** A job found a new corpus entry (the run hands it to the other jobs). */
  onCorpus: (input: Uint8Array, method: number, job: number) => void = () => {};
  /** Guided by coverage: the library is instrumented and guidance was not turned off. */
  readonly guided: boolean;
  /**
   * Fuzzed in a fork server (`fork_server.ts`) unless turned off: a libFuzzer
   * harness, an npa plugin, or a library behind an adapter. Cleared when the
   * server cannot serve the target (the jobs then fuzz in Deno children).
   */
  forkServer: boolean;
  /** Guided mode: the edges the first child found instrumented. */
  instrumentedEdges = 0;
  /** Set by a merge: one method only (a corpus serves one method). */
  oneMethod = false;
  readonly #o: ResolvedFuzzOptions;
  readonly #target: FuzzTargetKind;
  readonly #servedAdapter: string | undefined;
  readonly #setEnv: Record<string, string>;
  readonly #initial: Uint8Array[];
  #examples: Uint8Array[] = [];
  readonly #found = new Map<string, Uint8Array>();
  /** Methods (by name) with a timeout finding, and methods (by index) retired. */
  readonly #hung = new Set<string>();
  readonly #retired = new Set<number>();
  readonly #corpusDir: CorpusDirectory | undefined;
  #resolveReady!: () => void;
  #resolveFuzzing!: () => void;

  constructor(
    real: string,
    o: ResolvedFuzzOptions,
    p: {
      target: FuzzTargetKind;
      setEnv: Record<string, string>;
      artifactsDir: string;
      initial: Uint8Array[];
      corpusDir: CorpusDirectory | undefined;
      book: FindingBook;
      guided: boolean;
      /** How the fork server can start the target (`prepare_run.ts`'s `servedAs`); undefined: only a Deno child can. */
      served: { adapter?: string } | undefined;
      /** The library whose binary's words join the dictionary after the user's (none: no binary words). */
      binaryOf: string | undefined;
    },
  ) {
    this.guided = p.guided;
    this.forkServer = p.served !== undefined && o.forkServer;
    this.#servedAdapter = p.served?.adapter;
    this.pluginPath = real;
    this.#o = o;
    this.seed = o.seed;
    this.maxLen = o.maxLen;
    this.timeoutMs = o.timeoutMs;
    this.rssLimitMb = o.rssLimitMb;
    this.leaks = o.leaks;
    this.#dictionary = new RunDictionary(o.dictionary, p.binaryOf);
    this.#target = p.target;
    this.#setEnv = p.setEnv;
    this.artifactsDir = p.artifactsDir;
    this.#initial = p.initial;
    this.#corpusDir = p.corpusDir;
    this.book = p.book;
    this.arenaBytes = Math.max(4 * 1024 * 1024, 8 * o.maxLen);
    this.ready = new Promise((resolve) => (this.#resolveReady = resolve));
    this.fuzzing = new Promise((resolve) => (this.#resolveFuzzing = resolve));
  }

  /** The run's dictionary (`RunDictionary`: the binary is read on first use). */
  get dictionary(): readonly Uint8Array[] {
    return this.#dictionary.words;
  }

  /** Input lengths the plugin's binary compares with (the `ChangeLength` mutation's). */
  get lengths(): readonly number[] {
    return this.#dictionary.lengths;
  }

  /** Words of the dictionary read from the plugin's binary. */
  get dictionaryFromBinary(): number {
    return this.#dictionary.fromBinary;
  }

  get target(): FuzzTargetKind {
    return this.#target;
  }

  /** Entries in the corpus: seeds and what the run found. */
  get corpusSize(): number {
    return this.#initial.length + this.#examples.length + this.#found.size;
  }

  /** Entries this run added (and wrote, with a corpus directory). */
  get corpusFound(): number {
    return this.#found.size;
  }

  get corpusDir(): string | undefined {
    return this.#corpusDir?.dir;
  }

  spec(file: InputFile): ChildSpec {
    const options: FuzzChildOptions = {
      target: this.#target,
      pluginPath: this.pluginPath,
      inputFile: file.path,
      inputFileSize: file.size,
      maxOutputBytes: MAX_OUTPUT_BYTES,
      ...this.#o.config !== undefined && { config: this.#o.config },
      ...this.guided && { coverage: true },
      ...!this.guided && this.#o.coverage && { comparisons: true },
      ...this.#o.adapter !== undefined && { adapter: this.#o.adapter },
    };
    return {
      label: this.pluginPath,
      entry: childEntry("lib/fuzz/child/child_entry.ts"),
      options: options as unknown as Record<string, unknown>,
      readPaths: [this.pluginPath, ...this.#o.adapter !== undefined ? [this.#o.adapter] : []],
      env: this.#o.env,
      setEnv: this.#setEnv,
      startTimeoutMs: this.#o.startTimeoutMs,
      maxFrame: maxFrameFor(this.arenaBytes),
    };
  }

  serveInChildren(why?: string): void {
    if (!this.forkServer) return;
    this.forkServer = false;
    if (why !== undefined) this.warn(why);
  }

  /** What a fork server for this run is started with, on `file`. */
  serverOptions(file: InputFile): ForkServerOptions {
    return {
      file,
      library: this.pluginPath,
      ...this.#target === "npa" && {
        npa: {
          maxOutputBytes: MAX_OUTPUT_BYTES,
          config: this.#o.config ?? "",
          ...this.#servedAdapter !== undefined && { adapter: this.#servedAdapter },
        },
      },
      mode: this.guided ? "guided" : this.#o.coverage ? "compare" : "blind",
      env: this.#o.env,
      setEnv: this.#setEnv,
      startTimeoutMs: this.#o.startTimeoutMs,
    };
  }

  accept(hello: Record<string, unknown>): void {
    this.instrumentedEdges = typeof hello.edges === "number" ? hello.edges : 0;
    if (this.#target === "libfuzzer") {
      this.methods = [{ name: HARNESS_METHOD, json: false }];
    } else {
      const d = parseDescription(new TextEncoder().encode(String(hello.describe ?? "")));
      this.plugin = { name: d.name, version: d.version };
      // Methods that fail or block on request by design (describe() "fuzz": false) only when named.
      const wanted = this.#o.methods ?? d.methods.filter((m) => m.fuzz !== false).map((m) => m.name);
      const unknown = wanted.filter((w) => !d.methods.some((m) => m.name === w));
      if (unknown.length > 0) {
        throw new UsageError(
          `${d.name} has no method ${unknown.map((u) => JSON.stringify(u)).join(", ")}; its methods: ${
            d.methods.map((m) => m.name).join(", ")
          }`,
        );
      }
      if (wanted.length === 0) throw new UsageError(`${d.name} declares no method to fuzz`);
      if (this.#o.outOfRange && d.adapter?.out_of_range !== true) {
        throw new UsageError(
          `Cannot fuzz ${d.name} out of range: its controls have no declared ranges to leave (only an adapted library whose config takes "out_of_range", such as a LADSPA library)`,
        );
      }
      const chosen = [...new Set(wanted)].map((w) => d.methods.find((m) => m.name === w)!);
      if (this.oneMethod && chosen.length > 1) {
        throw new UsageError(
          `A merge runs one method: choose one with --method (${d.name} has ${chosen.map((m) => m.name).join(", ")})`,
        );
      }
      this.methods = chosen.map((m) => ({ name: m.name, json: m.input === "json" }));
      const enc = new TextEncoder();
      this.#examples = chosen.flatMap((m) => m.examples.map((e) => enc.encode(e.input).subarray(0, this.maxLen)));
      if (hello.stats !== true && this.leaks) {
        this.leaks = false;
        this.warn(`${d.name} has no npa_plugin_stats: leaks of buffers and instances are not checked`);
      }
    }
    this.acceptedMethods = this.methods.map((m) => m.name);
    this.#resolveReady();
  }

  seeds(): Uint8Array[] {
    const out: Uint8Array[] = [];
    const seen = new Set<string>();
    for (const s of [...this.#examples, ...this.#initial, ...this.#found.values()]) {
      const sha1 = sha1Hex(s);
      if (seen.has(sha1) || this.book.inputs.has(sha1)) continue;
      seen.add(sha1);
      out.push(s);
    }
    return out.length > 0 ? out : [new Uint8Array(0)];
  }

  knownBugs(): Uint8Array[] {
    return this.book.all.map((f) => f.input);
  }

  fuzzingStarted(): void {
    this.#resolveFuzzing();
  }

  corpusEntry(input: Uint8Array, method: number, job: number): void {
    const sha1 = sha1Hex(input);
    if (this.#found.has(sha1)) return;
    this.#found.set(sha1, input);
    this.#corpusDir?.add(input, sha1);
    this.onCorpus(input, method, job);
  }

  finding(c: FindingCandidate): void {
    if (c.kind === "timeout") this.#hung.add(c.method);
    const { finding, isNew } = this.book.add(c);
    if (isNew) this.onFinding(finding);
  }

  knownKey(key: string): boolean {
    return this.book.has(key);
  }

  isBugInput(sha1: string): boolean {
    return this.book.inputs.has(sha1);
  }

  hungBefore(index: number): boolean {
    const m = this.methods[index];
    return m !== undefined && this.#hung.has(m.name);
  }

  get retired(): ReadonlySet<number> {
    return this.#retired;
  }

  /** True once every method fuzzed is retired: nothing is left to fuzz. */
  get allRetired(): boolean {
    return this.methods.length > 0 && this.#retired.size >= this.methods.length;
  }

  retire(index: number, lives: number): void {
    const m = this.methods[index];
    if (m === undefined || this.#retired.has(index)) return;
    this.#retired.add(index);
    const left = this.methods.length - this.#retired.size;
    this.warn(
      `Method ${JSON.stringify(m.name)} retired: its known bug ended ${lives} fuzz children in a row at once; ${
        left > 0
          ? `the run fuzzes the ${left === 1 ? "other method" : `other ${left} methods`}`
          : "nothing is left to fuzz"
      }`,
    );
  }

  warn(message: string): void {
    if (this.warnings.length < 100 && !this.warnings.includes(message)) this.warnings.push(message);
  }
}
