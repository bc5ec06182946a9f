/** The benchmark's results as a Markdown table and an SVG bar chart of the ratios (no libraries). */

import type { Stats } from "./common.ts";

export interface Row {
  /** What is measured, e.g. "Cold start: spawn → initialize answer". */
  readonly name: string;
  readonly unit: "ms" | "MiB" | "% CPU" | "req/s";
  readonly ours: Stats;
  /** What backburner is compared with. */
  readonly reference: string;
  /** The reference's figures; null when it could not be measured (see `missing`). */
  readonly ref: Stats | null;
  /** Why the reference has no figures, e.g. "peer unavailable (node is not installed)". */
  readonly missing?: string;
  /** Short label for the chart; default `name`. */
  readonly short?: string;
  /** Short name of the reference for the chart; default `reference`. */
  readonly refShort?: string;
  /** False: left out of the chart (a row with no reference by nature). Default true. */
  readonly chart?: boolean;
}

/** backburner's median over the reference's; above 1, backburner is slower or bigger. */
export function ratio(row: Row): number | null {
  if (!row.ref || row.ref.median <= 0) return null;
  return row.ours.median / row.ref.median;
}

export function formatValue(value: number, unit: Row["unit"]): string {
  const digits = Math.abs(value) >= 100 ? 0 : Math.abs(value) >= 10 ? 1 : 2;
  const number = value.toFixed(digits);
  return unit === "% CPU" ? `${number} %` : `${number} ${unit}`;
}

export function formatRatio(value: number): string {
  if (value >= 100) return `${value.toFixed(0)}×`;
  if (value >= 10) return `${value.toFixed(1)}×`;
  return `${value.toFixed(2)}×`;
}

function cell(stats: Stats | null, unit: Row["unit"]): [string, string] {
  // No samples: a figure that could not be measured (the row's `missing` says why).
  if (!stats || stats.n === 0) return ["–", "–"];
  return [formatValue(stats.median, unit), formatValue(stats.p95, unit)];
}

export function markdownTable(rows: readonly Row[]): string {
  const header = [
    "measurement",
    "backburner median",
    "p95",
    "n",
    "reference",
    "median",
    "p95",
    "n",
    "ratio",
  ];
  const line = (cells: string[]) => `| ${cells.join(" | ")} |`;
  const body = rows.map((row) => {
    const r = ratio(row);
    const [median, p95] = cell(row.ours, row.unit);
    const [refMedian, refP95] = cell(row.ref, row.unit);
    return line([
      row.name,
      median,
      p95,
      row.ours.n === 0 ? "–" : String(row.ours.n),
      row.ref || !row.missing ? row.reference : `${row.reference}: ${row.missing}`,
      refMedian,
      refP95,
      row.ref ? String(row.ref.n) : "–",
      r === null ? "–" : formatRatio(r),
    ]);
  });
  return [line(header), line(header.map((_, c) => c === 0 || c === 4 ? "---" : "---:")), ...body]
    .join("\n");
}

function escapeXml(text: string): string {
  return text.replaceAll("&", "&amp;").replaceAll("<", "&lt;").replaceAll(">", "&gt;")
    .replaceAll('"', "&quot;");
}

/**
 * Horizontal bars of the ratios on a log scale around 1×: a bar to the left means backburner is
 * faster or smaller than its reference, to the right slower or bigger.
 */
export function svgChart(allRows: readonly Row[], subtitle: string): string {
  const rows = allRows.filter((row) => row.chart !== false);
  const labelWidth = 400;
  const plotWidth = 420;
  const right = 70;
  const rowHeight = 24;
  const top = 64;
  const width = labelWidth + plotWidth + right;
  const height = top + rows.length * rowHeight + 40;
  const ratios = rows.map(ratio).filter((r): r is number => r !== null);
  // Whole decades, with room for a ratio's label beyond the end of its bar.
  const lo = Math.min(-1, Math.floor(Math.log10(Math.min(1, ...ratios)) - 0.35));
  const hi = Math.max(1, Math.ceil(Math.log10(Math.max(1, ...ratios)) + 0.35));
  const x = (value: number) => labelWidth + ((Math.log10(value) - lo) / (hi - lo)) * plotWidth;
  const parts: string[] = [];
  parts.push(
    `<svg xmlns="http://www.w3.org/2000/svg" width="${width}" height="${height}" ` +
      `viewBox="0 0 ${width} ${height}" font-family="sans-serif" font-size="12">`,
    `<rect width="100%" height="100%" fill="#ffffff"/>`,
    `<text x="12" y="22" font-size="15" font-weight="bold">backburner ÷ reference (median)</text>`,
    `<text x="12" y="42" fill="#555555">${escapeXml(subtitle)}</text>`,
  );
  for (let power = lo; power <= hi; power++) {
    const tx = x(10 ** power);
    const label = power >= 0 ? `${10 ** power}×` : `${(10 ** power).toFixed(-power)}×`;
    parts.push(
      `<line x1="${tx.toFixed(1)}" y1="${top - 6}" x2="${tx.toFixed(1)}" ` +
        `y2="${top + rows.length * rowHeight}" stroke="${power === 0 ? "#333333" : "#dddddd"}" ` +
        `stroke-width="${power === 0 ? 1.5 : 1}"/>`,
      `<text x="${tx.toFixed(1)}" y="${top + rows.length * rowHeight + 16}" ` +
        `text-anchor="middle" fill="#555555">${label}</text>`,
    );
  }
  parts.push(
    `<text x="${labelWidth}" y="${height - 6}" fill="#2e7d32">◀ backburner faster / smaller</text>`,
    `<text x="${labelWidth + plotWidth}" y="${height - 6}" text-anchor="end" fill="#c62828">` +
      `backburner slower / bigger ▶</text>`,
  );
  rows.forEach((row, i) => {
    const y = top + i * rowHeight;
    const label = `${row.short ?? row.name} vs ${row.refShort ?? row.reference}`
      .replaceAll("`", "");
    parts.push(
      `<text x="${labelWidth - 8}" y="${y + 16}" text-anchor="end">${
        escapeXml(label.length > 62 ? `${label.slice(0, 61)}…` : label)
      }</text>`,
    );
    const r = ratio(row);
    if (r === null) {
      parts.push(
        `<text x="${x(1) + 6}" y="${y + 16}" fill="#888888" font-style="italic">${
          escapeXml(row.missing ?? "no reference")
        }</text>`,
      );
      return;
    }
    const one = x(1);
    const end = x(Math.min(10 ** hi, Math.max(10 ** lo, r)));
    const left = Math.min(one, end);
    const barWidth = Math.max(1, Math.abs(end - one));
    const color = r <= 1 ? "#2e7d32" : "#c62828";
    parts.push(
      `<rect x="${left.toFixed(1)}" y="${y + 5}" width="${barWidth.toFixed(1)}" height="14" ` +
        `fill="${color}" fill-opacity="0.8"/>`,
      `<text x="${(r <= 1 ? left - 4 : left + barWidth + 4).toFixed(1)}" y="${y + 16}" ` +
        `text-anchor="${r <= 1 ? "end" : "start"}" fill="${color}">${formatRatio(r)}</text>`,
    );
  });
  parts.push("</svg>");
  return parts.join("\n") + "\n";
}
