/**
 * A hand-drawn SVG of bench:failover (per-host keys): left, full handshakes over the minimum per
 * event and method (clipped at 4); right, p99 time to a working connection for the clients of
 * the failed host, with the silent-host target as a dashed line.
 */
import type { EventRow } from './failover.ts';

const COLORS = ['#d62728', '#ff7f0e', '#9467bd', '#7f7f7f', '#1f77b4'];

interface Panel {
  title: string;
  rows: EventRow[];
  value: (row: EventRow) => number | null;
  top: number;
  unit: string;
  line?: number;
}

function bars(panel: Panel, methods: string[], x0: number, width: number, height: number): string[] {
  const events = [...new Set(panel.rows.map((r) => r.event))];
  const pad = 36;
  const y = (v: number) => 30 + (1 - Math.min(v, panel.top) / panel.top) * (height - 90);
  const group = (width - pad - 10) / events.length;
  const bar = (group - 8) / methods.length;
  const out = [`<text x="${x0 + width / 2}" y="16" text-anchor="middle" font-size="13">${panel.title}</text>`];
  for (const v of [0, panel.top / 2, panel.top]) {
    out.push(`<line x1="${x0 + pad}" y1="${y(v)}" x2="${x0 + width - 10}" y2="${y(v)}" stroke="#ddd"/>`);
    out.push(`<text x="${x0 + pad - 4}" y="${y(v) + 4}" text-anchor="end" font-size="10">${v}${panel.unit}</text>`);
  }
  if (panel.line !== undefined) {
    out.push(`<line x1="${x0 + pad}" y1="${y(panel.line)}" x2="${x0 + width - 10}" y2="${y(panel.line)}" stroke="#000" stroke-dasharray="4 3"/>`);
  }
  events.forEach((event, e) => {
    const gx = x0 + pad + e * group + 4;
    methods.forEach((method, m) => {
      const row = panel.rows.find((r) => r.event === event && r.method === method);
      const v = row ? panel.value(row) : null;
      if (v === null) return;
      const top = y(v);
      out.push(`<rect x="${(gx + m * bar).toFixed(1)}" y="${top.toFixed(1)}" width="${(bar - 1).toFixed(1)}" height="${(y(0) - top).toFixed(1)}" fill="${COLORS[m % COLORS.length]}"/>`);
      if (v > panel.top) out.push(`<text x="${(gx + m * bar + bar / 2).toFixed(1)}" y="${top + 10}" text-anchor="middle" font-size="8" fill="white">${v.toFixed(1)}</text>`);
    });
    const words = event.split(' ');
    const half = Math.ceil(words.length / 2);
    [words.slice(0, half).join(' '), words.slice(half).join(' ')].forEach((line, l) => {
      out.push(`<text x="${(gx + group / 2 - 4).toFixed(1)}" y="${y(0) + 13 + l * 11}" text-anchor="middle" font-size="9">${line}</text>`);
    });
  });
  return out;
}

export function renderFailoverChart(rows: EventRow[], methods: string[], targetMs: number): string {
  const height = 260;
  const left: Panel = { title: 'full handshakes / minimum', rows, value: (r) => r.ratio, top: 4, unit: '', line: 1 };
  const failures = rows.filter((r) => r.recoverP99 !== null);
  const right: Panel = { title: 'p99 time to a working connection (s)', rows: failures, value: (r) => (r.recoverP99 === null ? null : r.recoverP99 / 1000), top: 8, unit: 's', line: targetMs / 1000 };
  const parts = [...bars(left, methods, 10, 520, height), ...bars(right, methods, 550, 330, height)];
  methods.forEach((method, m) => {
    parts.push(`<rect x="${20 + m * 150}" y="${height - 22}" width="12" height="12" fill="${COLORS[m % COLORS.length]}"/>`);
    parts.push(`<text x="${36 + m * 150}" y="${height - 12}" font-size="12">${method}</text>`);
  });
  return `<svg xmlns="http://www.w3.org/2000/svg" width="890" height="${height}" font-family="sans-serif">\n<rect width="100%" height="100%" fill="white"/>\n${parts.join('\n')}\n</svg>\n`;
}
