/**
 * An AddressSanitizer report, read from the text a process wrote to stderr
 * (other text may come before and after it): the kind of error, the access,
 * the first stack, and the first frame of that stack outside the sanitizer
 * runtime, whose `file:line` is where the bug is (the fuzzer tells findings
 * apart by kind and that place).
 *
 * Both gcc's and clang's formats are read: symbolized frames
 * (`#0 0x7f3a in parse /src/x.c:12:5`, `in parse (/lib/libx.so+0x1139)`) and
 * unsymbolized ones (`#3 0x7f3a (/lib/libx.so+0x1139)`, with or without a
 * `(BuildId: ...)`).
 *
 * @example
 * ```ts
 * import assert from "node:assert/strict";
 * import { parseAsanReport } from "./asan_report.ts";
 * const r = parseAsanReport([
 *   "==7==ERROR: AddressSanitizer: heap-buffer-overflow on address 0x6020 at pc 0x55 bp 0x7f sp 0x7f",
 *   "WRITE of size 1 at 0x6020 thread T0",
 *   "    #0 0x55d1 in fill /src/x.c:5:12",
 *   "    #1 0x55d2 in main /src/x.c:9",
 * ].join("\n"));
 * assert.ok(r?.errorType === "heap-buffer-overflow" && r.location === "x.c:5" && r.top?.function === "fill");
 * ```
 *
 * @module
 */

/** One frame of a stack in a report (each field only when the report has it). */
export interface AsanFrame {
  /** The frame number (`#3` is 3). */
  index: number;
  /** The pc, as printed (`0x7f3a...`). */
  pc: string;
  function?: string;
  file?: string;
  line?: number;
  column?: number;
  /** The module the pc is in, as printed (`/lib/libx.so`), when the frame shows it. */
  module?: string;
  /** The pc's offset in `module`, as printed (`0x1139`). */
  offset?: string;
}

/** What an AddressSanitizer report says. */
export interface AsanReport {
  /** The kind of error as the SUMMARY names it: `heap-buffer-overflow`, `SEGV`, `double-free`, `stack-overflow`, ... */
  errorType: string;
  /** The SUMMARY line without `SUMMARY: ` (or the ERROR line, when the text has no SUMMARY). */
  summary: string;
  /** The access: `WRITE of size 1 at 0x602000000011 thread T0`, or `The signal is caused by a READ memory access`. */
  access?: string;
  /** The first stack: where the error happened. */
  frames: AsanFrame[];
  /** The first frame of `frames` outside the sanitizer runtime (and outside libc's string and abort functions). */
  top?: AsanFrame;
  /** `<file base name>:<line>` of `top`, when the report has them (`x.c:21`). */
  location?: string;
}

const ERROR_LINE = /(?:^|==\d+==)ERROR: AddressSanitizer:? (.*)$/;
const SUMMARY_LINE = /^SUMMARY: AddressSanitizer: (\S+)/;
const FRAME_LINE = /^\s*#(\d+)\s+(0x[0-9a-fA-F]+)\b\s*(.*)$/;
const MODULE_OFFSET = /(?:^|\s)\(([^()]+)\+(0x[0-9a-fA-F]+)\)$/;
const BUILD_ID = /\(BuildId: [0-9a-fA-F]+\)$/;
/** `<file>:<line>[:<column>]`, matched against one space-free word (linear time, whatever the text). */
const FILE_LINE = /^(.+?):(\d+)(?::(\d+))?$/;
// deno-lint-ignore no-control-regex
const ANSI = /\x1b\[[0-9;]*m/g;

/** The error types whose ERROR line names them otherwise than the SUMMARY does. */
const ERROR_LINE_TYPES: readonly [RegExp, string][] = [
  [/^attempting double-free\b/, "double-free"],
  [/^attempting free on address which was not malloc\(\)-ed\b/, "bad-free"],
  [/^requested allocation size\b/, "allocation-size-too-big"],
  [/^(?:allocator is out of memory|out of memory|failed to allocate)\b/, "out-of-memory"],
  [/^calloc parameters overflow\b/, "calloc-overflow"],
  [/^pvalloc parameters overflow\b/, "pvalloc-overflow"],
  [/^invalid alignment requested\b/, "invalid-aligned-alloc-alignment"],
];

/**
 * The AddressSanitizer report in `text` (the first, if there are several),
 * or undefined when it has none (a LeakSanitizer-only report included).
 */
export function parseAsanReport(text: string): AsanReport | undefined {
  const lines = text.replace(ANSI, "").split(/\r?\n/);
  const start = lines.findIndex((l) => ERROR_LINE.test(l));
  if (start < 0) return undefined;
  const what = ERROR_LINE.exec(lines[start]!)![1]!.trim();

  // The access and the first stack come before the report's first blank line.
  let access: string | undefined;
  const frames: AsanFrame[] = [];
  let i = start + 1;
  for (; i < lines.length && lines[i]!.trim() !== ""; i++) {
    const line = lines[i]!.replace(/^==\d+==/, "").trim();
    if (FRAME_LINE.test(line)) break;
    if (/^(?:READ|WRITE) of size \d+/.test(line) || /^The signal is caused by/.test(line)) {
      access ??= line.replace(/\.$/, "");
    }
  }
  for (; i < lines.length; i++) {
    const frame = parseFrame(lines[i]!);
    if (!frame || (frames.length === 0 && frame.index !== 0)) break;
    frames.push(frame);
  }

  let errorType: string | undefined;
  let summary: string | undefined;
  for (let j = start + 1; j < lines.length; j++) {
    const line = lines[j]!;
    if (ERROR_LINE.test(line)) break; // the next report
    const m = SUMMARY_LINE.exec(line);
    if (m) {
      errorType = m[1]!;
      summary = line.slice("SUMMARY: ".length).trim();
      break;
    }
  }
  errorType ??= typeFromErrorLine(what);
  summary ??= `AddressSanitizer: ${what}`;

  const top = topFrame(frames);
  const report: AsanReport = { errorType, summary, frames };
  if (access !== undefined) report.access = access;
  if (top) {
    report.top = top;
    if (top.file !== undefined && top.line !== undefined) {
      report.location = `${top.file.slice(top.file.lastIndexOf("/") + 1)}:${top.line}`;
    }
  }
  return report;
}

/** The error type from the ERROR line's text: its first word, or the SUMMARY's name where they differ. */
function typeFromErrorLine(what: string): string {
  for (const [pattern, type] of ERROR_LINE_TYPES) if (pattern.test(what)) return type;
  return /^[^\s:]+/.exec(what)?.[0] ?? "unknown-crash";
}

/**
 * One stack frame line, or undefined when the line is none. Its text after
 * the pc is `in <function> <file>:<line>[:<column>]`,
 * `in <function> (<module>+<offset>)`, `(<module>+<offset>)` or
 * `in <function>`, perhaps followed by `(BuildId: <hex>)`; C++ function
 * names may hold spaces.
 */
function parseFrame(line: string): AsanFrame | undefined {
  const m = FRAME_LINE.exec(line.trimEnd());
  if (!m) return undefined;
  const frame: AsanFrame = { index: Number(m[1]), pc: m[2]! };
  let rest = m[3]!.replace(BUILD_ID, "").trim();
  const mod = MODULE_OFFSET.exec(rest);
  if (mod) {
    frame.module = mod[1]!;
    frame.offset = mod[2]!;
    rest = rest.slice(0, mod.index).trim();
  }
  if (!rest.startsWith("in ")) return frame;
  rest = rest.slice(3).trim();
  if (!mod) {
    // The location is the last word (a C++ function name may hold spaces; a path is taken to hold none).
    const space = rest.lastIndexOf(" ");
    const at = FILE_LINE.exec(rest.slice(space + 1));
    if (at) {
      frame.file = at[1]!;
      const lineNo = Number(at[2]);
      if (lineNo > 0) frame.line = lineNo;
      if (at[3] !== undefined && Number(at[3]) > 0) frame.column = Number(at[3]);
      rest = space < 0 ? "" : rest.slice(0, space).trim();
    }
  }
  if (rest !== "") frame.function = rest.replace(/\+0x[0-9a-fA-F]+$/, "");
  return frame;
}

/** libc functions that sanitizer interceptors wrap: reached from the runtime, they are not where the bug is. */
const LIBC_STRING_FUNCTIONS = new Set([
  "memcpy",
  "memmove",
  "memset",
  "memcmp",
  "bcmp",
  "memchr",
  "memrchr",
  "memmem",
  "mempcpy",
  "strlen",
  "strnlen",
  "strcpy",
  "strncpy",
  "stpcpy",
  "stpncpy",
  "strcat",
  "strncat",
  "strcmp",
  "strncmp",
  "strcasecmp",
  "strncasecmp",
  "strchr",
  "strrchr",
  "strchrnul",
  "strstr",
  "strcasestr",
  "strdup",
  "strndup",
  "strspn",
  "strcspn",
  "strpbrk",
  "strtok",
  "wcslen",
  "wcsnlen",
  "wcscpy",
  "wcsncpy",
  "wmemcpy",
  "wmemset",
]);
/** glibc's per-CPU variants (`__memmove_avx_unaligned_erms`, `__strlen_avx2`, `__memcpy_generic`) and aliases. */
const LIBC_STRING_VARIANT = /^__(?:mem|str|stp|wmem|wcs)[a-z]*(?:_[a-z0-9]+)+$|^__GI_(?:mem|str|stp)[a-z]*$/;
/** libc's abort and assert machinery: an abort happened in its caller. */
const LIBC_ABORT_FUNCTIONS =
  /^(?:__pthread_kill_implementation|__pthread_kill_internal|pthread_kill|__GI___pthread_kill|raise|__GI_raise|gsignal|abort|__GI_abort|__assert_fail_base|__assert_fail|__GI___assert_fail|__assert_perror_fail)$/;

/** Whether a frame is in the sanitizer runtime: its module or file, or its function's name, says so. */
function inSanitizerRuntime(f: AsanFrame): boolean {
  for (const path of [f.module, f.file]) {
    if (path === undefined) continue;
    if (
      path.split("/").some((part) =>
        part.startsWith("libasan") || part.startsWith("libclang_rt") || part === "libsanitizer" ||
        part === "compiler-rt"
      )
    ) return true;
  }
  const fn = f.function;
  return fn !== undefined &&
    /^(?:__interceptor_|___interceptor_|__asan_|__sanitizer_|__lsan_|__ubsan_|__interceptor_trampoline_)/.test(fn);
}

function inLibcHelper(f: AsanFrame): "string" | "abort" | undefined {
  const fn = f.function;
  if (fn === undefined) return undefined;
  if (LIBC_STRING_FUNCTIONS.has(fn) || LIBC_STRING_VARIANT.test(fn)) return "string";
  if (LIBC_ABORT_FUNCTIONS.test(fn)) return "abort";
  return undefined;
}

/**
 * The first frame outside the sanitizer runtime. Leading libc string
 * functions are skipped too when the runtime's interceptor is among the
 * leading frames (the call went through it), and leading libc abort frames
 * (`raise`, `abort`, `__assert_fail`) always: the bug is in their caller.
 */
function topFrame(frames: readonly AsanFrame[]): AsanFrame | undefined {
  let sawRuntime = false;
  let firstLibcString: AsanFrame | undefined;
  for (const f of frames) {
    if (inSanitizerRuntime(f)) {
      sawRuntime = true;
      continue;
    }
    const helper = inLibcHelper(f);
    if (helper === "abort") continue;
    if (helper === "string") {
      firstLibcString ??= f;
      continue;
    }
    return firstLibcString && !sawRuntime ? firstLibcString : f;
  }
  return firstLibcString;
}
