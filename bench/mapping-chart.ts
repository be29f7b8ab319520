/**
 * A hand-drawn SVG of the mapping benchmark: for one bucket count with equal weights, three
 * panels by host count N (log scale): config-add moved/minimum, all-up peak/mean and
 * worst-single-down peak/mean, one line per algorithm.
 */
import type { Row } from './mapping.ts';

const COLORS = ['#d62728', '#7f7f7f', '#1f77b4', '#2ca02c', '#9467bd', '#ff7f0e', '#8c564b', '#17becf'];

interface Panel {
  title: string;
  value: (row: Row) => number;
}

const PANELS: Panel[] = [
  { title: 'config add: moved / minimum', value: (r) => r.addMovedOverMinWorst },
  { title: 'all up: peak / mean', value: (r) => r.allUpPeakOverMean },
  { title: 'worst one down: peak / mean', value: (r) => r.downPeakOverMean },
];

export function renderChart(rows: Row[], algorithms: string[]): string {
  const buckets = rows.some((r) => r.buckets === 4096) ? 4096 : Math.max(...rows.map((r) => r.buckets));
  const chosen = rows.filter((r) => r.buckets === buckets && !r.weighted);
  const ns = [...new Set(chosen.map((r) => r.hosts))].sort((a, b) => a - b);
  const width = 300;
  const height = 220;
  const pad = 40;
  const parts: string[] = [];
  PANELS.forEach((panel, index) => {
    const x0 = 10 + index * (width + 20);
    // Values far off the chart (modn moves ~N times the minimum) are clipped at the top.
    const top = Math.min(3, Math.max(1.1, ...chosen.map(panel.value)));
    const x = (n: number) => x0 + pad + ((Math.log2(n) - Math.log2(ns[0]!)) / Math.max(1, Math.log2(ns.at(-1)!) - Math.log2(ns[0]!))) * (width - pad - 10);
    const y = (v: number) => 30 + (1 - (Math.min(v, top) - 1) / (top - 1)) * (height - 70);
    parts.push(`<text x="${x0 + width / 2}" y="18" text-anchor="middle" font-size="13">${panel.title} (B=${buckets})</text>`);
    parts.push(`<line x1="${x0 + pad}" y1="${y(1)}" x2="${x0 + width - 10}" y2="${y(1)}" stroke="#999"/>`);
    parts.push(`<line x1="${x0 + pad}" y1="${y(top)}" x2="${x0 + pad}" y2="${y(1)}" stroke="#999"/>`);
    for (const v of [1, (1 + top) / 2, top]) {
      parts.push(`<text x="${x0 + pad - 4}" y="${y(v) + 4}" text-anchor="end" font-size="10">${v.toFixed(2)}</text>`);
    }
    for (const n of ns) parts.push(`<text x="${x(n)}" y="${y(1) + 14}" text-anchor="middle" font-size="10">${n}</text>`);
    parts.push(`<text x="${x0 + width / 2}" y="${y(1) + 28}" text-anchor="middle" font-size="10">hosts (N)</text>`);
    algorithms.forEach((algorithm, a) => {
      const points = ns
        .map((n) => chosen.find((r) => r.algorithm === algorithm && r.hosts === n))
        .filter((r): r is Row => r !== undefined)
        .map((r) => `${x(r.hosts).toFixed(1)},${y(panel.value(r)).toFixed(1)}`);
      parts.push(`<polyline fill="none" stroke="${COLORS[a % COLORS.length]}" stroke-width="${a === 0 ? 3 : 1.5}" points="${points.join(' ')}"/>`);
    });
  });
  algorithms.forEach((algorithm, a) => {
    parts.push(`<rect x="${20 + a * 120}" y="${height + 8}" width="12" height="12" fill="${COLORS[a % COLORS.length]}"/>`);
    parts.push(`<text x="${36 + a * 120}" y="${height + 18}" font-size="12">${algorithm}</text>`);
  });
  const total = 10 + PANELS.length * (width + 20);
  return `<svg xmlns="http://www.w3.org/2000/svg" width="${total}" height="${height + 30}" font-family="sans-serif">\n<rect width="100%" height="100%" fill="white"/>\n${parts.join('\n')}\n</svg>\n`;
}
