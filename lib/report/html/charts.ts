/**
 * The plots of `--html` pages: line charts described as data (vega-lite),
 * drawn as static SVG by vega without a browser. A page carries the finished
 * SVG, no script: it opens offline, prints, and needs nothing from a CDN.
 * Text that came from a plugin (a method's name as a series) is escaped by
 * the SVG writer like any other text.
 *
 * @example
 * ```ts
 * import assert from "node:assert/strict";
 * import { drawLineCharts } from "./charts.ts";
 * const [svg] = await drawLineCharts([{
 *   title: "exec/s",
 *   x: { title: "seconds" },
 *   y: { title: "exec/s" },
 *   series: [{ name: "run", points: [[0, 0], [1, 120], [2, 130]] }],
 * }]);
 * assert.ok(svg!.startsWith("<svg") && svg!.includes("exec/s"));
 * ```
 *
 * @module
 */
import { loadVega } from "../../util/deps.ts";

/** One line: its name (the legend's) and its points, [x, y]. */
export interface LineSeries {
  name: string;
  points: readonly (readonly [number, number])[];
}

/** An axis: its title, its scale, and optionally fixed ticks with labels of their own. */
export interface Axis {
  title: string;
  scale?: "linear" | "log";
  /** d3 number format of the labels (e.g. "~s" for 1.2k). */
  format?: string;
  /** Ticks at these values, labelled so (e.g. percentiles on a nines axis). */
  ticks?: readonly { value: number; label: string }[];
}

/** A line chart. */
export interface LineChart {
  title: string;
  x: Axis;
  y: Axis;
  series: readonly LineSeries[];
  /** Vertical rules across the plot, each with a short label (e.g. when a finding was made). */
  rules?: readonly { x: number; label: string }[];
  /** Draw each series as steps (a counter) instead of straight segments. */
  step?: boolean;
}

const WIDTH = 640;
const HEIGHT = 190;

// deno-lint-ignore no-explicit-any -- a vega-lite spec is an open JSON document
type Json = Record<string, any>;

function axisOf(a: Axis): Json {
  const axis: Json = { title: a.title, grid: true };
  if (a.format !== undefined) axis.format = a.format;
  if (a.ticks !== undefined) {
    axis.values = a.ticks.map((t) => t.value);
    // The labels are looked up by tick value in a table built here from plugcheck's own constants.
    const table = Object.fromEntries(a.ticks.map((t) => [String(t.value), t.label]));
    axis.labelExpr = `${JSON.stringify(table)}[toString(datum.value)] || ''`;
  }
  return axis;
}

function specOf(chart: LineChart): Json {
  const rows = chart.series.flatMap((s) => s.points.map(([x, y]) => ({ x, y, series: s.name })));
  const few = chart.series.every((s) => s.points.length <= 3);
  const scale = (a: Axis): Json => a.scale === "log" ? { type: "log" } : { zero: false };
  const layers: Json[] = [{
    data: { values: rows },
    mark: { type: "line", interpolate: chart.step ? "step-after" : "linear", point: few, clip: true },
    encoding: {
      x: { field: "x", type: "quantitative", scale: scale(chart.x), axis: axisOf(chart.x) },
      y: { field: "y", type: "quantitative", scale: scale(chart.y), axis: axisOf(chart.y) },
      color: {
        field: "series",
        type: "nominal",
        legend: chart.series.length > 1 ? { title: null, orient: "bottom", labelLimit: 400 } : null,
      },
    },
  }];
  if (chart.rules !== undefined && chart.rules.length > 0) {
    // Labels in five rows, so that findings made close together stay readable.
    const marks = chart.rules.map((r, i) => ({ x: r.x, label: r.label, row: 2 + (i % 5) * 12 }));
    layers.push({
      data: { values: marks },
      mark: { type: "rule", color: "#c0392b", strokeDash: [4, 3] },
      encoding: { x: { field: "x", type: "quantitative" } },
    }, {
      data: { values: marks },
      mark: { type: "text", color: "#c0392b", align: "left", baseline: "top", dx: 3, fontSize: 10, limit: 160 },
      encoding: {
        x: { field: "x", type: "quantitative" },
        y: { field: "row", type: "quantitative", scale: null },
        text: { field: "label" },
      },
    });
  }
  return {
    $schema: "https://vega.github.io/schema/vega-lite/v6.json",
    title: chart.title,
    width: WIDTH,
    height: HEIGHT,
    background: "white",
    config: { font: "system-ui, sans-serif", view: { stroke: "#ccc" } },
    layer: layers,
  };
}

/**
 * Draws the charts as SVG documents (one string each, in order). Ids inside
 * each one are prefixed with its index, so that many can share a page.
 */
export async function drawLineCharts(charts: readonly LineChart[], idPrefix = "chart"): Promise<string[]> {
  if (charts.length === 0) return [];
  const { vega, compile } = await loadVega();
  const out: string[] = [];
  for (const [i, chart] of charts.entries()) {
    const view = new vega.View(vega.parse(compile(specOf(chart) as never).spec), { renderer: "none" });
    const svg = await view.toSVG();
    view.finalize();
    const prefix = `${idPrefix}${i}-`;
    out.push(svg.replace(/\bid="([^"]+)"/g, `id="${prefix}$1"`).replace(/url\(#([^)]+)\)/g, `url(#${prefix}$1)`));
  }
  return out;
}
