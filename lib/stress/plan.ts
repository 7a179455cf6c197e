/**
 * What a stress run calls: the inputs (the one given, or the plugin's own
 * `describe()` examples), in a seeded order, and the book that judges every
 * outcome against what the same input gave before. For a `pure` method, an
 * output that differs from the example's expected output, or from the first
 * output seen for the same input, is a wrong result (state shared between
 * calls or instances). For any method, an input that succeeded once and then
 * fails, or fails in a new way, is an unexpected error; so is every panic
 * and every broken contract. (Examples of methods that are not pure are
 * called, but their outputs are not compared.)
 *
 * @example
 * ```ts ignore
 * const plan = planInputs(plugin.describe(), { methods: ["upper"] });
 * const book = new OutcomeBook(plan);
 * book.ok(0, await inst.invoke("upper", plan[0]!.bytes));
 * ```
 *
 * @module
 */
import type { PluginDescription } from "../plugin/describe_schema.ts";
import {
  CallSlotsExhaustedError,
  ContractViolationError,
  HostInternalError,
  MalformedBufferError,
  PluginCrashError,
  PluginPanicError,
  SandboxProtocolError,
  UsageError,
} from "../errors/errors.ts";
import { escapeControl } from "../util/safe_text.ts";

/** One input of the plan. */
export interface PlannedInput {
  method: string;
  bytes: Uint8Array<ArrayBuffer>;
  /** The example's expected output, when it gives one. */
  expected: Uint8Array | undefined;
  pure: boolean;
  /** Where the input comes from: the n-th example of its method, or the one given. */
  source: string;
}

const encoder = new TextEncoder();

/**
 * The inputs of a run: `input` for each of `methods`, or else every example
 * of `methods` (default: every method that has examples). Throws
 * `UsageError` for a method the plugin does not declare or one with nothing
 * to call it with.
 */
export function planInputs(
  description: PluginDescription,
  options: { methods?: readonly string[] | undefined; input?: Uint8Array | undefined },
): PlannedInput[] {
  const declared = new Map(description.methods.map((m) => [m.name, m]));
  const names = options.methods?.length ? [...new Set(options.methods)] : undefined;
  for (const name of names ?? []) {
    if (!declared.has(name)) {
      throw new UsageError(
        `${description.name} declares no method ${JSON.stringify(name)}; its methods: ${
          [...declared.keys()].join(", ")
        }`,
      );
    }
  }
  if (options.input !== undefined) {
    if (names === undefined) throw new UsageError("An input needs the method(s) to call with it (--method NAME)");
    const bytes = new Uint8Array(options.input) as Uint8Array<ArrayBuffer>;
    return names.map((method) => ({
      method,
      bytes,
      expected: undefined,
      pure: declared.get(method)!.pure,
      source: "given input",
    }));
  }
  const plan: PlannedInput[] = [];
  const chosen = names ?? description.methods.filter((m) => m.examples.length > 0).map((m) => m.name);
  for (const method of chosen) {
    const m = declared.get(method)!;
    if (m.examples.length === 0) {
      throw new UsageError(`Method ${JSON.stringify(method)} has no examples in describe(): give an input (--input)`);
    }
    m.examples.forEach((ex, i) =>
      plan.push({
        method,
        bytes: encoder.encode(ex.input) as Uint8Array<ArrayBuffer>,
        expected: ex.output === undefined ? undefined : encoder.encode(ex.output),
        pure: m.pure,
        source: `example ${i + 1}`,
      })
    );
  }
  if (plan.length === 0) {
    throw new UsageError(`${description.name} documents no examples in describe(): name a method and give an input`);
  }
  return plan;
}

/** Errors that are failures whatever the input: the plugin broke the ABI, panicked, or died. */
const ALWAYS_WRONG = [
  PluginPanicError,
  ContractViolationError,
  MalformedBufferError,
  PluginCrashError,
  SandboxProtocolError,
  HostInternalError,
  CallSlotsExhaustedError,
];

/** True for an error that fails a run whatever the input gave before. */
export function alwaysWrong(error: Error): boolean {
  return ALWAYS_WRONG.some((c) => error instanceof c);
}

/** A wrong result or an unexpected error, as evidence. */
export interface OutcomeExample {
  method: string;
  source: string;
  /** What was expected and what came, shown as escaped text (at most 64 bytes each). */
  expected: string;
  got: string;
}

/** What one input gave the first time. */
type First = { ok: true; output: Uint8Array } | { ok: false; error: string };

const MAX_EXAMPLES = 5;
const PREVIEW = 64;
const utf8 = new TextDecoder();

/** Bytes shown in evidence: text with control characters escaped, cut at 64 bytes. */
export function preview(bytes: Uint8Array): string {
  const cut = bytes.length > PREVIEW;
  const text = escapeControl(utf8.decode(cut ? bytes.subarray(0, PREVIEW) : bytes));
  return `${JSON.stringify(text)}${cut ? ` (${bytes.length} bytes)` : ""}`;
}

/** Equal bytes (a word at a time when both are aligned). */
export function sameBytes(a: Uint8Array, b: Uint8Array): boolean {
  const n = a.length;
  if (n !== b.length) return false;
  let i = 0;
  if (n >= 32 && (a.byteOffset & 3) === 0 && (b.byteOffset & 3) === 0) {
    const wa = new Uint32Array(a.buffer, a.byteOffset, n >>> 2);
    const wb = new Uint32Array(b.buffer, b.byteOffset, n >>> 2);
    for (let w = 0; w < wa.length; w++) if (wa[w] !== wb[w]) return false;
    i = wa.length << 2;
  }
  for (; i < n; i++) if (a[i] !== b[i]) return false;
  return true;
}

/** Judges outcomes against what each input gave first. */
export class OutcomeBook {
  readonly #plan: readonly PlannedInput[];
  readonly #first: (First | undefined)[];
  /** Outputs of pure methods compared. */
  checked = 0;
  wrong = 0;
  readonly wrongExamples: OutcomeExample[] = [];
  unexpected = 0;
  readonly unexpectedExamples: OutcomeExample[] = [];
  /** By input: calls that failed as that input's first call did (expected failures: the input always fails so). */
  readonly expectedFailures: number[];

  constructor(plan: readonly PlannedInput[]) {
    this.#plan = plan;
    this.#first = plan.map(() => undefined);
    this.expectedFailures = plan.map(() => 0);
  }

  /** The error class input `i` failed with on its first call, or undefined when that call succeeded (or none ran). */
  firstError(i: number): string | undefined {
    const first = this.#first[i];
    return first === undefined || first.ok ? undefined : first.error;
  }

  /** A call of input `i` returned `output`. */
  ok(i: number, output: Uint8Array): void {
    const p = this.#plan[i]!;
    const first = this.#first[i];
    // Only a pure method promises its example's output every time (`check` tests examples once each).
    if (p.pure && p.expected !== undefined) {
      this.checked++;
      if (!sameBytes(p.expected, output)) {
        this.#wrong(p, preview(p.expected), output, "the example's expected output");
        return;
      }
    }
    if (first === undefined) {
      this.#first[i] = { ok: true, output: p.pure ? output.slice() : new Uint8Array(0) };
      return;
    }
    if (!p.pure) return;
    if (p.expected === undefined) this.checked++;
    if (!first.ok) this.#wrong(p, `failure ${first.error}`, output, "the first call's failure");
    else if (p.expected === undefined && !sameBytes(first.output, output)) {
      this.#wrong(p, preview(first.output), output, "the first output for this input");
    }
  }

  /** A call of input `i` failed with `error` (not a timeout, not RESOURCE_LIMIT: those are counted apart). */
  failed(i: number, error: Error): void {
    const p = this.#plan[i]!;
    const first = this.#first[i];
    if (alwaysWrong(error)) return this.#unexpected(p, "no failure", error);
    if (first === undefined) {
      this.#first[i] = { ok: false, error: error.name };
      this.expectedFailures[i]!++;
      return;
    }
    if (first.ok) return this.#unexpected(p, "success, as on its first call", error);
    if (first.error !== error.name) this.#unexpected(p, `${first.error}, as on its first call`, error);
    else this.expectedFailures[i]!++;
  }

  /** A create or destroy failed (neither may, in a stress run that stays within max_instances). */
  lifecycleFailed(error: Error): void {
    this.unexpected++;
    if (this.unexpectedExamples.length < MAX_EXAMPLES) {
      this.unexpectedExamples.push({
        method: "(create or destroy instance)",
        source: "lifecycle",
        expected: "no failure",
        got: `${error.name}: ${escapeControl(error.message).slice(0, 300)}`,
      });
    }
  }

  #wrong(p: PlannedInput, expected: string, got: Uint8Array, against: string): void {
    this.wrong++;
    if (this.wrongExamples.length < MAX_EXAMPLES) {
      this.wrongExamples.push({
        method: p.method,
        source: p.source,
        expected: `${expected} (${against})`,
        got: preview(got),
      });
    }
  }

  #unexpected(p: PlannedInput, expected: string, error: Error): void {
    this.unexpected++;
    if (this.unexpectedExamples.length < MAX_EXAMPLES) {
      this.unexpectedExamples.push({
        method: p.method,
        source: p.source,
        expected,
        got: `${error.name}: ${escapeControl(error.message).slice(0, 300)}`,
      });
    }
  }
}
