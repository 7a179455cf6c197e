/**
 * What the fuzz parent and its children say to each other, on top of the
 * sandbox protocol (`lib/sandbox/protocol.ts`): the child's options, the
 * FUZZ request and its result, and the events a child sends while it runs
 * (id 0, kind `EVENT`): a new corpus entry, a finding, the start of the first input. Inputs travel
 * as blobs, never in the JSON header.
 *
 * @example
 * ```ts
 * import assert from "node:assert/strict";
 * import { FUZZ_HANDLER, type FuzzRequest } from "./wire.ts";
 * const req: FuzzRequest = {
 *   mode: "fuzz", methods: [{ name: "parse", json: false }], seed: 1, stream: 0,
 *   maxLen: 4096, runs: 10_000, leaks: true, seeds: 1,
 * };
 * assert.ok(FUZZ_HANDLER === "fuzz" && req.runs === 10_000);
 * ```
 *
 * @module
 */

/** The sandbox child handler that runs the fuzz loop. */
export const FUZZ_HANDLER = "fuzz";

/** What a fuzz child fuzzes: an npa plugin's methods, or a libFuzzer harness. */
export type FuzzTargetKind = "npa" | "libfuzzer";

/** The fuzz child's start options. */
export interface FuzzChildOptions {
  target: FuzzTargetKind;
  pluginPath: string;
  /** The input file (made by the parent) and its size. */
  inputFile: string;
  inputFileSize: number;
  /** The instance config (npa), as JSON text. */
  config?: string;
  maxOutputBytes: number;
  /** Guided mode: the target is instrumented (SanitizerCoverage) and the coverage runtime is preloaded. */
  coverage?: boolean;
  /**
   * Blind mode with the coverage runtime preloaded: what its interposed memcmp, strcmp, strncmp, bcmp, strstr
   * and memmem see during plugin calls feeds the comparison mutations (no counters).
   */
  comparisons?: boolean;
  /** npa: the adapter (absolute path) the plugin is served through (`LoadOptions.adapter`). */
  adapter?: string;
}

/** One method to fuzz; `json`: its input and output are JSON. */
export interface FuzzMethod {
  name: string;
  json: boolean;
}

/**
 * A FUZZ request. Its blobs are `seeds` seed inputs, then `known` inputs of
 * bugs found, then the dictionary's words. `fuzz` replays the seeds, then mutates until `runs` executions (or
 * a stop); `replay` runs the seeds once each, for method 0 (minimization,
 * reproduction); `merge` runs them once each in order for method 0 and
 * says which reached something the ones before had not (`merged` events).
 */
export interface FuzzRequest {
  mode: "fuzz" | "replay" | "merge";
  methods: FuzzMethod[];
  seed: number;
  /** Picks an independent PRNG sequence (job and child life). */
  stream: number;
  maxLen: number;
  /** Executions to make, or null for no limit (a stop ends it). */
  runs: number | null;
  /** Check the plugin's counters after each batch. */
  leaks: boolean;
  /** Replay: stop at the first finding. */
  stopAtFirst?: boolean;
  seeds: number;
  /**
   * Inputs of bugs found so far (blobs after the seeds): guided mode leaves
   * out comparison operands they contain, so that the mutator does not
   * rebuild a known bug at every other input (a crash storm of restarts).
   */
  known?: number;
  /**
   * Run each dictionary word alone after the seeds: in a job's first life only, since a word that finds a bug
   * would find it again at the start of every later life (a crash storm of restarts).
   */
  tries?: boolean;
  /** Input lengths the plugin's binary compares with: the `ChangeLength` mutation sets an input to one of them. */
  lengths?: number[];
  /**
   * Indices of methods the run has retired (a method that hung or crashed
   * at once in several lives in a row): neither replayed nor fuzzed.
   */
  retired?: number[];
}

/** A FUZZ request's reply. */
export interface FuzzResult {
  execs: number;
  findings: number;
}

/** A finding the child judged itself (it lives on), with its input as the event's blob. */
export interface FindingEvent {
  type: "finding";
  kind: "panic" | "contract" | "leak";
  method: string;
  execs: number;
  /** The typed error (`toData`), for panic and contract findings. */
  error?: Record<string, unknown>;
  warnings?: string[];
  /** Replay: which of the inputs it was. */
  index?: number;
  /** Leaks: which counter rose, from what to what. */
  counter?: string;
  before?: number;
  after?: number;
}

/** An input the plugin answered in a new way (its blob), for method `method` (an index). */
export interface CorpusEvent {
  type: "corpus";
  method: number;
}

/** The first input of a request is about to run (`at`: epoch ms), for the restart time. */
export interface StartedEvent {
  type: "started";
  at: number;
}

/** Merge: a batch of the inputs ran; `fresh` are the indices (among the request's inputs) that reached something new. */
export interface MergedEvent {
  type: "merged";
  /** Inputs `[0, upTo)` have run. */
  upTo: number;
  fresh: number[];
}

/** Any event of a fuzz child. */
export type FuzzEvent = FindingEvent | CorpusEvent | StartedEvent | MergedEvent;

// What the parent reads back from a child's input file (`parent/input_file.ts`) after a crash or hang.

/** A frame of the crashed (or hung) thread: the module it was in and the offset from the module's load base. */
export interface FileFrame {
  module: string;
  offset: number;
}

/** What the fatal-signal handler recorded. */
export interface CrashRecord {
  signal: number;
  siCode: number;
  address: bigint;
  /** The crashing thread, and whether it is the thread that runs the plugin calls. */
  tid: number;
  loopThread: boolean;
  frames: FileFrame[];
}

/** The input in flight and the batch it belongs to. */
export interface CurrentInput {
  bytes: Uint8Array;
  /** Index of the method (in the request's list). */
  method: number;
  /** True when the call was inside the plugin. */
  inCall: boolean;
}
