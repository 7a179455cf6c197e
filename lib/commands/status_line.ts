/**
 * Progress of long work on stderr: on a terminal one line, rewritten at most
 * ten times a second and cleared when done; elsewhere (CI logs) a plain line
 * every few seconds. stdout stays for results.
 *
 * @example
 * ```ts ignore
 * import { StatusLine } from "./status_line.ts";
 * const status = new StatusLine();
 * for (let i = 0; i < 1000; i++) status.update(`${i}/1000 calls`);
 * status.done();
 * ```
 *
 * @module
 */
import { STDERR_IS_TERMINAL } from "./output.ts";
import { escapeControl } from "../util/safe_text.ts";

const TERMINAL_INTERVAL_MS = 100;
const LOG_INTERVAL_MS = 5000;
const encoder = new TextEncoder();

/** Where a status line writes and how it tells time (tests substitute both). */
export interface StatusLineOptions {
  /** Whether stderr is a terminal (default: asked of stderr). */
  terminal?: boolean;
  /** Writes raw text (default: stderr). */
  write?: (text: string) => void;
  /** The clock, in ms (default: `performance.now`). */
  now?: () => number;
}

/** A progress line on stderr. */
export class StatusLine {
  readonly #terminal: boolean;
  readonly #interval: number;
  readonly #write: (text: string) => void;
  readonly #now: () => number;
  #last: number;
  #shown = false;

  constructor(options: StatusLineOptions = {}) {
    this.#terminal = options.terminal ?? STDERR_IS_TERMINAL;
    this.#interval = this.#terminal ? TERMINAL_INTERVAL_MS : LOG_INTERVAL_MS;
    this.#write = options.write ?? ((text) => Deno.stderr.writeSync(encoder.encode(text)));
    this.#now = options.now ?? (() => performance.now());
    this.#last = this.#now(); // the first line comes after an interval, not at once
  }

  /** Shows `text` if enough time has passed since the last update. */
  update(text: string): void {
    const now = this.#now();
    if (now - this.#last < this.#interval) return;
    this.#last = now;
    if (this.#terminal) {
      this.#write(`\r\x1b[2K${escapeControl(text)}`);
      this.#shown = true;
    } else {
      this.#write(`${escapeControl(text)}\n`);
    }
  }

  /** Clears the line on a terminal (plain lines stay). */
  done(): void {
    if (this.#shown) this.#write("\r\x1b[2K");
    this.#shown = false;
  }
}
