/**
 * The fuzz engine: picks inputs from the corpus, mutates a batch of them
 * into the native loop's arena (one PRNG, seeded by the parent, so one job
 * replays exactly), runs the batch with one call, keeps
 * the inputs the plugin answered in a new way (a new status, or output or
 * error length), hands what the loop could not settle to the guard, and
 * checks the plugin's counters after each batch for leaks. Findings and new
 * corpus entries go out as events the moment they are known; crashes and
 * hangs need no event: the parent reads the input in flight from the input
 * file.
 *
 * It runs where the batch loop is reached: in a Deno fuzz child (npa
 * plugins; the loop is a call into the native helper), or in the parent for
 * a libFuzzer harness, whose loop is a fork server's worker (`BatchLoop` is
 * both). There an engine outlives the workers: a worker's death ends
 * {@link FuzzEngine.run} with the loop's error, and a later `run()` goes on
 * where it stopped (after the input that killed it), corpus and PRNG intact.
 *
 * @example
 * ```ts ignore
 * import { FuzzEngine } from "./fuzz_engine.ts";
 * const result = await new FuzzEngine(loop, target, request, seeds, dict, send).run();
 * ```
 *
 * @module
 */
import { toData } from "../../errors/error_data.ts";
import { ContractViolationError, MalformedBufferError, PluginPanicError } from "../../errors/errors.ts";
import type { CallResult } from "../../ffi/calls.ts";
import { stoppedBefore } from "../../ffi/fuzz_loop.ts";
import { Prng } from "../../util/prng.ts";
import { INBOX_HEADER, readEntries } from "../inbox.ts";
import { mutateJson } from "../mutate/json_mutate.ts";
import { Mutator } from "../mutate/byte_mutations.ts";
import { wordTries } from "../mutate/dictionary.ts";
import { type BatchLoop, type EngineTarget, isLoopDeath, type SendEvent } from "./batch_loop.ts";
import { KnownBugs } from "./known_bugs.ts";
import { ComparisonHarvest } from "./comparison_harvest.ts";
import { LeakWatch } from "./leak_watch.ts";
import type { FuzzMethod, FuzzRequest, FuzzResult } from "../wire.ts";

const FIRST_BATCH = 16;
/** Mutations run from one corpus entry, each on the last (libFuzzer's MutateDepth). */
const STEPS = 5;
/** Share of inputs of a json method mutated as JSON values rather than as bytes. */
const JSON_SHARE = 4;

/** One fuzz request, run to its end. */
export class FuzzEngine {
  readonly #loop: BatchLoop;
  readonly #target: EngineTarget;
  readonly #req: FuzzRequest;
  readonly #send: SendEvent;
  readonly #prng: Prng;
  #mutator: Mutator;
  readonly #comparisonsOn: boolean;
  readonly #corpus: Uint8Array[][];
  #dictionary: Uint8Array[];
  readonly #allWords: Uint8Array[];
  /** Where each phase got to: the seeds of each method, then the word tries (a later run() goes on from there). */
  readonly #seedAt: number[];
  readonly #triesAt: number[];
  #phase: "seeds" | "tries" | "fuzz" = "seeds";
  #size = FIRST_BATCH;
  readonly #maxBatch: number;
  #execs = 0;
  #batch = 0;
  #findings = 0;
  readonly #leaks: LeakWatch;
  #stopped = false;
  /** In a replay: the index of the batch's first input among all. */
  #replayAt = 0;
  /** With comparisons (guided, or blind with the interposers): the runtime's tables, and the record counter read last. */
  readonly #harvest: ComparisonHarvest;
  /** Inputs of known bugs: operands found in one are not taken (see FuzzRequest.known). */
  readonly #known: KnownBugs;
  /** Bytes of the inbox read so far, and a view of its count. */
  #inboxCursor = 0;
  readonly #inboxView: DataView;
  /** Methods the run retired (see FuzzRequest.retired). */
  readonly #retired: Set<number>;

  constructor(
    loop: BatchLoop,
    target: EngineTarget,
    req: FuzzRequest,
    seeds: Uint8Array[],
    dict: Uint8Array[],
    send: SendEvent,
    comparisons = false,
    known: readonly Uint8Array[] = [],
  ) {
    this.#known = new KnownBugs(known);
    this.#retired = new Set(req.retired ?? []);
    this.#loop = loop;
    this.#target = target;
    this.#req = req;
    this.#send = send;
    this.#prng = new Prng(req.seed, req.stream);
    this.#allWords = dict;
    this.#comparisonsOn = comparisons;
    this.#dictionary = [];
    this.#mutator = this.#newMutator();
    this.#leaks = new LeakWatch(() => req.leaks && target.stats !== undefined ? target.stats() : undefined);
    this.#harvest = new ComparisonHarvest(comparisons ? loop.comparisons() : undefined);
    this.#inboxView = new DataView(loop.inbox.buffer, loop.inbox.byteOffset, INBOX_HEADER);
    const start = seeds.length > 0 ? seeds : [new Uint8Array(0)];
    this.#corpus = req.methods.map(() => start.map((s) => s.subarray(0, req.maxLen)));
    this.#maxBatch = Math.min(loop.offsets.length, 1024);
    this.#seedAt = req.methods.map(() => 0);
    this.#triesAt = req.methods.map(() => 0);
  }

  /** A mutator over the dictionary without the words a known bug's input holds (they would rebuild that bug at
   * every other input, as a comparison operand would). */
  #newMutator(): Mutator {
    this.#dictionary = this.#allWords.filter((w) => !this.#known.holds(w, false));
    return new Mutator(this.#prng, {
      dictionary: this.#dictionary,
      comparisons: this.#comparisonsOn,
      lengths: this.#req.lengths,
    });
  }

  /**
   * The loop's process was replaced (a fork server's new worker): its
   * comparison records start over, and batches start small again (a bug that
   * kills a worker every few inputs would otherwise cost a full batch of
   * mutations per death, most of them never run).
   */
  newProcess(): void {
    this.#harvest.restart();
    this.#size = FIRST_BATCH;
  }

  /** Method `m` was retired by the run (its known bug ends lives at once, see `budget.ts`): the next `run()` skips it. */
  retire(m: number): void {
    this.#retired.add(m);
  }

  /** A bug was found on `input` (by a worker's death): its words and operands are left out from now on. */
  addKnown(input: Uint8Array): void {
    this.#known.add(input);
    this.#mutator = this.#newMutator();
  }

  /** Executions this engine ran (the input that killed a loop counted). */
  get execs(): number {
    return this.#execs;
  }

  /**
   * Replays the seeds (in replay mode: the inputs), then fuzzes until the
   * budget or a stop. Rejects with the loop's error when its process died; a
   * later call goes on after the input that killed it.
   */
  async run(): Promise<FuzzResult> {
    this.#send({ type: "started", at: performance.timeOrigin + performance.now() }, []);
    await this.#leaks.start();
    if (this.#req.mode === "merge") {
      await this.#replay(0, this.#corpus[0]!, (at, n) => this.#sendMerged(at, n));
      return { execs: this.#execs, findings: this.#findings };
    }
    const retired = this.#retired;
    const active = this.#req.methods.map((_, m) => m).filter((m) => !retired.has(m));
    if (this.#phase === "seeds") {
      for (const m of active) {
        if (this.#stopped) break;
        await this.#replay(m, this.#corpus[m]!, undefined, this.#seedAt);
        if (this.#req.mode === "replay") return { execs: this.#execs, findings: this.#findings };
      }
      this.#phase = "tries";
    }
    // Every method's seeds first, then its tries: each method's share of what is left of the budget.
    if (this.#phase === "tries") {
      if (this.#req.tries === true) {
        for (const [i, m] of active.entries()) if (!this.#stopped) await this.#tryWords(m, active.length - i);
      }
      this.#phase = "fuzz";
    }
    while (!this.#stopped && !this.#spent() && active.length > 0) {
      const m = active[this.#batch % active.length]!;
      await this.#takeShared();
      await this.#fuzzBatch(m, this.#size);
      this.#size = Math.min(this.#size * 2, this.#maxBatch);
    }
    return { execs: this.#execs, findings: this.#findings };
  }

  #spent(): boolean {
    return this.#req.runs !== null && this.#execs >= this.#req.runs;
  }

  /** Merge: says which of the batch's `n` inputs (from input `at` on) reached something new. */
  #sendMerged(at: number, n: number): void {
    const fresh: number[] = [];
    for (let i = 0; i < n; i++) if (this.#loop.fresh[i] !== 0) fresh.push(at + i);
    this.#send({ type: "merged", upTo: at + n, fresh }, []);
  }

  /** Runs each dictionary word alone and at the binary's lengths (`wordTries`; not known bugs' inputs); new answers join. */
  async #tryWords(m: number, shares: number): Promise<void> {
    const known = new Set(this.#known.inputs.map((k) => k.join()));
    const left = this.#req.runs === null ? Infinity : Math.max(0, Math.floor((this.#req.runs - this.#execs) / shares));
    const tries = wordTries(this.#dictionary, this.#req.lengths ?? [], this.#req.maxLen)
      .filter((w) => !known.has(w.join())).slice(0, left);
    const corpus = this.#corpus[m]!;
    // Not sent to the run's corpus: it seeds every method of every later life, and a word is a guess, not a find.
    await this.#replay(m, tries, (at, n) => {
      for (let i = 0; i < n; i++) if (this.#loop.fresh[i] !== 0) corpus.push(tries[at + i]!);
    }, this.#triesAt);
  }

  /** Runs the corpus entries other jobs found (left in the inbox by the parent); keeps those new to this job. */
  async #takeShared(): Promise<void> {
    if (this.#inboxView.getUint32(0, true) <= this.#inboxCursor) return;
    const { entries, cursor } = readEntries(this.#loop.inbox, this.#inboxCursor);
    this.#inboxCursor = cursor;
    for (let m = 0; m < this.#req.methods.length && !this.#stopped; m++) {
      if (this.#retired.has(m)) continue;
      const inputs = entries.filter((e) => e.method === m).map((e) => e.input.subarray(0, this.#req.maxLen));
      if (inputs.length === 0) continue;
      const corpus = this.#corpus[m]!;
      await this.#replay(m, inputs, (at, n) => {
        for (let i = 0; i < n; i++) if (this.#loop.fresh[i] !== 0) corpus.push(inputs[at + i]!);
      });
    }
  }

  /**
   * Runs `inputs` as they are (the seeds: they teach the loop what answers
   * are known; shared entries; a merge); a replay may stop at a finding.
   * `after(at, n)` sees each batch's results. With `cursors`, it starts at
   * `cursors[m]` and keeps it up to date (past an input that killed the loop).
   */
  async #replay(
    m: number,
    inputs: readonly Uint8Array[],
    after?: (at: number, n: number) => void,
    cursors?: number[],
  ): Promise<void> {
    const arena = this.#loop.arena;
    let at = cursors?.[m] ?? 0;
    while (at < inputs.length && !this.#stopped) {
      this.#replayAt = at;
      let cursor = 0;
      let n = 0;
      while (at + n < inputs.length && n < this.#maxBatch) {
        const input = inputs[at + n]!;
        if (cursor + input.length > arena.length) break;
        arena.set(input, cursor);
        this.#loop.offsets[n] = cursor;
        this.#loop.lengths[n] = input.length;
        cursor += input.length;
        n++;
      }
      if (n === 0) throw new RangeError(`An input of ${inputs[at]!.length} bytes does not fit the fuzz arena`);
      let ran: number;
      try {
        ({ ran } = await this.#execute(m, n, this.#req.mode === "replay" && this.#req.stopAtFirst === true));
      } catch (e) {
        if (cursors !== undefined && isLoopDeath(e)) cursors[m] = at + e.index + 1;
        throw e;
      }
      after?.(at, ran);
      at += n;
      if (cursors !== undefined) cursors[m] = at;
    }
  }

  /** Mutates a batch of `size` inputs of method `m` into the arena and runs it. */
  async #fuzzBatch(m: number, size: number): Promise<void> {
    const loop = this.#loop;
    const arena = loop.arena;
    const maxLen = this.#req.maxLen;
    const corpus = this.#corpus[m]!;
    const json = this.#req.methods[m]!.json;
    const budget = this.#req.runs === null ? Infinity : this.#req.runs - this.#execs;
    const count = Math.min(size, budget);
    let cursor = 0;
    let n = 0;
    // libFuzzer's way: a base from the corpus, then up to STEPS mutations of the last input, each one run.
    while (n < count && cursor + maxLen <= arena.length) {
      const base = corpus[this.#prng.below(corpus.length)]!;
      const other = corpus.length > 1 ? corpus[this.#prng.below(corpus.length)] : undefined;
      arena.set(base, cursor);
      let from = cursor;
      let len = base.length;
      for (let step = 0; step < STEPS && n < count && cursor + maxLen <= arena.length; step++) {
        if (step > 0) arena.copyWithin(cursor, from, from + len);
        const value = json && this.#prng.below(JSON_SHARE) === 0
          ? mutateJson(this.#prng, arena.subarray(cursor, cursor + len), maxLen, this.#dictionary)
          : undefined;
        if (value !== undefined) {
          arena.set(value, cursor);
          len = value.length;
        } else {
          len = this.#mutator.mutateOnce(arena, cursor, len, maxLen, other);
        }
        loop.offsets[n] = cursor;
        loop.lengths[n] = len;
        from = cursor;
        cursor += len;
        n++;
      }
    }
    const { ran } = await this.#execute(m, n, false);
    const fresh = loop.fresh;
    for (let i = 0; i < ran; i++) {
      if (fresh[i] === 0) continue;
      const input = arena.slice(loop.offsets[i]!, loop.offsets[i]! + loop.lengths[i]!);
      corpus.push(input);
      this.#send({ type: "corpus", method: m }, [input]);
    }
  }

  /**
   * Runs the `n` inputs in the table for method `m`, judging every call the
   * loop stops at. Returns how many ran and the index of the first finding
   * (with `stopAtFirst`, the run stops there).
   */
  async #execute(m: number, n: number, stopAtFirst: boolean): Promise<{ ran: number; first?: number }> {
    const loop = this.#loop;
    const method = this.#req.methods[m]!;
    loop.methodIndex = m;
    loop.batch = ++this.#batch;
    loop.method(method.name, method.json);
    let from = 0;
    let first: number | undefined;
    while (from < n) {
      let r: number;
      try {
        r = await loop.run(from, n);
      } catch (e) {
        if (isLoopDeath(e)) this.#execs += Math.max(0, e.index + 1 - from);
        throw e;
      }
      if (r === n) {
        this.#execs += n - from;
        break;
      }
      const stop = stoppedBefore(r);
      if (stop !== undefined) {
        this.#execs += stop - from;
        this.#stopped = true;
        n = stop;
        break;
      }
      if (r < 0) throw new Error(`The fuzz loop refused its batch (code ${r})`);
      this.#execs += r + 1 - from;
      if (this.#settle(method, r, loop.raw())) first ??= r;
      if (first !== undefined && stopAtFirst) {
        this.#stopped = true;
        return { ran: r + 1, first };
      }
      from = r + 1;
    }
    this.#harvest.take(this.#mutator, this.#known);
    const leak = await this.#leaks.find(n, async (i) => {
      const r = await loop.run(i, i + 1);
      this.#execs++;
      if (r === i) this.#target.judge(method.name, method.json, loop.raw());
    });
    if (leak !== undefined) {
      this.#report("leak", method.name, leak.index, { counter: leak.counter, before: leak.before, after: leak.after });
      first ??= leak.index;
    }
    if (first !== undefined && stopAtFirst) this.#stopped = true;
    if (loop.stopRequested) this.#stopped = true;
    return first === undefined ? { ran: n } : { ran: n, first };
  }

  /** Judges input `i`'s call; true when it is a finding (sent to the parent). */
  #settle(method: FuzzMethod, i: number, raw: CallResult): boolean {
    const judged = this.#target.judge(method.name, method.json, raw);
    const e = judged.error;
    const kind = e instanceof PluginPanicError
      ? "panic"
      : e instanceof ContractViolationError || e instanceof MalformedBufferError || judged.warnings.length > 0
      ? "contract"
      : undefined;
    if (kind === undefined) return false;
    this.#report(kind, method.name, i, {
      ...e !== undefined && { error: toData(e) },
      warnings: judged.warnings,
    });
    return true;
  }

  #report(kind: string, method: string, i: number, extra: Record<string, unknown>): void {
    const loop = this.#loop;
    const input = loop.arena.slice(loop.offsets[i]!, loop.offsets[i]! + loop.lengths[i]!);
    this.#findings++;
    const index = this.#req.mode !== "fuzz" ? { index: this.#replayAt + i } : {};
    this.#send({ type: "finding", kind, method, execs: this.#execs, ...index, ...extra }, [input]);
  }
}
