/**
 * The constants x86-64 machine code compares against: a linear sweep of
 * code that decodes each instruction's length (legacy prefixes, REX, VEX,
 * EVEX, the one-byte, 0F, 0F38 and 0F3A opcode maps, ModRM, SIB,
 * displacements and immediates) and reports the instructions that compare
 * with an immediate: `cmp` (3C, 3D, 80/81/83 /7) and `test` (A8, A9, F6/F7
 * /0), and the 64-bit constants `movabs` loads (B8+r with REX.W, how gcc
 * compares 8 bytes at once). Bytes that are no instruction are skipped one
 * at a time, as `objdump -d` shows them as `(bad)`; a sweep started at each
 * function's first byte stays in step with the code as objdump's does.
 *
 * The fuzzer's dictionary reads these (`lib/fuzz/parent/binary_dictionary.ts`):
 * a plugin built without coverage instrumentation still tells, in its
 * compare instructions, which bytes it looks for.
 *
 * @example
 * ```ts
 * import assert from "node:assert/strict";
 * import { immediateCompares } from "./x86_compares.ts";
 * // cmp $0x41,%al; jne +2; test $0x80,%dil; cmpw $0x4b50,(%rdi)
 * const code = new Uint8Array([0x3c, 0x41, 0x75, 0x02, 0x40, 0xf6, 0xc7, 0x80, 0x66, 0x81, 0x3f, 0x50, 0x4b]);
 * const found = immediateCompares(code, 0x1000);
 * assert.deepEqual(found.map((c) => [c.address, c.op, c.size, c.value]), [
 *   [0x1000, "cmp", 1, 0x41n],
 *   [0x1004, "test", 1, 0x80n],
 *   [0x1008, "cmp", 2, 0x4b50n],
 * ]);
 * ```
 *
 * @module
 */

/** One instruction that compares with (or, for `movabs`, loads) a constant. */
export interface ImmediateCompare {
  /** The instruction's address (`base` plus its offset in the code). */
  address: number;
  op: "cmp" | "test" | "movabs";
  /** Operand size in bytes: what the constant is compared with. */
  size: 1 | 2 | 4 | 8;
  /** The constant at the operand size, as an unsigned number (an imm8 or imm32 sign-extended to it). */
  value: bigint;
  /**
   * When the compare reads memory at a register plus a displacement (`cmpb $0x7e,0x1(%rsi)`): the register
   * (0-15, as in the REX-extended ModRM encoding) and the displacement. Compares of one register at
   * neighbouring displacements are one guard on neighbouring bytes.
   */
  memory?: { base: number; disp: number };
}

const LEGACY_PREFIXES = new Set([0xf0, 0xf2, 0xf3, 0x2e, 0x36, 0x3e, 0x26, 0x64, 0x65, 0x66, 0x67]);

/** One-byte opcodes with a ModRM byte. */
const MODRM_1 = new Set<number>([
  ...[0x00, 0x08, 0x10, 0x18, 0x20, 0x28, 0x30, 0x38].flatMap((b) => [b, b + 1, b + 2, b + 3]),
  0x63,
  0x69,
  0x6b,
  ...range(0x80, 0x8f),
  0xc0,
  0xc1,
  0xc6,
  0xc7,
  ...range(0xd0, 0xd3),
  ...range(0xd8, 0xdf),
  0xf6,
  0xf7,
  0xfe,
  0xff,
]);

/** One-byte opcodes with an 8-bit immediate (or rel8). */
const IMM8_1 = new Set<number>([
  ...[0x04, 0x0c, 0x14, 0x1c, 0x24, 0x2c, 0x34, 0x3c],
  0x6a,
  0x6b,
  ...range(0x70, 0x7f),
  0x80,
  0x83,
  0xa8,
  ...range(0xb0, 0xb7),
  0xc0,
  0xc1,
  0xc6,
  0xcd,
  ...range(0xe0, 0xe7),
  0xeb,
]);

/** One-byte opcodes with a 16- or 32-bit immediate (by the operand size). */
const IMMZ_1 = new Set<number>([0x05, 0x0d, 0x15, 0x1d, 0x25, 0x2d, 0x35, 0x3d, 0x68, 0x69, 0x81, 0xa9, 0xc7]);

/** 0F opcodes without a ModRM byte. */
const NO_MODRM_0F = new Set<number>([
  0x05,
  0x06,
  0x07,
  0x08,
  0x09,
  0x0b,
  0x0e,
  ...range(0x30, 0x37),
  0x77,
  ...range(0x80, 0x8f),
  0xa0,
  0xa1,
  0xa2,
  0xa8,
  0xa9,
  0xaa,
  ...range(0xc8, 0xcf),
]);

/** 0F opcodes (and their VEX/EVEX forms) with an 8-bit immediate. */
const IMM8_0F = new Set<number>([0x70, 0x71, 0x72, 0x73, 0xa4, 0xac, 0xba, 0xc2, 0xc4, 0xc5, 0xc6]);

function range(from: number, to: number): number[] {
  return Array.from({ length: to - from + 1 }, (_, i) => from + i);
}

/** Bytes of a ModRM operand (the ModRM byte, a SIB byte, the displacement) at `at`, or -1 past the end. */
function modrmLength(code: Uint8Array, at: number): number {
  const modrm = code[at];
  if (modrm === undefined) return -1;
  const mod = modrm >> 6;
  const rm = modrm & 7;
  if (mod === 3) return 1;
  let n = 1;
  if (rm === 4) {
    const sib = code[at + 1];
    if (sib === undefined) return -1;
    n++;
    if (mod === 0 && (sib & 7) === 5) n += 4;
  } else if (mod === 0 && rm === 5) n += 4; // RIP-relative
  if (mod === 1) n += 1;
  if (mod === 2) n += 4;
  return n;
}

/** The register and displacement of a ModRM memory operand at `at` with no index register, or undefined. */
function memoryOperand(code: Uint8Array, at: number, rexB: number): { base: number; disp: number } | undefined {
  const modrm = code[at]!;
  const mod = modrm >> 6;
  let rm = modrm & 7;
  if (mod === 3 || (mod === 0 && rm === 5)) return undefined; // a register, or RIP-relative
  let dispAt = at + 1;
  if (rm === 4) {
    const sib = code[at + 1]!;
    if (((sib >> 3) & 7) !== 4 || (sib & 7) === 5 && mod === 0) return undefined; // an index, or no base
    rm = sib & 7;
    dispAt++;
  }
  const disp = mod === 1
    ? (code[dispAt]! << 24) >> 24
    : mod === 2
    ? new DataView(code.buffer, code.byteOffset + dispAt, 4).getInt32(0, true)
    : 0;
  return { base: rm | (rexB << 3), disp };
}

/** The little-endian unsigned value of `size` bytes at `at`. */
function readLe(code: Uint8Array, at: number, size: number): bigint {
  let v = 0n;
  for (let i = size - 1; i >= 0; i--) v = (v << 8n) | BigInt(code[at + i]!);
  return v;
}

/** `raw` (an immediate of `from` bytes) sign-extended to `to` bytes, unsigned. */
function signExtend(raw: bigint, from: number, to: number): bigint {
  const bits = BigInt(from * 8);
  const signed = raw >= 1n << (bits - 1n) ? raw - (1n << bits) : raw;
  return BigInt.asUintN(to * 8, signed);
}

/** What one instruction at `at` is: its length (1 for a byte that starts none), and its compare, if any. */
export function decodeInstruction(
  code: Uint8Array,
  at: number,
  end = code.length,
): { length: number; compare?: Omit<ImmediateCompare, "address"> } {
  const bad = { length: 1 };
  let p = at;
  let opsize16 = false;
  let addr32 = false;
  while (p < end && LEGACY_PREFIXES.has(code[p]!) && p - at < 14) {
    if (code[p] === 0x66) opsize16 = true;
    if (code[p] === 0x67) addr32 = true;
    p++;
  }
  let rexW = false;
  let rexB = 0;
  if (p < end && (code[p]! & 0xf0) === 0x40) {
    rexW = (code[p]! & 8) !== 0;
    rexB = code[p]! & 1;
    p++;
  }
  if (p >= end) return bad;
  const op = code[p++]!;
  const z = opsize16 ? 2 : 4; // a "z" immediate
  const osize: 2 | 4 | 8 = rexW ? 8 : opsize16 ? 2 : 4;
  const finish = (length: number) => (length < 0 || at + length > end || length > 15 ? bad : { length });

  // VEX (C4, C5) and EVEX (62): always these in 64-bit mode.
  if (op === 0xc4 || op === 0xc5 || op === 0x62) {
    const prefixBytes = op === 0xc5 ? 1 : op === 0xc4 ? 2 : 3;
    if (p + prefixBytes >= end) return bad;
    const map = op === 0xc5 ? 1 : op === 0xc4 ? code[p]! & 0x1f : code[p]! & 7;
    p += prefixBytes;
    const opcode = code[p++]!;
    if (map === 1 && opcode === 0x77) return finish(p - at); // vzeroupper / vzeroall
    const m = modrmLength(code, p);
    if (m < 0) return bad;
    const imm = map === 3 || (map === 1 && IMM8_0F.has(opcode)) ? 1 : 0;
    return finish(p - at + m + imm);
  }

  if (op === 0x0f) {
    if (p >= end) return bad;
    const op2 = code[p++]!;
    if (op2 === 0x38 || op2 === 0x3a) {
      p++; // the opcode in the three-byte map
      const m = modrmLength(code, p);
      return m < 0 ? bad : finish(p - at + m + (op2 === 0x3a ? 1 : 0));
    }
    if (op2 === 0x0f) { // 3DNow!: ModRM, then the opcode as a suffix byte
      const m = modrmLength(code, p);
      return m < 0 ? bad : finish(p - at + m + 1);
    }
    if (op2 >= 0x80 && op2 <= 0x8f) return finish(p - at + 4); // jcc rel32
    if (NO_MODRM_0F.has(op2)) return finish(p - at);
    const m = modrmLength(code, p);
    return m < 0 ? bad : finish(p - at + m + (IMM8_0F.has(op2) ? 1 : 0));
  }

  // Not valid in 64-bit mode.
  if (
    [0x06, 0x07, 0x0e, 0x16, 0x17, 0x1e, 0x1f, 0x27, 0x2f, 0x37, 0x3f, 0x60, 0x61, 0x82, 0x9a, 0xd4, 0xd5, 0xd6, 0xea]
      .includes(op)
  ) {
    return bad;
  }

  let m = 0;
  let reg = -1;
  if (MODRM_1.has(op)) {
    m = modrmLength(code, p);
    if (m < 0) return bad;
    reg = (code[p]! >> 3) & 7;
  }
  let imm = 0;
  if (IMM8_1.has(op)) imm = 1;
  else if (IMMZ_1.has(op)) imm = z;
  else if (op >= 0xb8 && op <= 0xbf) imm = rexW ? 8 : z;
  else if (op >= 0xa0 && op <= 0xa3) imm = addr32 ? 4 : 8; // moffs
  else if (op === 0xc2 || op === 0xca) imm = 2;
  else if (op === 0xc8) imm = 3;
  else if (op === 0xe8 || op === 0xe9) imm = 4;
  else if (op === 0xf6 && reg <= 1) imm = 1;
  else if (op === 0xf7 && reg <= 1) imm = z;
  const length = p - at + m + imm;
  const done = finish(length);
  if (done.length !== length) return done;

  const immAt = p + m;
  const raw = imm > 0 ? readLe(code, immAt, imm) : 0n;
  const memory = m > 0 ? memoryOperand(code, p, rexB) : undefined;
  const compare = ((): Omit<ImmediateCompare, "address"> | undefined => {
    switch (op) {
      case 0x3c:
        return { op: "cmp", size: 1, value: raw };
      case 0xa8:
        return { op: "test", size: 1, value: raw };
      case 0x3d:
      case 0xa9:
        return { op: op === 0x3d ? "cmp" : "test", size: osize, value: signExtend(raw, imm, osize) };
      case 0x80:
        return reg === 7 ? { op: "cmp", size: 1, value: raw } : undefined;
      case 0x81:
      case 0x83:
        return reg === 7 ? { op: "cmp", size: osize, value: signExtend(raw, imm, osize) } : undefined;
      case 0xf6:
        return reg <= 1 ? { op: "test", size: 1, value: raw } : undefined;
      case 0xf7:
        return reg <= 1 ? { op: "test", size: osize, value: signExtend(raw, imm, osize) } : undefined;
    }
    if (op >= 0xb8 && op <= 0xbf && rexW) return { op: "movabs", size: 8, value: raw };
    return undefined;
  })();
  if (compare === undefined) return { length };
  return { length, compare: memory !== undefined && compare.op !== "movabs" ? { ...compare, memory } : compare };
}

/**
 * The compares with an immediate in `code` (loaded at address `base`), by a
 * linear sweep that starts again at each of `starts` (addresses of
 * functions, as objdump starts at each symbol), in address order.
 */
export function immediateCompares(code: Uint8Array, base: number, starts: readonly number[] = []): ImmediateCompare[] {
  const found: ImmediateCompare[] = [];
  const restarts = [...new Set(starts.map((a) => a - base).filter((o) => o > 0 && o < code.length))].sort((a, b) =>
    a - b
  );
  let next = 0;
  for (let at = 0; at < code.length;) {
    while (next < restarts.length && restarts[next]! <= at) next++;
    // An instruction that runs over a function's start is cut there: the sweep starts again at the function.
    const limit = next < restarts.length ? restarts[next]! : code.length;
    const { length, compare } = decodeInstruction(code, at, code.length);
    if (compare !== undefined) found.push({ address: base + at, ...compare });
    at += length;
    if (at > limit) at = limit;
  }
  return found;
}
