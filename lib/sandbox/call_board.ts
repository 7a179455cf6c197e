/**
 * The call board: which call of a batch a sandbox child is on, kept where the
 * parent can read it even after the child died. It is a small file both map
 * shared (`lib/ffi/shared_words.ts`), made by the parent for each child and
 * removed once the child has mapped it. A batch request in flight holds one
 * slot of two words: calls started and calls returned. The child bumps them
 * around every call (two stores: nothing measurable); the parent reads them
 * only when it must: when its deadline timer fires, and when the child is
 * gone.
 *
 * That gives a batch what a request of one call has:
 * - **A deadline per call.** The child must make progress (start or finish a
 *   call) at least every `timeoutMs`; the parent looks every
 *   {@link CallWatch.tickMs} and kills the child once the count it last saw
 *   changed `timeoutMs` ago. So the call it is on, or waits for (the first one
 *   queued behind another request), gets `timeoutMs` exactly as a lone call
 *   would, reported with that `timeoutMs`, never earlier and at most one
 *   tick later. A batch is never given `n * timeoutMs`.
 * - **The call that crashed.** A crash or a kill names, for each batch, the
 *   call it had started last (the first one, when none had started): its
 *   method and its input, as a request of that one call would.
 * - **The culprit.** With batches on several lanes, the call a batch is on
 *   need not be the one that crashed. The board ends with a fault note the
 *   child's native helper writes from its fatal-signal handler
 *   (`native/npah_blame.c`): the method and input of the call whose thread
 *   faulted, or that no call ran on that thread ({@link CallBoard.fault}).
 *
 * @example
 * ```ts ignore
 * // parent
 * const board = CallBoard.create()!; // spawn the child with board.path; it maps it, then board.fileDone()
 * const slot = board.claim()!;
 * const watch = new CallWatch(board, slot, calls, 5000);
 * // child
 * const marks = CallMarks.open(path)!;
 * marks.started(slot, 1); // call 0 runs
 * marks.returned(slot, 1);
 * ```
 *
 * @module
 */
import type { InFlightRequest } from "../errors/errors.ts";
import { SharedWords } from "../ffi/shared_words.ts";
import type { MethodCall } from "../plugin/handle.ts";
import type { RequestInfo } from "./pending.ts";

/** Batches one child can have in flight with a slot each (a batch beyond that runs unwatched, as one request). */
export const BOARD_SLOTS = 1024;
const WORDS = 2; // per slot: calls started, calls returned
const SLOT_BYTES = BOARD_SLOTS * WORDS * 4;
/** The fault note (npah_blame.c): 5 words, 1 KiB of method, then the input (64 KiB kept). */
const NOTE_WORDS = 5, NOTE_METHOD_MAX = 1024, NOTE_INPUT_MAX = 64 * 1024;
const NOTE_BYTES = NOTE_WORDS * 4 + NOTE_METHOD_MAX + NOTE_INPUT_MAX;
const BYTES = SLOT_BYTES + NOTE_BYTES;
const FATAL_SIGNALS: Record<number, string> = {
  4: "SIGILL",
  5: "SIGTRAP",
  6: "SIGABRT",
  7: "SIGBUS",
  8: "SIGFPE",
  11: "SIGSEGV",
  31: "SIGSYS",
};

/** What the child's fatal-signal handler noted: the faulting thread's call, or that it ran none. */
export interface FaultNote {
  signal: string;
  /** The call the faulting thread ran (undefined: it ran none of plugcheck's calls). */
  call?: InFlightRequest;
  /** True when the call's input was longer than the note keeps (then `call.inputs` is cut short). */
  cut?: boolean;
}
const STARTED = 0, RETURNED = 1;
/** Longest pause between two looks at a batch that runs long. */
const MAX_TICK_MS = 250;

/** The parent's side of one child's board. */
export class CallBoard {
  readonly #file: SharedWords;
  #words: Uint32Array | undefined;
  readonly #free: number[] = [];

  private constructor(file: SharedWords) {
    this.#file = file;
    this.#words = file.words;
    for (let s = BOARD_SLOTS - 1; s >= 0; s--) this.#free.push(s);
  }

  /** A new board, or undefined when no shared file could be made (batches then run unwatched). */
  static create(): CallBoard | undefined {
    const file = SharedWords.create("plugcheck-calls", BYTES);
    return file === undefined ? undefined : new CallBoard(file);
  }

  /** The file the child maps. */
  get path(): string {
    return this.#file.path;
  }

  /** The child has mapped the board (or never will): its file can go. */
  fileDone(): void {
    this.#file.remove();
  }

  /** A free slot, cleared, or undefined when every slot is held (or the board is closed). */
  claim(): number | undefined {
    const words = this.#words;
    const slot = this.#free.pop();
    if (words === undefined || slot === undefined) return undefined;
    words[slot * WORDS + STARTED] = 0;
    words[slot * WORDS + RETURNED] = 0;
    return slot;
  }

  /** A watch on a free slot for a batch of `calls`, or undefined when there is no batch or no free slot. */
  watch(calls: readonly MethodCall[], timeoutMs: number): CallWatch | undefined {
    if (calls.length === 0) return undefined;
    const slot = this.claim();
    return slot === undefined ? undefined : new CallWatch(this, slot, calls, timeoutMs);
  }

  /** Gives a slot back once its request is settled (the child writes no more to it). */
  release(slot: number): void {
    this.#free.push(slot);
  }

  /** Calls started and returned in `slot` (0, 0 once the board is closed). */
  read(slot: number): { started: number; returned: number } {
    const words = this.#words;
    if (words === undefined) return { started: 0, returned: 0 };
    return { started: words[slot * WORDS + STARTED]!, returned: words[slot * WORDS + RETURNED]! };
  }

  /** What the child's fatal-signal handler noted, if it noted anything (read once the child is gone). */
  fault(): FaultNote | undefined {
    const words = this.#words;
    if (words === undefined) return undefined;
    const w = SLOT_BYTES / 4;
    const state = words[w]!;
    if (state !== 2 && state !== 3) return undefined;
    const signal = FATAL_SIGNALS[words[w + 1]!] ?? `signal ${words[w + 1]}`;
    if (state === 3) return { signal };
    const bytes = new Uint8Array(
      words.buffer,
      words.byteOffset + SLOT_BYTES + NOTE_WORDS * 4,
      NOTE_BYTES - NOTE_WORDS * 4,
    );
    const methodLen = Math.min(words[w + 2]!, NOTE_METHOD_MAX);
    const kept = Math.min(words[w + 4]!, NOTE_INPUT_MAX);
    const method = new TextDecoder().decode(bytes.subarray(0, methodLen));
    const input = bytes.slice(NOTE_METHOD_MAX, NOTE_METHOD_MAX + kept);
    const note: FaultNote = { signal, call: { kind: "invoke", method, inputs: [input] } };
    if (words[w + 3]! > kept) note.cut = true;
    return note;
  }

  /** Unmaps the board, once the child is gone and every request it had is settled. Idempotent. */
  close(): void {
    if (this.#words === undefined) return;
    this.#words = undefined;
    this.#file.remove();
    this.#file.close();
  }
}

/** The child's side of its board: marks each call of a batch as it starts and returns. */
export class CallMarks {
  readonly #words: Uint32Array;

  private constructor(words: Uint32Array) {
    this.#words = words;
  }

  /**
   * Maps the board the parent made and arms the fault note (the first fatal
   * signal names the faulting thread's call there); undefined when it cannot
   * (the parent then watches no batch).
   */
  static open(path: string): CallMarks | undefined {
    const file = SharedWords.open(path, BYTES);
    if (file === undefined) return undefined;
    file.armFaultNote(SLOT_BYTES, NOTE_BYTES);
    return new CallMarks(file.words);
  }

  /** True for a slot number the parent could have given. */
  static valid(slot: unknown): slot is number {
    return typeof slot === "number" && Number.isInteger(slot) && slot >= 0 && slot < BOARD_SLOTS;
  }

  /** Call `n - 1` of the batch in `slot` starts. */
  started(slot: number, n: number): void {
    this.#words[slot * WORDS + STARTED] = n;
  }

  /** Call `n - 1` of the batch in `slot` returned. */
  returned(slot: number, n: number): void {
    this.#words[slot * WORDS + RETURNED] = n;
  }
}

/** One batch request on a board slot: its per-call deadline, and which call it is on. */
export class CallWatch {
  readonly #board: CallBoard;
  readonly slot: number;
  readonly #calls: readonly MethodCall[];
  readonly timeoutMs: number;
  /** How often a batch that runs long is looked at. */
  readonly tickMs: number;
  /** started + returned when last looked at (both only grow), and since when it has not changed. */
  #seen = 0;
  #since: number;

  /** `sent`: when the batch was sent (its first call's deadline runs from then, as a lone call's would). */
  constructor(
    board: CallBoard,
    slot: number,
    calls: readonly MethodCall[],
    timeoutMs: number,
    sent: number = performance.now(),
  ) {
    this.#since = sent;
    this.#board = board;
    this.slot = slot;
    this.#calls = calls;
    this.timeoutMs = timeoutMs;
    this.tickMs = timeoutMs === Infinity ? Infinity : Math.max(1, Math.min(timeoutMs / 4, MAX_TICK_MS));
  }

  /**
   * Looks at the batch now: ms until the next look, or 0 when the child has
   * neither started nor finished a call for `timeoutMs` (the call it is on
   * timed out). A change is dated when it is seen, never earlier, so a call
   * is never cut off before its deadline.
   */
  check(now: number = performance.now()): number {
    const { started, returned } = this.#board.read(this.slot);
    const seen = started + returned;
    if (seen !== this.#seen) {
      this.#seen = seen;
      this.#since = now;
    }
    const quiet = now - this.#since;
    return quiet >= this.timeoutMs ? 0 : Math.min(this.tickMs, this.timeoutMs - quiet);
  }

  /** Index of the call the batch is on: the last one started (the first, before any started). */
  get current(): number {
    const { started } = this.#board.read(this.slot);
    return Math.min(Math.max(started, 1), this.#calls.length) - 1;
  }

  /** The call the batch is on, described as a request of that one call. */
  info(): RequestInfo {
    const call = this.#calls[this.current]!;
    const inFlight: InFlightRequest = { kind: "invoke", method: call.method, inputs: [call.input] };
    return { op: `invoke ${JSON.stringify(call.method)}`, inFlight };
  }
}
