/**
 * The one SVG chart renderer of pqnotify: the document, line panels over time (the CLI's
 * `pqnotify bench --chart`) and bar panels (the notify benchmark's chart, bench/notify-report.ts).
 */
import type { NotifyBenchResult } from '../bench/notify-bench.js';
import { escapeXml, plural } from './format.js';

/** One line of a panel: its name, colour and points (x in seconds). */
interface Series {
  name: string;
  colour: string;
  points: { x: number; y: number }[];
}

const WIDTH = 760;
const PANEL_HEIGHT = 190;
const LEFT = 80;
const RIGHT = 20;
const TOP = 46;
const GAP = 44;

/** The smallest of 1, 2 or 5 times a power of ten that is at least `value`. */
function niceCeiling(value: number): number {
  if (!(value > 0)) return 1;
  const power = 10 ** Math.floor(Math.log10(value));
  for (const step of [1, 2, 5, 10]) if (step * power >= value) return step * power;
  return 10 * power;
}

function label(value: number): string {
  if (value >= 1000) return `${Number((value / 1000).toPrecision(3))}k`;
  if (value !== 0 && value < 0.01) return value.toExponential(1);
  return String(Number(value.toPrecision(3)));
}

/** A line panel: a title, four grid lines, x labels in seconds and one polyline per series. */
function linePanel(
  title: string,
  unit: string,
  series: Series[],
  top: number,
  maxX: number,
): string {
  const plotWidth = WIDTH - LEFT - RIGHT;
  const maxY = niceCeiling(Math.max(0, ...series.flatMap((s) => s.points.map((p) => p.y))));
  const px = (x: number) => LEFT + (x / maxX) * plotWidth;
  const py = (y: number) => top + PANEL_HEIGHT - (y / maxY) * PANEL_HEIGHT;
  const parts = [
    `<text x="${LEFT}" y="${top - 8}" font-weight="bold">${escapeXml(title)}</text>`,
    `<rect x="${LEFT}" y="${top}" width="${plotWidth}" height="${PANEL_HEIGHT}" fill="none" stroke="#999"/>`,
  ];
  for (let i = 0; i <= 4; i++) {
    const y = (maxY * i) / 4;
    parts.push(
      `<line x1="${LEFT}" x2="${LEFT + plotWidth}" y1="${py(y)}" y2="${py(y)}" stroke="#eee"/>`,
      `<text x="${LEFT - 6}" y="${py(y) + 4}" text-anchor="end">${label(y)}</text>`,
    );
  }
  const xStep = niceCeiling(maxX / 8);
  for (let x = 0; x <= maxX + 1e-9; x += xStep) {
    parts.push(
      `<text x="${px(x)}" y="${top + PANEL_HEIGHT + 14}" text-anchor="middle">${label(x)}</text>`,
    );
  }
  parts.push(
    `<text x="14" y="${top + PANEL_HEIGHT / 2}" transform="rotate(-90 14 ${top + PANEL_HEIGHT / 2})" text-anchor="middle">${escapeXml(unit)}</text>`,
  );
  let legendX = LEFT + plotWidth;
  for (const s of [...series].reverse()) {
    const points = s.points.map((p) => `${px(p.x).toFixed(1)},${py(p.y).toFixed(1)}`).join(' ');
    legendX -= 24 + 6.5 * s.name.length;
    parts.push(
      `<polyline points="${points}" fill="none" stroke="${s.colour}" stroke-width="1.8"/>`,
      `<rect x="${legendX}" y="${top - 14}" width="12" height="3" fill="${s.colour}"/>`,
      `<text x="${legendX + 16}" y="${top - 8}">${escapeXml(s.name)}</text>`,
    );
  }
  return parts.join('\n');
}

/**
 * A self-contained SVG document of `width` by `height` on a white background, 11px sans-serif
 * text, with `parts` (SVG elements) one a line, ending in a newline.
 */
export function svgDocument(width: number, height: number, parts: readonly string[]): string {
  return [
    `<svg xmlns="http://www.w3.org/2000/svg" width="${width}" height="${height}" viewBox="0 0 ${width} ${height}" font-family="sans-serif" font-size="11">`,
    `<rect width="${width}" height="${height}" fill="white"/>`,
    ...parts,
    '</svg>',
    '',
  ].join('\n');
}

/** One bar of a bar panel: its value (null: no bar, labelled n/a), fill colour and opacity. */
export interface Bar {
  value: number | null;
  color: string;
  opacity: number;
}

/**
 * A panel of bars in the box at (`x`, `y`) of `width` by `height`: a title, a base line and one
 * cluster of bars per entry of `clusters`, each bar with its value printed above it by
 * `format`. The scale runs from 0 to 1.15 times the largest value.
 */
export function barPanel(
  x: number,
  y: number,
  width: number,
  height: number,
  title: string,
  clusters: readonly (readonly Bar[])[],
  format: (value: number) => string,
): string {
  const top = y + 30;
  const bottom = y + height - 10;
  const values = clusters.flat().map((b) => b.value ?? 0);
  const max = Math.max(...values, 1e-9) * 1.15;
  const slot = (width - 20) / Math.max(clusters.length, 1);
  const barWidth = (slot - 6) / Math.max(...clusters.map((c) => c.length), 1);
  const parts = [
    `<text x="${x + width / 2}" y="${y + 14}" text-anchor="middle" font-weight="bold">${escapeXml(title)}</text>`,
    `<line x1="${x + 10}" y1="${bottom}" x2="${x + width - 10}" y2="${bottom}" stroke="#444"/>`,
  ];
  clusters.forEach((bars, ci) => {
    bars.forEach((bar, bi) => {
      const left = x + 10 + ci * slot + 3 + bi * barWidth;
      const h = bar.value === null ? 0 : ((bottom - top) * bar.value) / max;
      parts.push(
        `<rect x="${left.toFixed(1)}" y="${(bottom - h).toFixed(1)}" width="${(barWidth - 1).toFixed(1)}" height="${h.toFixed(1)}" fill="${bar.color}" fill-opacity="${bar.opacity}"/>`,
      );
      const label = bar.value === null ? 'n/a' : format(bar.value);
      const cx = left + (barWidth - 1) / 2;
      const cy = bottom - h - 3;
      parts.push(
        `<text x="${cx.toFixed(1)}" y="${cy.toFixed(1)}" font-size="8" transform="rotate(-90 ${cx.toFixed(1)} ${cy.toFixed(1)})" dy="3">${label}</text>`,
      );
    });
  });
  return parts.join('\n');
}

/**
 * A self-contained SVG of a bench run: throughput (sent and delivered per second, leaving out
 * a last timeline bucket shorter than a tenth of the others, too short for a rate), latency
 * (p50 and p99 per timeline bucket) and, when it was ever above zero, the server's queue
 * usage, all over the seconds of the measured part.
 */
export function renderBenchChart(result: NotifyBenchResult): string {
  const seconds = (ms: number) => ms / 1000;
  const buckets = result.timeline
    .filter((bucket) => bucket.spanMs > 0)
    .map((bucket) => ({
      ...bucket,
      x: seconds(bucket.tMs + bucket.spanMs / 2),
      perSecond: 1000 / bucket.spanMs,
    }));
  const interval = Math.max(0, ...buckets.map((b) => b.spanMs));
  const rates = buckets.filter((b) => b.spanMs >= interval / 10);
  const latency = buckets.filter((b) => b.p50Ms !== null);
  const panels: { title: string; unit: string; series: Series[] }[] = [
    {
      title: 'Throughput',
      unit: 'notifications/s',
      series: [
        {
          name: 'sent/s',
          colour: '#1f77b4',
          points: rates.map((b) => ({ x: b.x, y: b.sent * b.perSecond })),
        },
        {
          name: 'delivered/s (all listeners)',
          colour: '#2ca02c',
          points: rates.map((b) => ({ x: b.x, y: b.delivered * b.perSecond })),
        },
      ],
    },
    {
      title: 'End-to-end latency',
      unit: 'ms',
      series: [
        {
          name: 'p50',
          colour: '#ff7f0e',
          points: latency.map((b) => ({ x: b.x, y: b.p50Ms ?? 0 })),
        },
        {
          name: 'p99',
          colour: '#d62728',
          points: latency.map((b) => ({ x: b.x, y: b.p99Ms ?? 0 })),
        },
      ],
    },
  ];
  if (result.queueUsage.max > 0) {
    panels.push({
      title: 'pg_notification_queue_usage()',
      unit: '% of the queue',
      series: [
        {
          name: 'queue usage %',
          colour: '#9467bd',
          points: result.queueUsage.samples
            .filter((s) => s.tMs >= 0)
            .map((s) => ({ x: seconds(s.tMs), y: s.usage * 100 })),
        },
      ],
    });
  }
  const maxX = Math.max(
    seconds(result.elapsedMs),
    ...buckets.map((b) => b.x),
    ...result.queueUsage.samples.map((s) => seconds(s.tMs)),
    0.001,
  );
  const height = TOP + panels.length * (PANEL_HEIGHT + GAP) + 10;
  const { settings } = result;
  const heading =
    `pqnotify bench: ${plural(settings.listeners, 'listener')}, ` +
    `${plural(settings.notifiers, 'notifier')}, ${plural(settings.channels, 'channel')}, payload ${settings.payloadSize} B, batch ${settings.batch}, ` +
    `${settings.rate === null ? 'unthrottled' : `${settings.rate}/s`}; PostgreSQL ${result.server.version}`;
  return svgDocument(WIDTH, height, [
    `<text x="${LEFT}" y="18" font-size="13">${escapeXml(heading)}</text>`,
    ...panels.map((p, i) =>
      linePanel(p.title, p.unit, p.series, TOP + i * (PANEL_HEIGHT + GAP), maxX),
    ),
    `<text x="${WIDTH / 2}" y="${height - 6}" text-anchor="middle">seconds</text>`,
  ]);
}
