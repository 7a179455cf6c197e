/**
 * The native LADSPA adapter (native/adapters/ladspa/, built to build/adapters/libnpa_ladspa.so), called directly
 * through Deno.dlopen: npa_adapter_open's refusals, describe of Debian's example amp.so, and one invoke. Each test
 * opens a private copy of the adapter (its globals are per loaded image, as plugcheck's seam uses it).
 *
 * @module
 */
import assert from "node:assert/strict";
import { join } from "node:path";
import { fixture, isFile, ROOT } from "./_helpers.ts";

const ADAPTER = join(ROOT, "build", "adapters", "libnpa_ladspa.so");
const AMP = "/usr/lib/ladspa/amp.so";
const NO_AMP = !(await isFile(AMP));
/** Appended to the name of a test that needs amp.so, and ignored, when it is absent. */
const NEEDS_AMP = NO_AMP ? ` (ignored: ${AMP} is absent; Debian: apt-get install ladspa-sdk, as .ci/run does)` : "";

const SYMBOLS = {
  npa_adapter_open: { parameters: ["buffer", "usize", "buffer"], result: "i32" },
  npa_plugin_init: { parameters: ["buffer", "buffer"], result: "i32" },
  npa_plugin_describe: { parameters: ["buffer"], result: "i32" },
  npa_plugin_stats: { parameters: ["buffer"], result: "i32" },
  npa_instance_create: { parameters: ["buffer", "usize", "buffer", "buffer"], result: "i32" },
  npa_instance_invoke: {
    parameters: ["pointer", "buffer", "usize", "buffer", "usize", "buffer", "buffer"],
    result: "i32",
  },
  npa_instance_destroy: { parameters: ["pointer"], result: "void" },
  npa_buffer_free: { parameters: ["pointer", "usize"], result: "void" },
  npa_plugin_shutdown: { parameters: [], result: "void" },
} as const;

type Adapter = Deno.DynamicLibrary<typeof SYMBOLS>;
const NPA_OK = 0, NPA_INVALID_INPUT = 1, NPA_UNKNOWN_METHOD = 2, NPA_PANIC = 4, NPA_STATE = 7;
const enc = new TextEncoder();
const dec = new TextDecoder();

/** Opens a private copy of the adapter, runs `body`, closes and removes the copy. */
async function withAdapter(body: (lib: Adapter) => void): Promise<void> {
  const dir = await Deno.makeTempDir({ prefix: "plugcheck-ladspa-" });
  try {
    const copy = join(dir, "libnpa_ladspa.so");
    await Deno.copyFile(ADAPTER, copy);
    const lib = Deno.dlopen(copy, SYMBOLS);
    try {
      body(lib);
    } finally {
      lib.close();
    }
  } finally {
    await Deno.remove(dir, { recursive: true });
  }
}

/** Reads and frees the NpaBuf the adapter wrote into `buf` ("" when empty). */
function take(lib: Adapter, buf: BigUint64Array): string {
  const [ptr = 0n, len = 0n] = buf;
  if (ptr === 0n) return "";
  const bytes = new Uint8Array(Number(len));
  new Deno.UnsafePointerView(Deno.UnsafePointer.create(ptr)!).copyInto(bytes);
  lib.symbols.npa_buffer_free(Deno.UnsafePointer.create(ptr), len);
  buf.fill(0n);
  return dec.decode(bytes);
}

/** npa_adapter_open on `target`: the status and the error message (JSON `message`, "" when none). */
function open(lib: Adapter, target: string): { status: number; message: string } {
  const err = new BigUint64Array(2);
  const path = enc.encode(target);
  const status = lib.symbols.npa_adapter_open(path, BigInt(path.length), err);
  const text = take(lib, err);
  return { status, message: text ? JSON.parse(text).message : "" };
}

/** npa_plugin_init with a host that has no log sink. */
function init(lib: Adapter): number {
  const host = new Uint8Array(32);
  const view = new DataView(host.buffer);
  view.setUint32(0, 1 << 16, true);
  view.setUint32(4, 32, true);
  const err = new BigUint64Array(2);
  const status = lib.symbols.npa_plugin_init(host, err);
  take(lib, err);
  return status;
}

Deno.test("npa_adapter_open refuses a library without ladspa_descriptor, and init after it is NPA_STATE", async () => {
  await withAdapter((lib) => {
    const r = open(lib, fixture("ref_c"));
    assert.equal(r.status, NPA_INVALID_INPUT);
    assert.equal(r.message, "the library exports no ladspa_descriptor");
    assert.equal(init(lib), NPA_STATE);
  });
});

Deno.test("npa_adapter_open refuses a missing file with dlerror's words", async () => {
  await withAdapter((lib) => {
    const missing = join(ROOT, "build", "no-such-ladspa-library.so");
    const r = open(lib, missing);
    assert.equal(r.status, NPA_INVALID_INPUT);
    assert.ok(r.message.startsWith("cannot open the LADSPA library: "), r.message);
    assert.ok(r.message.includes(missing), r.message);
  });
});

interface Port {
  name: string;
  direction: string;
  kind: string;
  hints: Record<string, unknown>;
  default_value: number | null;
}
interface Plugin {
  label: string;
  unique_id: number;
  properties: string[];
  ports: Port[];
}

Deno.test({
  name: "npa_plugin_describe lists amp.so's amp_mono and amp_stereo with their ports" + NEEDS_AMP,
  ignore: NO_AMP,
  fn: async () => {
    await withAdapter((lib) => {
      assert.deepEqual(open(lib, AMP), { status: NPA_OK, message: "" });
      assert.equal(init(lib), NPA_OK);
      const out = new BigUint64Array(2);
      assert.equal(lib.symbols.npa_plugin_describe(out), NPA_OK);
      const doc = JSON.parse(take(lib, out));
      assert.equal(doc.name, "amp.so");
      assert.equal(doc.version, "LADSPA 1.1");
      assert.equal(doc.thread_safe_instances, false);
      assert.deepEqual(doc.methods.map((m: { name: string }) => m.name), ["amp_mono", "amp_stereo"]);
      assert.equal(doc.methods[0].input, "bytes");
      assert.equal(doc.methods[0].fuzz, true);
      assert.match(doc.methods[0].description, /\(unique ID 1048\): 1 audio in, 1 audio out, 1 control in, 0 control/);
      assert.equal(doc.adapter.abi, "ladspa");
      const [mono, stereo] = doc.adapter.plugins as Plugin[];
      assert.deepEqual([mono?.label, mono?.unique_id, stereo?.label, stereo?.unique_id], [
        "amp_mono",
        1048,
        "amp_stereo",
        1049,
      ]);
      assert.deepEqual(mono?.properties, ["HARD_RT_CAPABLE"]);
      const ports = (p: Plugin | undefined) => p?.ports.map((x) => `${x.name}:${x.direction}:${x.kind}`);
      assert.deepEqual(ports(mono), ["Gain:input:control", "Input:input:audio", "Output:output:audio"]);
      assert.deepEqual(ports(stereo), [
        "Gain:input:control",
        "Input (Left):input:audio",
        "Output (Left):output:audio",
        "Input (Right):input:audio",
        "Output (Right):output:audio",
      ]);
      // Gain: LOGARITHMIC, bounded below by 0, open above, DEFAULT_1.
      const gain = mono!.ports[0]!;
      assert.deepEqual(
        [gain.hints.bounded_below, gain.hints.bounded_above, gain.hints.logarithmic, gain.hints.lower],
        [true, false, true, 0],
      );
      assert.deepEqual([gain.hints.upper, gain.hints.default, gain.default_value], [null, "1", 1]);
      lib.symbols.npa_plugin_shutdown();
    });
  },
});

Deno.test({
  name: "npa_instance_invoke runs amp_mono: Gain scales an impulse, equal inputs give equal outputs" + NEEDS_AMP,
  ignore: NO_AMP,
  fn: async () => {
    await withAdapter((lib) => {
      assert.equal(open(lib, AMP).status, NPA_OK);
      assert.equal(init(lib), NPA_OK);
      const handle = new BigUint64Array(1), out = new BigUint64Array(2), err = new BigUint64Array(2);
      const config = enc.encode('{"sample_rate":44100,"max_block":64}');
      assert.equal(lib.symbols.npa_instance_create(config, BigInt(config.length), handle, err), NPA_OK, take(lib, err));
      const inst = Deno.UnsafePointer.create(handle[0]!);
      const invoke = (method: string, input: string | Uint8Array) => {
        const m = enc.encode(method), i = typeof input === "string" ? enc.encode(input) : input;
        const status = lib.symbols.npa_instance_invoke(inst, m, BigInt(m.length), i, BigInt(i.length), out, err);
        return { status, out: take(lib, out), err: take(lib, err) };
      };
      try {
        const half = invoke("amp_mono", 'impulse frames=8 "Gain"=0.5');
        assert.equal(half.status, NPA_OK, half.err);
        const summary = JSON.parse(half.out);
        assert.equal(summary.frames, 8);
        assert.deepEqual(
          [summary.outputs[0].port, summary.outputs[0].kind, summary.outputs[0].peak],
          ["Output", "audio", 0.5],
        );
        assert.equal(invoke("amp_mono", "impulse frames=8 #0=0.5").out, half.out);
        assert.equal(invoke("amp_mono", "noise frames=100000").status, NPA_OK); // frames clamped to max_block
        const bad = invoke("amp_mono", "impulse Volume=2");
        assert.equal(bad.status, NPA_INVALID_INPUT);
        assert.match(JSON.parse(bad.err).message, /"Volume"/);
        assert.equal(invoke("amp_surround", "silence").status, NPA_UNKNOWN_METHOD);
        // Binary form: u16 LE frames - 1, u16 LE position of each control input, then int16 LE samples, cyclic.
        // Gain's range is [0, 2] (bounded below by 0, open above: default 1 + 1); 0xffff is its top.
        const binary = JSON.parse(invoke("amp_mono", new Uint8Array([3, 0, 0xff, 0xff, 0x00, 0x40, 0x00, 0xe0])).out);
        assert.equal(binary.frames, 4);
        // Samples 0.5, -0.25, cyclic, times Gain 2: 1, -0.5, 1, -0.5.
        assert.equal(binary.outputs[0].peak, 1);
        assert.ok(Math.abs(binary.outputs[0].rms - Math.sqrt(0.625)) < 1e-6, String(binary.outputs[0].rms));
        const empty = JSON.parse(invoke("amp_mono", new Uint8Array()).out);
        assert.deepEqual([empty.frames, empty.outputs[0].peak], [1, 0]);
      } finally {
        lib.symbols.npa_instance_destroy(inst);
      }
      assert.equal(lib.symbols.npa_plugin_stats(out), NPA_OK);
      assert.deepEqual(JSON.parse(take(lib, out)), {
        live_instances: 0,
        live_buffers: 0,
        init_calls: 1,
        ladspa_instances: 0,
      });
      lib.symbols.npa_plugin_shutdown();
    });
  },
});

Deno.test({
  name:
    "npa_instance_invoke answers PANIC for an output beyond the config's bound, naming the port, frame and controls" +
    NEEDS_AMP,
  ignore: NO_AMP,
  fn: async () => {
    await withAdapter((lib) => {
      assert.equal(open(lib, AMP).status, NPA_OK);
      assert.equal(init(lib), NPA_OK);
      const handle = new BigUint64Array(1), out = new BigUint64Array(2), err = new BigUint64Array(2);
      const config = enc.encode('{"bound": 10}');
      assert.equal(lib.symbols.npa_instance_create(config, BigInt(config.length), handle, err), NPA_OK, take(lib, err));
      const inst = Deno.UnsafePointer.create(handle[0]!);
      try {
        const m = enc.encode("amp_mono"), input = enc.encode("impulse frames=16 Gain=20");
        const status = lib.symbols.npa_instance_invoke(inst, m, 8n, input, BigInt(input.length), out, err);
        assert.equal(take(lib, out), "");
        const message = JSON.parse(take(lib, err)).message;
        assert.equal(status, NPA_PANIC, message);
        assert.equal(
          message,
          'LADSPA plugin "amp_mono" wrote 20 to output port "Output" at frame 0 of 16 (sample rate 48000; controls: Gain=20)',
        );
      } finally {
        lib.symbols.npa_instance_destroy(inst);
      }
      lib.symbols.npa_plugin_shutdown();
    });
  },
});
