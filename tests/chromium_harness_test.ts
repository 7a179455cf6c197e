/**
 * The headless Chromium helper (tests/_chromium.ts) the HTML report's tests stand on: that it sees what it should
 * (an inline SVG's size, a console error, an uncaught exception, a request off the page, a blank page), that it lets
 * no request reach the network, that a page that hangs fails in time naming the step, and that every render leaves no
 * process and no temporary directory behind. Its PNG decoder is checked on its own, against every filter type.
 *
 * @module
 */
import assert from "node:assert/strict";
import { Buffer } from "node:buffer";
import { dirname, join } from "node:path";
import { deflateSync } from "node:zlib";
import {
  CHROMIUM,
  NO_CHROMIUM_REASON,
  type PageRender,
  processesMentioning,
  type RenderOptions,
  renderPage,
  summarizePng,
  TEMP_PREFIX,
} from "./_chromium.ts";

const NO_CHROMIUM = CHROMIUM === undefined;

/**
 * Writes `html` to a page in a temporary directory, renders it (or runs `body` on the path, for a render expected to
 * fail), and checks the render left nothing behind: no chromium process of this test process, no temporary directory.
 */
async function withPage<T>(html: string, body: (path: string) => Promise<T>): Promise<T> {
  const dir = await Deno.makeTempDir({ prefix: "plugcheck-chromium-test-" });
  try {
    const path = join(dir, "page.html");
    await Deno.writeTextFile(path, html);
    return await body(path);
  } finally {
    await Deno.remove(dir, { recursive: true });
    const ours = `${TEMP_PREFIX}${Deno.pid}-`;
    assert.deepEqual(processesMentioning(ours), [], "every chromium process of the render has ended");
    const left = [...Deno.readDirSync(dirname(dir))].filter((e) => e.name.startsWith(ours)).map((e) => e.name);
    assert.deepEqual(left, [], "the render's temporary directory is removed");
  }
}

function render(html: string, options: RenderOptions = {}): Promise<PageRender> {
  return withPage(html, (path) => renderPage(path, options));
}

const page = (body: string, head = "") =>
  `<!doctype html><html><head><meta charset="utf-8">${head}</head><body>${body}</body></html>`;

Deno.test({
  name: "renderPage: an inline SVG plot renders: one svg of 300x200, no errors, no requests, not blank" +
    NO_CHROMIUM_REASON,
  ignore: NO_CHROMIUM,
  fn: async () => {
    const html = page(
      `<h1>Report</h1><svg width="300" height="200" viewBox="0 0 300 200">` +
        `<rect width="300" height="200" fill="#4682b4"/><circle cx="150" cy="100" r="60" fill="#fff"/></svg>`,
      `<title>plugcheck report</title><style>body { font-family: sans-serif; margin: 16px }</style>`,
    );
    const r = await render(html, { width: 800, height: 600, selectors: ["svg", "canvas", "svg rect"] });
    assert.equal(r.title, "plugcheck report");
    assert.deepEqual(r.consoleErrors, []);
    assert.deepEqual(r.requests, []);
    assert.equal(r.elements.svg!.count, 1);
    const [size] = r.elements.svg!.sizes;
    assert.ok(Math.abs(size!.width - 300) < 1 && Math.abs(size!.height - 200) < 1, JSON.stringify(size));
    assert.deepEqual(r.elements.canvas, { count: 0, sizes: [] });
    assert.equal(r.elements["svg rect"]!.count, 1);
    assert.ok(r.nonBlank, JSON.stringify(r.pixels));
    assert.equal(r.pixels.width, 800, "the screenshot is of the viewport asked for");
    assert.equal(r.pixels.height, 600);
    assert.deepEqual([...r.screenshot.subarray(1, 4)], [0x50, 0x4e, 0x47], "the screenshot is a PNG");
  },
});

Deno.test({
  name: "renderPage: console.error's message is among consoleErrors" + NO_CHROMIUM_REASON,
  ignore: NO_CHROMIUM,
  fn: async () => {
    const r = await render(page(`<p>text</p><script>console.log("fine"); console.error("boom")</script>`));
    assert.deepEqual(r.consoleErrors, ["boom"]);
  },
});

Deno.test({
  name: "renderPage: an uncaught exception is among consoleErrors" + NO_CHROMIUM_REASON,
  ignore: NO_CHROMIUM,
  fn: async () => {
    const r = await render(page(`<p>text</p><script>throw new Error("kaboom")</script>`));
    assert.equal(r.consoleErrors.length, 1, r.consoleErrors.join("\n"));
    assert.match(r.consoleErrors[0]!, /Uncaught Error: kaboom/);
  },
});

Deno.test({
  name: "renderPage: a request off the page is listed, with the failed load among consoleErrors" + NO_CHROMIUM_REASON,
  ignore: NO_CHROMIUM,
  fn: async () => {
    const url = "http://127.0.0.1:9/x.png";
    const r = await render(page(`<p>text</p><img src="${url}"><img src="data:image/gif;base64,R0lGODlhAQABAAAAACw=">`));
    assert.deepEqual(r.requests, [url], "data: URLs are not requests");
    assert.equal(r.consoleErrors.length, 1, r.consoleErrors.join("\n"));
    assert.match(r.consoleErrors[0]!, /^Failed to load resource: .*http:\/\/127\.0\.0\.1:9\/x\.png/);
  },
});

Deno.test({
  name: "renderPage: the page's requests never reach the network" + NO_CHROMIUM_REASON,
  ignore: NO_CHROMIUM,
  fn: async () => {
    let hits = 0;
    const server = Deno.serve({ hostname: "127.0.0.1", port: 0, onListen: () => {} }, () => {
      hits++;
      return new Response("");
    });
    try {
      const base = `http://127.0.0.1:${server.addr.port}`;
      const r = await render(
        page(
          `<img src="${base}/a.png"><script>fetch("${base}/b").catch(() => {}); new WebSocket("ws${
            base.slice(4)
          }/c")</script>`,
        ),
      );
      assert.deepEqual(r.requests.toSorted(), [`${base}/a.png`, `${base}/b`, `ws${base.slice(4)}/c`].toSorted());
      assert.equal(hits, 0);
    } finally {
      await server.shutdown();
    }
  },
});

Deno.test({
  name: "renderPage: an empty white page is blank" + NO_CHROMIUM_REASON,
  ignore: NO_CHROMIUM,
  fn: async () => {
    const r = await render(page(""), { width: 640, height: 480 });
    assert.equal(r.nonBlank, false);
    assert.deepEqual(r.pixels, { width: 640, height: 480, distinctColours: 1, offDominantShare: 0 });
    assert.deepEqual(r.consoleErrors, []);
    assert.deepEqual(r.requests, []);
  },
});

Deno.test({
  name: "renderPage: a page that never loads fails in time, naming the step, and leaves nothing behind" +
    NO_CHROMIUM_REASON,
  ignore: NO_CHROMIUM,
  fn: async () => {
    const started = Date.now();
    await assert.rejects(
      render(page(`<script>for (;;) {}</script>`), { timeoutMs: 3000 }),
      /timed out after 3000 ms while waiting for the page's load event/,
    );
    assert.ok(Date.now() - started < 3000 + 10_000, "stopping a hung browser takes seconds at most");
  },
});

Deno.test({
  name: "renderPage: a missing file and a selector that is not one are errors" + NO_CHROMIUM_REASON,
  ignore: NO_CHROMIUM,
  fn: async () => {
    await withPage("", async (path) => {
      await assert.rejects(renderPage(path + ".missing"), /ERR_FILE_NOT_FOUND/);
      await assert.rejects(renderPage(path, { selectors: ["svg["] }), /not a valid selector/);
    });
  },
});

/** PNG colour types: channels a pixel has. */
const CHANNELS: Record<number, number> = { 0: 1, 2: 3, 3: 1, 4: 2, 6: 4 };

/** Encodes rows of raw pixel bytes as a PNG, row `y` filtered with `filterOf(y)` (an encoder of its own, to check against). */
function encodePng(
  width: number,
  colourType: number,
  bitDepth: number,
  rows: Uint8Array[],
  filterOf: (y: number) => number,
): Uint8Array {
  const bpp = Math.max(1, (CHANNELS[colourType]! * bitDepth) >> 3);
  const filtered: number[] = [];
  rows.forEach((row, y) => {
    const prev = rows[y - 1] ?? new Uint8Array(row.length);
    const type = filterOf(y);
    filtered.push(type);
    for (let i = 0; i < row.length; i++) {
      const a = i >= bpp ? row[i - bpp]! : 0, b = prev[i]!, c = i >= bpp ? prev[i - bpp]! : 0;
      const p = a + b - c, pa = Math.abs(p - a), pb = Math.abs(p - b), pc = Math.abs(p - c);
      const paeth = pa <= pb && pa <= pc ? a : pb <= pc ? b : c;
      const predicted = [0, a, b, (a + b) >> 1, paeth][type]!;
      filtered.push((row[i]! - predicted) & 0xff);
    }
  });
  const ihdr = Buffer.alloc(13);
  ihdr.writeUInt32BE(width, 0);
  ihdr.writeUInt32BE(rows.length, 4);
  ihdr.set([bitDepth, colourType, 0, 0, 0], 8);
  // The CRCs are left zero: summarizePng does not read them.
  const chunk = (type: string, data: Uint8Array) => {
    const head = Buffer.alloc(8);
    head.writeUInt32BE(data.length, 0);
    head.write(type, 4, "latin1");
    return Buffer.concat([head, data, Buffer.alloc(4)]);
  };
  const signature = Buffer.from([0x89, 0x50, 0x4e, 0x47, 0x0d, 0x0a, 0x1a, 0x0a]);
  const idat = deflateSync(Buffer.from(filtered));
  // Two IDAT chunks: a decoder must join them.
  const half = idat.length >> 1;
  return new Uint8Array(Buffer.concat([
    signature,
    chunk("IHDR", ihdr),
    chunk("IDAT", idat.subarray(0, half)),
    chunk("IDAT", idat.subarray(half)),
    chunk("IEND", new Uint8Array()),
  ]));
}

const SAMPLE_WIDTH = 16, SAMPLE_HEIGHT = 12;

/**
 * A 16x12 RGBA image, the same every time: half its pixels white, the rest of channels drawn from four values (so the
 * filters' predictors meet ties, and a slip in one carries on along the row), with its expected summary.
 */
function sampleImage(): { rows: Uint8Array[]; distinct: number; offShare: number } {
  let seed = 12345;
  const next = () => (seed = (seed * 1103515245 + 12345) % 2 ** 31) >> 16;
  const pixels: number[][][] = [];
  for (let y = 0; y < SAMPLE_HEIGHT; y++) {
    const row: number[][] = [];
    for (let x = 0; x < SAMPLE_WIDTH; x++) {
      row.push(next() % 2 === 0 ? [255, 255, 255, 255] : [0, 0, 0, 0].map(() => [0, 85, 170, 255][next() % 4]!));
    }
    pixels.push(row);
  }
  const counts = new Map<string, number>();
  for (const row of pixels) for (const p of row) counts.set(p.join(), (counts.get(p.join()) ?? 0) + 1);
  const total = SAMPLE_WIDTH * SAMPLE_HEIGHT;
  return {
    rows: pixels.map((row) => new Uint8Array(row.flat())),
    distinct: counts.size,
    offShare: (total - Math.max(...counts.values())) / total,
  };
}

Deno.test("summarizePng: undoes each filter type (0 to 4) and a mix of them, over IDAT chunks joined", () => {
  const { rows, distinct, offShare } = sampleImage();
  const filterings: [string, (y: number) => number][] = [
    ...[0, 1, 2, 3, 4].map((t): [string, (y: number) => number] => [`filter ${t}`, () => t]),
    ["mixed", (y) => (y * 3 + 1) % 5],
  ];
  for (const [what, filterOf] of filterings) {
    assert.deepEqual(
      summarizePng(encodePng(SAMPLE_WIDTH, 6, 8, rows, filterOf)),
      { width: SAMPLE_WIDTH, height: SAMPLE_HEIGHT, distinctColours: distinct, offDominantShare: offShare },
      what,
    );
  }
});

Deno.test("summarizePng: reads pixels under a byte (1-bit grey) and over four bytes (16-bit RGB)", () => {
  // 10 pixels a row, 1 bit each: two bytes, the last 6 bits padding (set, to be ignored).
  const grey = [new Uint8Array([0b1000_0000, 0b0011_1111]), new Uint8Array([0b0000_0000, 0b0011_1111])];
  assert.deepEqual(summarizePng(encodePng(10, 0, 1, grey, (y) => y * 4)), {
    width: 10,
    height: 2,
    distinctColours: 2,
    offDominantShare: 1 / 20,
  });
  // 2x1 16-bit RGB: two values that differ only in a low byte.
  const rgb16 = [new Uint8Array([1, 2, 3, 4, 5, 6, 1, 2, 3, 4, 5, 7])];
  assert.deepEqual(
    summarizePng(encodePng(2, 2, 16, rgb16, () => 1)),
    { width: 2, height: 1, distinctColours: 2, offDominantShare: 0.5 },
  );
});

Deno.test("summarizePng: refuses what is not a PNG", () => {
  assert.throws(() => summarizePng(new TextEncoder().encode("<svg/>")), /not a PNG/);
});
