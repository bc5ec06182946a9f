/**
 * The scale plot (docs/scale.svg): per-call latency against the number of working tasks, both
 * axes logarithmic, one colour per call kind, the median as a solid line with points and the p95
 * dashed. Plain SVG text, no libraries, like report.ts's bar chart.
 */
/** What the plot needs of a scale run (scale.ts's ScaleResult is one). */
export interface ScalePoints {
  readonly levels: readonly {
    readonly tasks: number;
    readonly calls: Record<CallKind, { readonly median: number; readonly p95: number }>;
  }[];
}

type CallKind = "start_task" | "cancel_task" | "list_tasks" | "task_status";

const COLORS: Record<CallKind, string> = {
  start_task: "#1565c0",
  cancel_task: "#c62828",
  list_tasks: "#2e7d32",
  task_status: "#6a1b9a",
};

function escapeXml(text: string): string {
  return text.replaceAll("&", "&amp;").replaceAll("<", "&lt;").replaceAll(">", "&gt;")
    .replaceAll('"', "&quot;");
}

/** 1, 2, 5 × the powers of ten from `lo` to `hi` (inclusive range of values). */
function ticks(lo: number, hi: number): number[] {
  const out: number[] = [];
  for (let power = Math.floor(Math.log10(lo)); power <= Math.ceil(Math.log10(hi)); power++) {
    for (const m of [1, 2, 5]) {
      const value = m * 10 ** power;
      if (value >= lo && value <= hi) out.push(value);
    }
  }
  return out;
}

/** A latency tick's label: "0.5 ms", "20 ms", "2 s". */
function tickLabel(ms: number): string {
  if (ms >= 1000) return `${ms / 1000} s`;
  return `${ms >= 1 ? String(ms) : ms.toFixed(-Math.floor(Math.log10(ms)))} ms`;
}

export function scaleChart(result: ScalePoints, subtitle: string): string {
  const kinds = Object.keys(COLORS) as CallKind[];
  const width = 760;
  const height = 460;
  const left = 70;
  const right = 190;
  const top = 64;
  const bottom = 56;
  const plotW = width - left - right;
  const plotH = height - top - bottom;
  const xs = result.levels.map((level) => level.tasks);
  const values = result.levels.flatMap((level) =>
    kinds.flatMap((kind) => [level.calls[kind].median, level.calls[kind].p95])
  ).filter((v) => v > 0);
  const xLo = Math.min(...xs);
  const xHi = Math.max(...xs);
  const yLo = 10 ** Math.floor(Math.log10(Math.min(...values)));
  const yHi = 10 ** Math.ceil(Math.log10(Math.max(...values)));
  const x = (n: number) =>
    left + (xHi === xLo ? plotW / 2 : ((Math.log10(n) - Math.log10(xLo)) /
      (Math.log10(xHi) - Math.log10(xLo))) * plotW);
  const y = (ms: number) =>
    top + plotH - ((Math.log10(Math.max(ms, yLo)) - Math.log10(yLo)) /
        (Math.log10(yHi) - Math.log10(yLo))) * plotH;
  const parts: string[] = [
    `<svg xmlns="http://www.w3.org/2000/svg" width="${width}" height="${height}" ` +
    `viewBox="0 0 ${width} ${height}" font-family="sans-serif" font-size="12">`,
    `<rect width="100%" height="100%" fill="#ffffff"/>`,
    `<text x="12" y="22" font-size="15" font-weight="bold">Per-call latency against working ` +
    `tasks (median solid, p95 dashed)</text>`,
    `<text x="12" y="42" fill="#555555">${escapeXml(subtitle)}</text>`,
  ];
  for (const value of ticks(yLo, yHi)) {
    const ty = y(value).toFixed(1);
    parts.push(
      `<line x1="${left}" y1="${ty}" x2="${left + plotW}" y2="${ty}" stroke="#e0e0e0"/>`,
      `<text x="${left - 6}" y="${Number(ty) + 4}" text-anchor="end" fill="#555555">${
        tickLabel(value)
      }</text>`,
    );
  }
  for (const n of xs) {
    const tx = x(n).toFixed(1);
    parts.push(
      `<line x1="${tx}" y1="${top}" x2="${tx}" y2="${top + plotH}" stroke="#e0e0e0"/>`,
      `<text x="${tx}" y="${top + plotH + 18}" text-anchor="middle" fill="#555555">${
        n.toLocaleString("en")
      }</text>`,
    );
  }
  parts.push(
    `<rect x="${left}" y="${top}" width="${plotW}" height="${plotH}" fill="none" ` +
      `stroke="#333333"/>`,
    `<text x="${left + plotW / 2}" y="${height - 12}" text-anchor="middle">tasks working at ` +
      `once (log scale)</text>`,
  );
  kinds.forEach((kind, k) => {
    const color = COLORS[kind];
    const points = (key: "median" | "p95") =>
      result.levels.map((level) =>
        `${x(level.tasks).toFixed(1)},${y(level.calls[kind][key]).toFixed(1)}`
      ).join(" ");
    parts.push(
      `<polyline points="${points("p95")}" fill="none" stroke="${color}" stroke-width="1.2" ` +
        `stroke-dasharray="5,4" stroke-opacity="0.8"/>`,
      `<polyline points="${points("median")}" fill="none" stroke="${color}" stroke-width="2"/>`,
      ...result.levels.map((level) =>
        `<circle cx="${x(level.tasks).toFixed(1)}" cy="${
          y(level.calls[kind].median).toFixed(1)
        }" r="3" fill="${color}"/>`
      ),
    );
    const ly = top + 10 + k * 22;
    const lx = left + plotW + 16;
    parts.push(
      `<line x1="${lx}" y1="${ly}" x2="${lx + 24}" y2="${ly}" stroke="${color}" ` +
        `stroke-width="2"/>`,
      `<text x="${lx + 30}" y="${ly + 4}">${kind}</text>`,
    );
  });
  parts.push("</svg>");
  return parts.join("\n") + "\n";
}
