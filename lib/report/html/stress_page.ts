/**
 * `plugcheck stress --html FILE`: the stress report as a page. The latency of
 * the plugin's calls as an HDR percentile plot with the dispatch floor (the
 * same loop on no-op instances) beside it; RSS, threads, descriptors, live
 * instances and buffers over the run; the verdicts with their evidence; the
 * run's settings and inputs.
 *
 * @example
 * ```ts ignore
 * import { stressPage } from "./stress_page.ts";
 * await Deno.writeTextFile("stress.html", await stressPage(report));
 * ```
 *
 * @module
 */
import type { StressReport } from "../../stress/report.ts";
import { duration, mib } from "../units.ts";
import { drawLineCharts, type LineChart } from "./charts.ts";
import { NINES_TICKS, ninesOf } from "./nines.ts";
import { facts, type Html, htmlPage, markup, type Section, table, trusted } from "./page.ts";

type Tally = StressReport["run"];

function distribution(name: string, t: Tally | null): { name: string; points: [number, number][] }[] {
  if (t === null || t.latency_distribution.length === 0) return [];
  // One point per nines value (100 % lands where 99.999 % does: the maximum wins).
  const byNines = new Map<number, number>();
  for (const p of t.latency_distribution) byNines.set(ninesOf(p.percentile), p.ms);
  return [{ name, points: [...byNines] }];
}

function latencyRow(name: string, t: Tally | null): unknown[] {
  if (t === null) return [name, "-", "-", "-", "-", "-", "-", "-"];
  const l = t.latency;
  return [
    name,
    t.calls,
    t.per_second,
    duration(l.p50_ms),
    duration(l.p90_ms),
    duration(l.p99_ms),
    duration(l.p999_ms),
    duration(l.max_ms),
  ];
}

function charts(r: StressReport): LineChart[] {
  const out: LineChart[] = [];
  const latency = [...distribution("plugin calls", r.run), ...distribution("dispatch floor (no-op calls)", r.floor)];
  if (latency.length > 0) {
    out.push({
      title: "Latency by percentile (HDR)",
      x: { title: "percentile", ticks: NINES_TICKS },
      y: { title: "ms", scale: "log" },
      series: latency,
      step: true,
    });
  }
  const pts = r.resources.points;
  if (pts.length > 0) {
    const t = (ms: number) => Math.round(ms) / 1000;
    out.push({
      title: "RSS over the run",
      x: { title: "seconds" },
      y: { title: "MiB" },
      series: [{ name: "RSS", points: pts.map((p) => [t(p.t_ms), Number((p.rss_bytes / 2 ** 20).toFixed(2))]) }],
    });
    out.push({
      title: "Threads and descriptors",
      x: { title: "seconds" },
      y: { title: "count" },
      series: [
        { name: "threads", points: pts.map((p) => [t(p.t_ms), p.threads]) },
        { name: "descriptors", points: pts.map((p) => [t(p.t_ms), p.fds]) },
      ],
      step: true,
    });
    const live = [
      {
        name: "live instances",
        points: pts.flatMap((p) =>
          p.live_instances === null ? [] : [[t(p.t_ms), p.live_instances] as [number, number]]
        ),
      },
      {
        name: "live buffers",
        points: pts.flatMap((p) => p.live_buffers === null ? [] : [[t(p.t_ms), p.live_buffers] as [number, number]]),
      },
    ].filter((s) => s.points.length > 0);
    if (live.length > 0) {
      out.push({
        title: "Live instances and buffers (the plugin's counters)",
        x: { title: "seconds" },
        y: { title: "count" },
        series: live,
        step: true,
      });
    }
  }
  return out;
}

function figure(svg: string | undefined, caption: string): Html {
  return svg === undefined ? markup`` : markup`<figure>${trusted(svg)}<figcaption>${caption}</figcaption></figure>`;
}

function evidence(e: Record<string, unknown>): Html {
  return Object.keys(e).length === 0 ? markup`<span class="muted">none</span>` : markup`
    <details>
      <summary>evidence</summary>
      <pre>${JSON.stringify(e, null, 2)}</pre>
    </details>
  `;
}

/** The page of a stress report. */
export async function stressPage(r: StressReport): Promise<string> {
  const cs = charts(r);
  const svgs = await drawLineCharts(cs, "stress");
  const svgOf = (title: string) => svgs[cs.findIndex((c) => c.title.startsWith(title))];
  const failed = r.verdicts.filter((v) => v.status === "fail");
  const verdictRows = [...r.verdicts].sort((a, b) => Number(b.status === "fail") - Number(a.status === "fail"));
  const sections: Section[] = [
    {
      id: "verdicts",
      title: "Verdicts",
      body: table(
        ["verdict", "status", "summary", "evidence"],
        verdictRows.map((
          v,
        ) => [
          markup`<code>${v.id}</code>`,
          markup`<span class="status s-${v.status}">${v.status}</span>`,
          v.summary,
          evidence(v.evidence),
        ]),
        { rowClass: (i) => `s-row-${verdictRows[i]!.status}` },
      ),
    },
    {
      id: "latency",
      title: "Latency",
      body: markup`${
        figure(
          svgOf("Latency"),
          "Each point: the latency below which that share of the calls fell (log scale). " +
            "The floor is the same loop calling a no-op native function: what a call costs without the plugin.",
        )
      }${
        table(["", "calls", "calls/s", "p50", "p90", "p99", "p99.9", "max"], [
          latencyRow("plugin calls", r.run),
          latencyRow("dispatch floor", r.floor),
          [
            "instance create",
            r.instances.created,
            "",
            duration(r.instances.create_latency.p50_ms),
            duration(r.instances.create_latency.p90_ms),
            duration(r.instances.create_latency.p99_ms),
            duration(r.instances.create_latency.p999_ms),
            duration(r.instances.create_latency.max_ms),
          ],
        ])
      }`,
    },
    {
      id: "resources",
      title: "Resources over time",
      body: r.resources.points.length === 0
        ? markup`<p class="muted">No resource samples (sampling was off, or the run was too short).</p>`
        : markup`${
          figure(
            svgOf("RSS"),
            `RSS of ${
              r.plugin.isolated ? "the sandbox child" : "plugcheck's process"
            }, sampled every ${r.resources.interval_ms} ms.`,
          )
        }${figure(svgOf("Threads"), "Threads and open descriptors of the same process.")}${
          figure(svgOf("Live"), "What the plugin's npa_plugin_stats() counters said.")
        }${
          facts([
            [
              "baseline",
              r.resources.baseline
                ? `${
                  mib(r.resources.baseline.rss_bytes)
                }, ${r.resources.baseline.threads} threads, ${r.resources.baseline.fds} fds`
                : "-",
            ],
            [
              "peak",
              r.resources.peak
                ? `${mib(r.resources.peak.rss_bytes)}, ${r.resources.peak.threads} threads, ${r.resources.peak.fds} fds`
                : "-",
            ],
            [
              "end",
              r.resources.end
                ? `${mib(r.resources.end.rss_bytes)}, ${r.resources.end.threads} threads, ${r.resources.end.fds} fds`
                : "-",
            ],
            ["RSS growth after warm-up", mib(r.resources.rss_growth_bytes)],
            [`RSS slope per ${r.resources.rss_slope_per}`, mib(r.resources.rss_slope_bytes, 3)],
          ])
        }`,
    },
    {
      id: "run",
      title: "Run",
      body: markup`${
        facts([
          ["library", markup`<code>${r.plugin.path}</code>`],
          ["plugin", `${r.plugin.name} ${r.plugin.version}`],
          ["mode", r.mode],
          ["seed", r.seed],
          ["isolated", r.plugin.isolated ? "yes (a sandbox child)" : "no (in process)"],
          ["concurrency", r.settings.concurrency],
          ["elapsed", duration(r.elapsed_ms)],
          [
            "instances",
            `${r.instances.created} created, ${r.instances.destroyed} destroyed, ${r.instances.wedged} wedged, at most ${r.instances.max_live} live`,
          ],
          ["outputs checked", `${r.outcomes.checked}, ${r.outcomes.wrong} wrong, ${r.outcomes.unexpected} unexpected`],
          ["stopped early", r.stopped_early ?? "no"],
        ])
      }${
        table(
          ["method", "input", "bytes", "pure", "expected failures", "first error"],
          r.inputs.map((i) => [
            markup`<code>${i.method}</code>`,
            i.source,
            i.bytes,
            i.pure ? "yes" : "no",
            i.expected_failures,
            i.first_error ?? "",
          ]),
        )
      }${
        Object.keys(r.run.errors).length === 0 ? "" : table(
          ["error", "count", "first message"],
          Object.entries(r.run.errors).map(([name, e]) => [name, e.count, e.first]),
        )
      }${
        r.crash
          ? markup`
            <h3>Crash</h3>
            <pre>${JSON.stringify(r.crash, null, 2)}</pre>
          `
          : ""
      }`,
    },
  ];
  if (r.warnings.length > 0) {
    sections.push({
      id: "warnings",
      title: "Warnings",
      body: markup`<ul>${r.warnings.map((w) => markup`<li>${w}</li>`)}</ul>`,
    });
  }
  return htmlPage({
    title: `plugcheck stress: ${r.plugin.name}`,
    heading: markup`stress <code>${r.plugin.name}</code> <span class="muted">${r.plugin.version}</span>`,
    verdict: {
      ok: r.ok,
      text: r.ok
        ? `ok: no verdict failed (${r.run.calls} calls in ${duration(r.elapsed_ms)})`
        : `FAIL: ${failed.length} of ${r.verdicts.length} verdicts failed`,
    },
    sections,
    provenance: r.provenance,
  });
}
