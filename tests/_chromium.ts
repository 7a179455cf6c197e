/**
 * Headless Chromium for the tests of self-contained HTML pages: {@link renderPage} opens a local file in a fresh
 * Chromium (Debian's `chromium`), driven over the DevTools protocol, and reports what a test asserts to say the page
 * rendered: the errors it logged, the requests it made (none, for a self-contained page), the size of the elements
 * asked for, its title, and a PNG screenshot with whether that is blank.
 *
 * Each call starts its own browser in a fresh temporary directory (its profile, and its XDG config and cache homes, so
 * nothing lands in $HOME), and whatever happens (a timeout included) stops it, waits for it and for the processes it
 * started, closes the DevTools socket, clears its timers and removes the directory before it returns: the tests stay
 * clean under Deno's sanitizers. No host name resolves in that browser, IP addresses included: a request off the
 * machine (http, https, ws, ...) is reported and fails at once (`net::ERR_NAME_NOT_RESOLVED`, in `consoleErrors`), but
 * sends nothing and keeps nothing waiting. Tests that need the browser are ignored when there is none, with
 * {@link NO_CHROMIUM_REASON} appended to their names.
 *
 * @example
 * ```ts ignore
 * import assert from "node:assert/strict";
 * import { CHROMIUM, NO_CHROMIUM_REASON, renderPage } from "./_chromium.ts";
 *
 * Deno.test({
 *   name: "the HTML report draws its plot, alone" + NO_CHROMIUM_REASON,
 *   ignore: CHROMIUM === undefined,
 *   fn: async () => {
 *     const page = await renderPage("build/report.html", { selectors: ["svg"] });
 *     assert.deepEqual(page.consoleErrors, []);
 *     assert.deepEqual(page.requests, []);
 *     assert.equal(page.elements.svg!.count, 1);
 *     assert.ok(page.nonBlank);
 *   },
 * });
 * ```
 *
 * @module
 */
import { Buffer } from "node:buffer";
import { join, resolve } from "node:path";
import { pathToFileURL } from "node:url";
import { inflateSync } from "node:zlib";

/** The Chromium binary: `/usr/bin/chromium`, else the first of `chromium`, `chromium-browser`, `google-chrome` on PATH. */
export const CHROMIUM: string | undefined = findChromium();

/** Appended to the name of a test that needs Chromium, and ignored, when it is absent; "" when it is there. */
export const NO_CHROMIUM_REASON: string = CHROMIUM === undefined
  ? " (ignored: chromium is absent; Debian: apt-get install chromium, as .ci/run does)"
  : "";

/** What {@link renderPage} does. */
export interface RenderOptions {
  /** Viewport width in CSS pixels (device scale factor 1); default 1280. */
  width?: number;
  /** Viewport height in CSS pixels; default 800. */
  height?: number;
  /** CSS selectors to count and measure ("svg", "table", ...); default none. */
  selectors?: string[];
  /** The whole render, from launch to screenshot, must take no longer (ms); default 30 000. */
  timeoutMs?: number;
}

/** The elements one selector matched. */
export interface ElementsFound {
  count: number;
  /** Each one's `getBoundingClientRect()` size, in document order. */
  sizes: { width: number; height: number }[];
}

/** Its pixels, as far as telling a blank screenshot goes. */
export interface PixelSummary {
  width: number;
  height: number;
  /** How many distinct pixel values. */
  distinctColours: number;
  /** The share (0 to 1) of pixels not of the most common value. */
  offDominantShare: number;
}

/** What {@link renderPage} saw of a page, once loaded and settled. */
export interface PageRender {
  /** `document.title`. */
  title: string;
  /**
   * In the order they came: `console.error` messages and failed `console.assert`s, uncaught exceptions (with their
   * stack), and the browser's error log entries (a resource that failed to load, with its URL).
   */
  consoleErrors: string[];
  /**
   * URLs of the requests the page made (WebSockets' included), in order, but the page itself and data: and blob: URLs
   * (the page's own bytes): a self-contained page makes none. A file next to it counts (`file:` URLs).
   */
  requests: string[];
  /** For each of `options.selectors`. */
  elements: Record<string, ElementsFound>;
  /** A PNG of the viewport. */
  screenshot: Uint8Array;
  /** The screenshot's pixels, summed up. */
  pixels: PixelSummary;
  /** The screenshot is not one uniform colour: two colours at least, and 1% of its pixels off the commonest. */
  nonBlank: boolean;
}

/** Below this share of pixels off the commonest colour, a screenshot counts as blank (speckles, a caret). */
const BLANK_SHARE = 0.01;
/** After Browser.close, how long Chromium gets to exit before SIGTERM; then as long again before SIGKILL. */
const EXIT_MS = 3000;
/** Each render's temporary directory starts so, then the test process's pid: what {@link processesMentioning} finds. */
export const TEMP_PREFIX = "plugcheck-chromium-";
/** Stderr lines kept for error messages. */
const TAIL_LINES = 12;

/**
 * Opens `htmlPath` (a local file) in a fresh headless Chromium at the viewport size, waits for its load event and two
 * animation frames, and reports what it saw ({@link PageRender}). Rejects when Chromium is absent, the file does not
 * load, a selector is not valid, or it all takes longer than `timeoutMs` (naming the step that hung); the browser is
 * stopped and its directory removed in every case.
 */
export async function renderPage(htmlPath: string, options: RenderOptions = {}): Promise<PageRender> {
  const { width = 1280, height = 800, selectors = [], timeoutMs = 30_000 } = options;
  const what = `renderPage(${htmlPath})`;
  if (!(timeoutMs > 0 && timeoutMs <= 2 ** 31 - 1)) throw new RangeError(`${what}: timeoutMs must be 1 to 2^31-1 ms`);
  if (CHROMIUM === undefined) throw new Error(`${what}: chromium is absent; Debian: apt-get install chromium`);
  const url = pathToFileURL(resolve(htmlPath)).href;
  const home = await Deno.makeTempDir({ prefix: `${TEMP_PREFIX}${Deno.pid}-` });
  const deadline = new Deadline(what, timeoutMs);
  let browser: Browser | undefined;
  try {
    browser = new Browser(CHROMIUM, home, width, height);
    const b = browser;
    deadline.onFail(() => b.stderrTail());
    deadline.watch(b.exited.then((s) => Promise.reject(new Error(`chromium exited (status ${s.code})`))));

    const endpoint = await deadline.run("waiting for chromium's DevTools endpoint", b.endpoint);
    const page = new PageEvents();
    const cdp = b.connect(endpoint, (e) => page.take(e));
    await deadline.run("connecting to DevTools", cdp.opened);
    deadline.watch(cdp.closed.then(() => Promise.reject(new Error("chromium closed the DevTools connection"))));

    deadline.step = "opening a page";
    const { targetId } = await deadline.run(deadline.step, cdp.send("Target.createTarget", { url: "about:blank" }));
    const attached = await deadline.run(deadline.step, cdp.send("Target.attachToTarget", { targetId, flatten: true }));
    const session = page.session = String(attached.sessionId);
    const send = (method: string, params: Json = {}) => deadline.run(deadline.step, cdp.send(method, params, session));
    await send("Emulation.setDeviceMetricsOverride", { width, height, deviceScaleFactor: 1, mobile: false });
    for (const domain of ["Runtime", "Log", "Network", "Page"]) await send(`${domain}.enable`);
    await send("Page.setLifecycleEventsEnabled", { enabled: true });

    deadline.step = `navigating to ${url}`;
    const nav = await send("Page.navigate", { url });
    if (typeof nav.errorText === "string" && nav.errorText !== "") throw new Error(`${what}: ${nav.errorText}`);
    await deadline.run("waiting for the page's load event", page.loaded(String(nav.loaderId)));

    deadline.step = "letting the page settle (fonts, two animation frames)";
    await evaluate(send, SETTLE, true);
    deadline.step = "measuring the elements";
    const seen = await evaluate(send, measuring(selectors)) as Measured;
    deadline.step = "taking a screenshot";
    const shot = await send("Page.captureScreenshot", { format: "png" });
    const screenshot = new Uint8Array(Buffer.from(String(shot.data), "base64"));
    const pixels = summarizePng(screenshot);
    return {
      title: seen.title,
      consoleErrors: [...page.errors],
      requests: page.requests.filter((r) => r !== url && r !== seen.url),
      elements: seen.elements,
      screenshot,
      pixels,
      nonBlank: pixels.distinctColours >= 2 && pixels.offDominantShare >= BLANK_SHARE,
    };
  } finally {
    deadline.clear();
    await browser?.stop();
    await removeDir(home);
  }
}

/**
 * Decodes a PNG far enough to tell whether it is blank: its size, how many distinct pixel values it has, and the share
 * of pixels that differ from the commonest. Any colour type and bit depth, not interlaced; pixel values are compared
 * as stored (palette indices for a palette image).
 */
export function summarizePng(png: Uint8Array): PixelSummary {
  const SIGNATURE = [0x89, 0x50, 0x4e, 0x47, 0x0d, 0x0a, 0x1a, 0x0a];
  if (png.length < 8 || SIGNATURE.some((b, i) => png[i] !== b)) throw new Error("not a PNG: bad signature");
  const view = new DataView(png.buffer, png.byteOffset, png.byteLength);
  let header: { width: number; height: number; bitDepth: number; colourType: number; interlace: number } | undefined;
  const idat: Uint8Array[] = [];
  for (let at = 8; at + 8 <= png.length;) {
    const length = view.getUint32(at);
    const type = String.fromCharCode(...png.subarray(at + 4, at + 8));
    const data = png.subarray(at + 8, at + 8 + length);
    if (data.length !== length) throw new Error(`not a PNG: chunk ${type} is cut short`);
    at += 12 + length;
    if (type === "IHDR") {
      header = {
        width: view.getUint32(data.byteOffset - png.byteOffset),
        height: view.getUint32(data.byteOffset - png.byteOffset + 4),
        bitDepth: data[8]!,
        colourType: data[9]!,
        interlace: data[12]!,
      };
    } else if (type === "IDAT") idat.push(data);
    else if (type === "IEND") break;
  }
  if (header === undefined) throw new Error("not a PNG: no IHDR chunk");
  const { width, height, bitDepth, colourType, interlace } = header;
  if (interlace !== 0) throw new Error("interlaced PNGs are not supported");
  const channels = ({ 0: 1, 2: 3, 3: 1, 4: 2, 6: 4 } as Record<number, number>)[colourType];
  if (channels === undefined) throw new Error(`not a PNG: colour type ${colourType}`);
  const bits = channels * bitDepth;
  const bpp = Math.max(1, bits >> 3); // bytes a complete pixel takes, at least 1 (the filters' "left" distance)
  const stride = Math.ceil((width * bits) / 8);
  const raw = inflateSync(Buffer.concat(idat));
  if (raw.length < height * (stride + 1)) throw new Error(`PNG data is short: ${raw.length} bytes for ${height} rows`);

  const counts = new Map<number | string, number>();
  let prev = new Uint8Array(stride), row = new Uint8Array(stride);
  for (let y = 0; y < height; y++) {
    const at = y * (stride + 1);
    unfilter(raw[at]!, raw.subarray(at + 1, at + 1 + stride), row, prev, bpp);
    countRow(row, width, bits, counts);
    [prev, row] = [row, prev];
  }
  let dominant = 0;
  for (const n of counts.values()) dominant = Math.max(dominant, n);
  const total = width * height;
  return {
    width,
    height,
    distinctColours: counts.size,
    offDominantShare: total === 0 ? 0 : (total - dominant) / total,
  };
}

/** Undoes one scanline's filter (PNG filter types 0 to 4) into `out`, given the previous unfiltered line. */
function unfilter(type: number, line: Uint8Array, out: Uint8Array, prev: Uint8Array, bpp: number): void {
  for (let i = 0; i < line.length; i++) {
    const left = i >= bpp ? out[i - bpp]! : 0, up = prev[i]!, upLeft = i >= bpp ? prev[i - bpp]! : 0;
    let predicted: number;
    switch (type) {
      case 0:
        predicted = 0;
        break;
      case 1:
        predicted = left;
        break;
      case 2:
        predicted = up;
        break;
      case 3:
        predicted = (left + up) >> 1;
        break;
      case 4: {
        const p = left + up - upLeft;
        const pa = Math.abs(p - left), pb = Math.abs(p - up), pc = Math.abs(p - upLeft);
        predicted = pa <= pb && pa <= pc ? left : pb <= pc ? up : upLeft;
        break;
      }
      default:
        throw new Error(`PNG: unknown filter type ${type}`);
    }
    out[i] = (line[i]! + predicted) & 0xff;
  }
}

/** Adds one unfiltered row's pixels to `counts`, keyed by value (a run of one value counted at once). */
function countRow(row: Uint8Array, width: number, bits: number, counts: Map<number | string, number>): void {
  const bytes = bits >> 3;
  const keyOf = (x: number): number | string => {
    if (bits < 8) return (row[(x * bits) >> 3]! >> (8 - bits - ((x * bits) & 7))) & ((1 << bits) - 1);
    if (bytes <= 4) {
      let key = 0;
      for (let i = x * bytes; i < (x + 1) * bytes; i++) key = key * 256 + row[i]!;
      return key;
    }
    return row.subarray(x * bytes, (x + 1) * bytes).join(",");
  };
  let run = 0, current: number | string | undefined;
  for (let x = 0; x < width; x++) {
    const key = keyOf(x);
    if (key === current) {
      run++;
      continue;
    }
    if (current !== undefined) counts.set(current, (counts.get(current) ?? 0) + run);
    current = key;
    run = 1;
  }
  if (current !== undefined) counts.set(current, (counts.get(current) ?? 0) + run);
}

type Json = Record<string, unknown>;
type Send = (method: string, params?: Json) => Promise<Json>;

/** A DevTools protocol event. */
interface CdpEvent {
  method: string;
  params: Json;
  sessionId?: string;
}

/** Waits for the fonts and two animation frames: what the page drew by then is on screen. */
const SETTLE = "document.fonts.ready.then(() => new Promise((done) => " +
  "requestAnimationFrame(() => requestAnimationFrame(() => done(true)))))";

/** What {@link measuring} evaluates to. */
interface Measured {
  title: string;
  url: string;
  elements: Record<string, ElementsFound>;
}

/** An expression the page evaluates to its title, its URL and each selector's elements with their sizes. */
function measuring(selectors: string[]): string {
  return `(() => {
    const elements = {};
    for (const selector of ${JSON.stringify(selectors)}) {
      const found = [...document.querySelectorAll(selector)];
      elements[selector] = {
        count: found.length,
        sizes: found.map((e) => {
          const r = e.getBoundingClientRect();
          return { width: r.width, height: r.height };
        }),
      };
    }
    return { title: document.title, url: location.href, elements };
  })()`;
}

/** Evaluates `expression` in the page and returns its value; a thrown exception rejects with its description. */
async function evaluate(send: Send, expression: string, awaitPromise = false): Promise<unknown> {
  const reply = await send("Runtime.evaluate", { expression, awaitPromise, returnByValue: true });
  const thrown = reply.exceptionDetails as ExceptionDetails | undefined;
  if (thrown !== undefined) throw new Error(`in the page: ${describeException(thrown)}`);
  return (reply.result as RemoteObject | undefined)?.value;
}

/** A Runtime.RemoteObject, as far as read here. */
interface RemoteObject {
  type?: string;
  value?: unknown;
  unserializableValue?: string;
  description?: string;
}

/** A Runtime.ExceptionDetails, as far as read here. */
interface ExceptionDetails {
  text?: string;
  exception?: RemoteObject;
}

function describeValue(o: RemoteObject): string {
  if (o.unserializableValue !== undefined) return o.unserializableValue;
  if (o.value !== undefined && typeof o.value !== "object") return String(o.value);
  return o.description ?? (o.value === undefined ? String(o.type ?? "undefined") : JSON.stringify(o.value));
}

function describeException(d: ExceptionDetails): string {
  const thrown = d.exception === undefined ? "" : describeValue(d.exception);
  return [d.text, thrown].filter((s) => s !== undefined && s !== "").join(" ");
}

/** What the page's session tells: the errors it logged, the requests it made, the loads it finished. */
class PageEvents {
  /** The page's session; events of other sessions (and the browser's) are not the page's. */
  session: string | undefined;
  readonly errors: string[] = [];
  readonly requests: string[] = [];
  readonly #loads = new Set<string>();
  #waiters: (() => void)[] = [];

  take(e: CdpEvent): void {
    if (this.session === undefined || e.sessionId !== this.session) return;
    const p = e.params;
    switch (e.method) {
      case "Runtime.consoleAPICalled": {
        const args = ((p.args ?? []) as RemoteObject[]).map(describeValue).join(" ");
        if (p.type === "error") this.errors.push(args);
        else if (p.type === "assert") this.errors.push(`Assertion failed: ${args}`.trimEnd());
        break;
      }
      case "Runtime.exceptionThrown":
        this.errors.push(describeException(p.exceptionDetails as ExceptionDetails));
        break;
      case "Log.entryAdded": {
        const entry = p.entry as { level?: string; text?: string; url?: string };
        if (entry.level === "error") this.errors.push(entry.text + (entry.url ? ` (${entry.url})` : ""));
        break;
      }
      case "Network.requestWillBeSent": {
        const requested = String((p.request as { url?: string }).url);
        if (!requested.startsWith("data:") && !requested.startsWith("blob:")) this.requests.push(requested);
        break;
      }
      case "Network.webSocketCreated":
        this.requests.push(String(p.url));
        break;
      case "Page.lifecycleEvent":
        if (p.name === "load") this.#loads.add(String(p.loaderId));
        break;
    }
    const waiters = this.#waiters;
    this.#waiters = [];
    for (const w of waiters) w();
  }

  /** Settles when the navigation `loaderId` fired its load event (seen already, or to come). */
  loaded(loaderId: string): Promise<void> {
    return new Promise((done) => {
      const check = () => this.#loads.has(loaderId) ? done() : this.#waiters.push(check);
      check();
    });
  }
}

/** A DevTools protocol connection (one WebSocket; sessions flattened into it). */
class DevTools {
  readonly opened: Promise<void>;
  readonly closed: Promise<void>;
  readonly #ws: WebSocket;
  readonly #pending = new Map<number, { method: string; resolve: (r: Json) => void; reject: (e: Error) => void }>();
  #nextId = 1;
  #isClosed = false;

  constructor(url: string, onEvent: (e: CdpEvent) => void) {
    const ws = this.#ws = new WebSocket(url);
    this.opened = new Promise((opened, failed) => {
      ws.addEventListener("open", () => opened(), { once: true });
      ws.addEventListener("error", () => failed(new Error(`could not connect to ${url}`)), { once: true });
    });
    this.opened.catch(() => {});
    this.closed = new Promise((done) => {
      ws.addEventListener("close", () => {
        this.#isClosed = true;
        for (const p of this.#pending.values()) {
          p.reject(new Error(`DevTools connection closed before ${p.method} replied`));
        }
        this.#pending.clear();
        done();
      }, { once: true });
    });
    ws.addEventListener("message", (m: MessageEvent) => {
      const msg = JSON.parse(String(m.data)) as { id?: number; result?: Json; error?: { message?: string } } & CdpEvent;
      if (msg.id === undefined) return onEvent(msg);
      const waiting = this.#pending.get(msg.id);
      if (waiting === undefined) return;
      this.#pending.delete(msg.id);
      if (msg.error !== undefined) waiting.reject(new Error(`${waiting.method}: ${msg.error.message ?? "failed"}`));
      else waiting.resolve(msg.result ?? {});
    });
  }

  get isOpen(): boolean {
    return !this.#isClosed && this.#ws.readyState === WebSocket.OPEN;
  }

  /** Sends a command (to `session`, else to the browser) and settles with its reply. */
  send(method: string, params: Json = {}, session?: string): Promise<Json> {
    if (!this.isOpen) {
      return Promise.reject(new Error(`${method}: the DevTools connection is not open`));
    }
    const id = this.#nextId++;
    return new Promise((resolve, reject) => {
      this.#pending.set(id, { method, resolve, reject });
      this.#ws.send(
        JSON.stringify(session === undefined ? { id, method, params } : { id, method, params, sessionId: session }),
      );
    });
  }

  /** Closes the socket (if open) and waits for it to be closed, at most `ms`. */
  async close(ms: number): Promise<void> {
    if (!this.#isClosed) {
      try {
        this.#ws.close();
      } catch {
        // closing already
      }
    }
    await within(this.closed, ms);
  }
}

/** A Chromium process with a DevTools endpoint, its stderr kept (the last lines) for error messages. */
class Browser {
  /** The browser's DevTools WebSocket URL, once it said where it listens. */
  readonly endpoint: Promise<string>;
  readonly exited: Promise<Deno.CommandStatus>;
  readonly #child: Deno.ChildProcess;
  readonly #stderr: ReadableStreamDefaultReader<Uint8Array>;
  readonly #stderrDone: Promise<void>;
  readonly #tail: string[] = [];
  #cdp: DevTools | undefined;
  #hasExited = false;

  constructor(binary: string, readonly home: string, width: number, height: number) {
    this.#child = new Deno.Command(binary, {
      args: [
        "--headless=new",
        "--disable-gpu",
        "--no-sandbox",
        "--no-first-run",
        "--no-default-browser-check",
        "--disable-extensions",
        "--disable-background-networking",
        "--disable-component-update",
        "--disable-sync",
        "--disable-breakpad",
        "--disable-dev-shm-usage",
        "--hide-scrollbars",
        "--mute-audio",
        // No host name resolves, IP addresses included: a request off the machine fails at once, sending nothing.
        "--host-resolver-rules=MAP * ~NOTFOUND",
        "--password-store=basic",
        `--user-data-dir=${join(home, "profile")}`,
        "--remote-debugging-port=0",
        "--remote-debugging-address=127.0.0.1",
        `--window-size=${width},${height}`,
        "about:blank",
      ],
      // Its crash handler's database and its caches follow the XDG homes, not --user-data-dir.
      env: { XDG_CONFIG_HOME: join(home, "config"), XDG_CACHE_HOME: join(home, "cache") },
      stdin: "null",
      stdout: "null",
      stderr: "piped",
    }).spawn();
    this.exited = this.#child.status.then((s) => {
      this.#hasExited = true;
      return s;
    });
    this.#stderr = this.#child.stderr.getReader();
    let found: (url: string) => void = () => {};
    let missing: (e: Error) => void = () => {};
    this.endpoint = new Promise((f, m) => {
      found = f;
      missing = m;
    });
    this.endpoint.catch(() => {});
    this.#stderrDone = this.#readStderr(found).then(
      () => missing(new Error("chromium closed its stderr before it said where DevTools listens")),
      (e: unknown) => missing(e instanceof Error ? e : new Error(String(e))),
    );
  }

  async #readStderr(found: (url: string) => void): Promise<void> {
    const decoder = new TextDecoder();
    let partial = "";
    for (;;) {
      const { value, done } = await this.#stderr.read();
      if (done) break;
      const lines = (partial + decoder.decode(value, { stream: true })).split("\n");
      partial = lines.pop()!;
      for (const line of lines) {
        const ws = /DevTools listening on (ws:\/\/\S+)/.exec(line);
        if (ws) found(ws[1]!);
        if (line.trim() === "" || line.includes("dbus/")) continue; // D-Bus is absent in containers: noise
        this.#tail.push(line);
        if (this.#tail.length > TAIL_LINES) this.#tail.shift();
      }
    }
  }

  /** The last lines chromium wrote to stderr (D-Bus noise left out), for an error message. */
  stderrTail(): string {
    return this.#tail.length === 0 ? "" : `\nchromium's stderr ends:\n  ${this.#tail.join("\n  ")}`;
  }

  connect(endpoint: string, onEvent: (e: CdpEvent) => void): DevTools {
    return this.#cdp = new DevTools(endpoint, onEvent);
  }

  /**
   * Stops the browser and waits for everything it holds: Browser.close over DevTools; SIGTERM if it has not exited
   * {@link EXIT_MS} later, SIGKILL after as long again; then its status, the socket closed, stderr read to its end
   * (or cancelled, should a child process of chromium still hold it).
   */
  async stop(): Promise<void> {
    // Asked over DevTools when connected, else SIGTERM at once; then each next step after EXIT_MS if still running.
    const connected = this.#cdp?.isOpen === true;
    const steps = connected ? ["Browser.close", "SIGTERM", "SIGKILL"] as const : ["SIGTERM", "SIGKILL"] as const;
    for (const step of steps) {
      if (this.#hasExited) break;
      if (step === "Browser.close") this.#cdp?.send(step).catch(() => {}); // it may close the socket before replying
      else {
        try {
          this.#child.kill(step);
        } catch {
          // it has exited meanwhile
        }
      }
      if (step === "SIGKILL" || await within(this.exited, EXIT_MS) !== TIMED_OUT) break;
    }
    await this.exited;
    await stopStragglers(this.home);
    await this.#cdp?.close(EXIT_MS);
    if (await within(this.#stderrDone, 1000) === TIMED_OUT) {
      await this.#stderr.cancel().catch(() => {});
      await this.#stderrDone;
    }
  }
}

/** The global deadline of a render: one timer; the step it was at names what hung. */
class Deadline {
  step = "launching chromium";
  readonly #expired: Promise<never>;
  readonly #timer: ReturnType<typeof setTimeout>;
  #fail: (e: Error) => void = () => {};
  #detail: () => string = () => "";

  constructor(readonly what: string, readonly ms: number) {
    this.#expired = new Promise((_, fail) => this.#fail = fail);
    this.#expired.catch(() => {});
    this.#timer = setTimeout(() => this.#fail(this.#error(`timed out after ${ms} ms`)), ms);
  }

  /** Adds to the error messages (chromium's last stderr lines). */
  onFail(detail: () => string): void {
    this.#detail = detail;
  }

  /** Fails every step from now on when `failure` rejects (chromium exited, the socket closed). */
  watch(failure: Promise<never>): void {
    failure.catch((e: unknown) => this.#fail(this.#error(e instanceof Error ? e.message : String(e))));
  }

  /** Waits for `promise` as the step `step`, or fails when the deadline passes or a watched failure comes first. */
  run<T>(step: string, promise: Promise<T>): Promise<T> {
    this.step = step;
    return Promise.race([promise, this.#expired]);
  }

  clear(): void {
    clearTimeout(this.#timer);
  }

  #error(why: string): Error {
    return new Error(`${this.what}: ${why} while ${this.step}${this.#detail()}`);
  }
}

const TIMED_OUT = Symbol("timed out");

/** `promise`'s value, or {@link TIMED_OUT} after `ms`; the timer is cleared either way. */
async function within<T>(promise: Promise<T>, ms: number): Promise<T | typeof TIMED_OUT> {
  let timer: ReturnType<typeof setTimeout> | undefined;
  try {
    return await Promise.race([
      promise,
      new Promise<typeof TIMED_OUT>((r) => timer = setTimeout(() => r(TIMED_OUT), ms)),
    ]);
  } finally {
    clearTimeout(timer);
  }
}

/**
 * Waits (at most {@link EXIT_MS}) for the processes that chromium started and that outlive it for a moment (its crash
 * handlers, which leave its session; a renderer on its way out) to end, then SIGKILLs those left, by pid: each is
 * known by `home` on its command line.
 */
async function stopStragglers(home: string): Promise<void> {
  const end = Date.now() + EXIT_MS;
  for (;;) {
    const left = processesMentioning(home);
    if (left.length === 0) return;
    if (Date.now() >= end) {
      for (const pid of left) {
        try {
          Deno.kill(pid, "SIGKILL");
        } catch {
          // ended meanwhile
        }
      }
      return;
    }
    await new Promise((r) => setTimeout(r, 50));
  }
}

/** Live processes (not zombies) with `text` in an argument: chromium's, by the temporary directory they were given. */
export function processesMentioning(text: string): number[] {
  const found: number[] = [];
  let entries: Iterable<Deno.DirEntry>;
  try {
    entries = Deno.readDirSync("/proc");
  } catch {
    return found; // no /proc: nothing to tell
  }
  for (const e of entries) {
    if (!/^\d+$/.test(e.name) || Number(e.name) === Deno.pid) continue;
    try {
      const stat = Deno.readTextFileSync(`/proc/${e.name}/stat`);
      if (stat.slice(stat.lastIndexOf(")") + 2).startsWith("Z")) continue;
      if (Deno.readTextFileSync(`/proc/${e.name}/cmdline`).includes(text)) found.push(Number(e.name));
    } catch {
      // gone meanwhile
    }
  }
  return found;
}

/** Removes the temporary directory; chromium's last children may still be writing in it for a moment. */
async function removeDir(dir: string): Promise<void> {
  for (let attempt = 1;; attempt++) {
    try {
      await Deno.remove(dir, { recursive: true });
      return;
    } catch (e) {
      if (e instanceof Deno.errors.NotFound) return;
      if (attempt >= 5) throw e;
      await new Promise((r) => setTimeout(r, 100 * attempt));
    }
  }
}

function findChromium(): string | undefined {
  const isExecutable = (path: string) => {
    try {
      const info = Deno.statSync(path);
      return info.isFile && ((info.mode ?? 0o111) & 0o111) !== 0;
    } catch {
      return false;
    }
  };
  if (isExecutable("/usr/bin/chromium")) return "/usr/bin/chromium";
  let dirs: string[];
  try {
    dirs = (Deno.env.get("PATH") ?? "").split(":").filter((d) => d !== "");
  } catch {
    return undefined; // no --allow-env: as good as absent
  }
  for (const name of ["chromium", "chromium-browser", "google-chrome"]) {
    for (const dir of dirs) if (isExecutable(join(dir, name))) return join(dir, name);
  }
  return undefined;
}
