// The load benchmark's chart: one bar per row, requests per second.

import type { Row } from "./load_rows.ts";

/** A horizontal bar chart of requests per second, one bar per row. */
export function chart(rows: Row[]): string {
  const max = Math.max(...rows.map((r) => r.requestsPerSecond), 1);
  const bars = rows.map((r, i) => {
    const y = 30 + i * 22;
    const width = Math.round((r.requestsPerSecond / max) * 420);
    const label = `${r.name} c=${r.connections}`.replace(/&/g, "&amp;").replace(/</g, "&lt;");
    return `<text x="240" y="${y + 14}" text-anchor="end">${label}</text>` +
      `<rect x="250" y="${y}" width="${width}" height="16" fill="${
        r.name.startsWith("master") ? "#4e79a7" : r.name.startsWith("node") ? "#59a14f" : "#bab0ac"
      }"/>` +
      `<text x="${256 + width}" y="${y + 13}">${r.requestsPerSecond}</text>`;
  });
  const height = 40 + rows.length * 22;
  return `<svg xmlns="http://www.w3.org/2000/svg" width="760" height="${height}" font-family="sans-serif" font-size="12">` +
    `<text x="10" y="18" font-weight="bold">requests/s (wrk, keep-alive)</text>${
      bars.join("")
    }</svg>\n`;
}
