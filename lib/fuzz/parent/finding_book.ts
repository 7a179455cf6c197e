/**
 * The findings of a fuzz run, one per bug: a candidate whose key is new is
 * written to disk at once (the artifact, then its JSON sidecar); one whose
 * key is known counts as a duplicate, and replaces the artifact when its
 * input is smaller (the smallest input is kept). Two bugs never share an
 * artifact, even when one input was both. A finding's frames are
 * symbolized as it is recorded; at the end every sidecar is rewritten with
 * them and the final counts.
 *
 * @example
 * ```ts ignore
 * import { FindingBook } from "./finding_book.ts";
 * const book = new FindingBook("artifacts", (f) => ({ repro: reproFor(f) }));
 * const { finding, isNew } = book.add(candidate); // crash-<sha1> and crash-<sha1>.json are on disk
 * await book.locate(pluginPath);
 * ```
 *
 * @module
 */
import { join } from "node:path";
import {
  artifactPrefix,
  type FindingCandidate,
  type FindingKind,
  pluginFrames,
  splitAtPlugin,
} from "../crash/finding.ts";
import { removeIfThere, sha1Hex, writeWhole } from "./artifacts.ts";
import { formatFrame, type SymbolizedFrame } from "../../load/symbolize.ts";
import { asanMessage, summarySymbolized, symbolizeAsanStack } from "../crash/asan_stack.ts";
import { symbolizeCrashFrames } from "./describe_finding.ts";

/** One bug found, with its smallest input. */
export interface Finding extends FindingCandidate {
  /** Occurrences of this bug (1 + duplicates). */
  count: number;
  sha1: string;
  /** The artifact's path (the smallest input) and its sidecar's. */
  artifact: string;
  sidecar: string;
  /** When it was first found, seconds into the run, and after how many executions of its job. */
  seconds: number;
  firstExecs: number;
  /** The frames, symbolized where the tools could (after {@link FindingBook.locate}). */
  located?: SymbolizedFrame[];
  /** The top frame inside the plugin, in words (`parse_record at magic_prefix.c:30 (libx.so+0x1139)`). */
  location?: string;
}

/** Extra sidecar fields for a finding (the repro command, the seed, the target). */
export type SidecarExtras = (f: Finding) => Record<string, unknown>;

/** The findings of one run. */
export class FindingBook {
  readonly dir: string;
  readonly #extras: SidecarExtras;
  readonly #started = performance.now();
  readonly #byKey = new Map<string, Finding>();
  /** SHA-1s of every input that was a finding (they must not seed a restarted child). */
  readonly inputs = new Set<string>();
  /** Symbolization started when a finding's frames were recorded (the tools run while the run goes on). */
  readonly #locating = new Map<Finding, Promise<SymbolizedFrame[] | undefined>>();
  /** The same for a sanitizer report's stack (reports come unsymbolized from fuzz children). */
  readonly #asanStacks = new Map<Finding, Promise<string[]>>();

  constructor(dir: string, extras: SidecarExtras) {
    this.dir = dir;
    this.#extras = extras;
  }

  /** Every finding, first found first. */
  get all(): Finding[] {
    return [...this.#byKey.values()];
  }

  /** True when a finding with this key was recorded. */
  has(key: string): boolean {
    return this.#byKey.has(key);
  }

  /** Records a candidate: a new bug is written to disk before this returns. */
  add(c: FindingCandidate): { finding: Finding; isNew: boolean } {
    const sha1 = sha1Hex(c.input);
    this.inputs.add(sha1);
    const known = this.#byKey.get(c.key);
    if (known) {
      known.count++;
      // A hang cut short by the known hang's shorter deadline is counted, but is no surer input than the one kept.
      if (c.input.length < known.input.length && c.cutShort !== true) {
        const before = { artifact: known.artifact, sidecar: known.sidecar };
        Object.assign(
          known,
          { ...c, count: known.count, seconds: known.seconds, firstExecs: known.firstExecs },
          this.#paths(c.kind, sha1, c.key),
        );
        this.#startLocating(known);
        this.#write(known);
        if (before.artifact !== known.artifact) {
          removeIfThere(before.artifact);
          removeIfThere(before.sidecar);
        }
      }
      return { finding: known, isNew: false };
    }
    const finding: Finding = {
      ...c,
      count: 1,
      seconds: (performance.now() - this.#started) / 1000,
      firstExecs: c.execs,
      ...this.#paths(c.kind, sha1, c.key),
    };
    this.#byKey.set(c.key, finding);
    this.#startLocating(finding);
    this.#write(finding);
    return { finding, isNew: true };
  }

  /** Starts symbolizing `f`'s frames (and its sanitizer's stack). */
  #startLocating(f: Finding): void {
    if (f.asanStack && f.asanStack.length > 0) this.#asanStacks.set(f, symbolizeAsanStack(f.asanStack));
    else this.#asanStacks.delete(f);
    if (!f.frames || f.frames.length === 0) {
      this.#locating.delete(f); // a smaller input whose crash left no frames replaced one that had some
      return;
    }
    this.#locating.set(f, symbolizeCrashFrames(f.frames));
  }

  /**
   * Where a finding's input goes: `<prefix>-<sha1>`, as libFuzzer names it,
   * unless another bug's finding has that file already (one input can be two
   * bugs, e.g. a stack overflow faulting at different depths): then
   * `<prefix>-<sha1>-<first 8 hex of the key's SHA-1>`, so two findings never
   * share an artifact or a sidecar.
   */
  #paths(kind: FindingKind, sha1: string, key: string): { sha1: string; artifact: string; sidecar: string } {
    const taken = (path: string) => [...this.#byKey.values()].some((f) => f.key !== key && f.artifact === path);
    let artifact = join(this.dir, `${artifactPrefix(kind)}-${sha1}`);
    if (taken(artifact)) artifact = `${artifact}-${sha1Hex(new TextEncoder().encode(key)).slice(0, 8)}`;
    for (let n = 2; taken(artifact); n++) artifact = `${artifact.replace(/~\d+$/, "")}~${n}`;
    return { sha1, artifact, sidecar: `${artifact}.json` };
  }

  /** The artifact first (the input is what must never be lost), then its sidecar. */
  #write(f: Finding): void {
    writeWhole(f.artifact, f.input);
    writeWhole(f.sidecar, `${JSON.stringify(this.sidecar(f), null, 2)}\n`);
  }

  /** The plugin whose frames lead a finding's stack (set by {@link locate}). */
  #plugin: string | undefined;

  /** A finding's sidecar document. */
  sidecar(f: Finding): Record<string, unknown> {
    const all = f.located ?? f.frames ?? [];
    const { runtime, plugin: frames } = this.#plugin === undefined
      ? { runtime: [], plugin: all }
      : splitAtPlugin(all, this.#plugin);
    const hex = (fr: { module: string; offset: number }) => ({ ...fr, offset: `0x${fr.offset.toString(16)}` });
    return {
      kind: f.kind,
      method: f.method,
      message: f.message,
      ...f.signal !== undefined && { signal: f.signal },
      ...f.exitCode !== undefined && { exit_code: f.exitCode },
      ...f.error !== undefined && { error: f.error },
      ...f.warnings?.length && { warnings: f.warnings },
      key: f.key,
      count: f.count,
      duplicates: f.count - 1,
      input: { size: f.input.length, sha1: f.sha1, artifact: f.artifact },
      ...f.location !== undefined && { location: f.location },
      ...f.address !== undefined && { address: f.address },
      ...frames.length > 0 && { frames: frames.map(hex) },
      ...runtime.length > 0 && { runtime_frames: runtime.map(hex) },
      ...f.asan && { asan: f.asan },
      ...f.panic && { panic: f.panic },
      job: f.job,
      execs: f.execs,
      seconds: Math.round(f.seconds * 1000) / 1000,
      first_execs: f.firstExecs,
      ...this.#extras(f),
      ...f.stderrTail && { stderr_tail: f.stderrTail },
    };
  }

  /**
   * Waits for every finding's frames to be symbolized (started when they were
   * recorded) and rewrites the sidecars with the final counts.
   */
  async locate(pluginPath: string): Promise<void> {
    this.#plugin = pluginPath;
    for (const f of this.#byKey.values()) {
      const located = await this.#locating.get(f); // started wherever its frames were set (add)
      if (located) {
        f.located = located;
        const top = pluginFrames(f.located, pluginPath)[0];
        if (top) f.location = formatFrame(top);
        // An unsymbolized sanitizer report gets its place as a symbolized one has it (`x.c:21`).
        if (f.asan && f.asan.location === undefined && top?.file !== undefined && top.line !== undefined) {
          f.asan = { ...f.asan, location: `${top.file.slice(top.file.lastIndexOf("/") + 1)}:${top.line}` };
        }
      }
      if (f.location === undefined && f.asan?.location) f.location = f.asan.location;
      const stack = await this.#asanStacks.get(f);
      if (stack && f.asan) f.asan = { ...f.asan, frames: stack };
      // An unsymbolized report's words, now with the place in words (the key stays what it was).
      if (f.asan && f.location !== undefined && !summarySymbolized(f.asan.summary)) {
        f.message = asanMessage(f.asan, f.location);
      }
      if (f.location === undefined && f.panic) f.location = f.panic.location;
      this.#write(f);
    }
  }
}
