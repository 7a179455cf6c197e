/**
 * What a plugin must leave as it found it in its host's process, beyond
 * threads and descriptors: how the process handles the signals a host relies
 * on (SIGINT, SIGTERM, SIGCHLD, SIGPIPE) and its umask. Taken before the
 * library is opened and compared after load and after shutdown; a change
 * becomes a contract warning (once: the state then counts as the new
 * baseline). The host runtime installing a handler of its own (Deno's, in
 * the main program) is not a change.
 *
 * @example
 * ```ts ignore
 * import { ProcessState } from "./process_state.ts";
 * const state = ProcessState.take();
 * // ... load the plugin ...
 * for (const w of state?.changes() ?? []) console.warn(w);
 * ```
 *
 * @module
 */
import { type Disposition, HOST_SIGNALS, ProcInfo, type SignalState } from "../ffi/proc_info.ts";

/** What each signal's disposition is to the host. */
const WHAT_IT_DOES: Record<keyof typeof HOST_SIGNALS, string> = {
  SIGINT: "how the host stops on Ctrl-C",
  SIGTERM: "how the host stops when timeout or a CI cancellation sends SIGTERM",
  SIGCHLD: "how the host learns that its child processes ended",
  SIGPIPE: "whether a write to a closed pipe kills the host",
};

const octal = (mask: number) => mask.toString(8).padStart(4, "0");

/**
 * A change the host makes itself: its runtime installs a handler of its own
 * (Deno does for SIGINT and SIGTERM about a second after it starts, over
 * whatever was there, plugcheck's sandbox-child handler included).
 */
function hostOwn(after: Disposition): boolean {
  return after === "host handler";
}

/** The signal dispositions and umask of this process at one moment, to compare with later. */
/** How often calls look at the signal dispositions and the umask (ms). */
const LOOK_EVERY_MS = 1000;

export class ProcessState {
  #before: SignalState;
  #lookedAt = performance.now();

  private constructor(before: SignalState) {
    this.#before = before;
  }

  /** The state now, or undefined when plugcheck's native helper cannot read it. */
  static take(): ProcessState | undefined {
    try {
      return new ProcessState(ProcInfo.get().signalState());
    } catch {
      return undefined;
    }
  }

  /** Warnings for what changed since the baseline (then the baseline is now). */
  /** True at most once a second (then {@link changes} is worth its reading), for a look between calls. */
  due(): boolean {
    const now = performance.now();
    if (now - this.#lookedAt < LOOK_EVERY_MS) return false;
    this.#lookedAt = now;
    return true;
  }

  changes(): string[] {
    const before = this.#before;
    const after = ProcInfo.get().signalState();
    this.#before = after;
    const warnings: string[] = [];
    const changed = (Object.keys(HOST_SIGNALS) as (keyof typeof HOST_SIGNALS)[]).filter((name) => {
      const [b, a] = [before.dispositions[name], after.dispositions[name]];
      return b !== a && b !== "unknown" && a !== "unknown" && !hostOwn(a);
    });
    if (changed.length > 0) {
      const list = changed.map((name) =>
        `${name} ${before.dispositions[name]} -> ${after.dispositions[name]} (${WHAT_IT_DOES[name]})`
      );
      warnings.push(
        `The plugin changed how the process handles signals: ${
          list.join(", ")
        }. Signal dispositions are the host's: a plugin must leave them alone; in process this disturbs plugcheck itself (run it with --isolate)`,
      );
    }
    if (before.umask !== undefined && after.umask !== undefined && before.umask !== after.umask) {
      warnings.push(
        `The plugin changed the process umask from ${octal(before.umask)} to ${
          octal(after.umask)
        }: files the host creates get other modes than it asks for. The umask is the host's: a plugin must leave it alone (give modes to open and mkdir instead)`,
      );
    }
    return warnings;
  }
}
