/**
 * What a fuzz job needs from the run it belongs to: the plugin and its
 * methods, the limits a child runs under, where input files go, the seeds
 * and known bugs a new child starts with, and where findings, corpus
 * entries and warnings go. The run's `FuzzSession` (`session.ts`) is the one
 * implementation; a job (`job.ts`) sees only this.
 *
 * @example
 * ```ts ignore
 * import type { JobSession } from "./job_session.ts";
 * const run = await prepareRun(path, resolveFuzzOptions({ runs: 1000 }));
 * const session: JobSession = run.session; // a FuzzSession
 * await new FuzzJob(0, session).fuzz(1000);
 * ```
 *
 * @module
 */
import type { ChildSpec } from "../../sandbox/sandbox_child.ts";
import type { FindingCandidate } from "../crash/finding.ts";
import type { InputFile } from "./input_file.ts";
import type { ForkServerOptions } from "./fork_server.ts";
import type { FuzzMethod } from "../wire.ts";

/** What a job needs from the run it belongs to. */
export interface JobSession {
  readonly pluginPath: string;
  readonly methods: readonly FuzzMethod[];
  readonly seed: number;
  readonly maxLen: number;
  readonly timeoutMs: number;
  readonly rssLimitMb: number;
  readonly leaks: boolean;
  readonly graceMs: number;
  /** The spec of a child for this job (its handler options name the job's input file). */
  spec(inputFile: InputFile): ChildSpec;
  /** True while the run fuzzes in a fork server (a harness, a plain npa plugin); what one is started with. */
  readonly forkServer: boolean;
  /** The fork server cannot serve the target (see `ForkServerStartError.inChild`): jobs fuzz in Deno children. */
  serveInChildren(why?: string): void;
  serverOptions(inputFile: InputFile): ForkServerOptions;
  /** Guided by coverage, or fed the comparisons of the coverage runtime's interposers. */
  readonly guided: boolean;
  /** Where input files go. */
  readonly artifactsDir: string;
  /** The arena's size. */
  readonly arenaBytes: number;
  /** Seeds for a new child: examples, corpus files, entries found so far, minus inputs that were findings. */
  seeds(): Uint8Array[];
  /** The input of each bug found so far. */
  knownBugs(): Uint8Array[];
  readonly dictionary: readonly Uint8Array[];
  /** Input lengths the plugin's binary compares with. */
  readonly lengths: readonly number[];
  /** True once the run is ending (a deadline, Ctrl-C, an error). */
  readonly stopping: boolean;
  /** The first child's HELLO, checked by the run (describe()); an error refuses it. */
  accept(hello: Record<string, unknown>): void;
  finding(c: FindingCandidate): void;
  /** True when a finding with this key was recorded already. */
  knownKey(key: string): boolean;
  /** True when the input with this SHA-1 was a finding's. */
  isBugInput(sha1: string): boolean;
  /** True when method `index` hung before in this run (its calls get a shorter deadline). */
  hungBefore(index: number): boolean;
  /** Indices of the methods retired from the run (see `budget.ts`). */
  readonly retired: ReadonlySet<number>;
  /** Retires method `index` (its known bug ended `lives` lives in a row at once). */
  retire(index: number, lives: number): void;
  /** A new corpus entry from job `job`. */
  corpusEntry(input: Uint8Array, method: number, job: number): void;
  /** A child began running inputs. */
  fuzzingStarted(): void;
  warn(message: string): void;
}
