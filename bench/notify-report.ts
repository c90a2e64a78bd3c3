/**
 * Renders the notification benchmark's report (bench/notify.ts) as Markdown, which is also
 * what it prints, and as an SVG chart of throughput and latency by client (drawn by
 * src/cli/chart.ts, the renderer of the CLI's bench chart too).
 */
import { barPanel, svgDocument } from '../src/cli/chart.js';
import { escapeXml, markdownTable } from '../src/cli/format.js';
import type { ClientName, NotifyReport, PayloadSize, TargetRow, Variant } from './notify-types.js';

const variants: readonly Variant[] = ['cold', 'warm'];

/** The payload sizes of a report, smallest first. */
function sizesOf(report: NotifyReport): PayloadSize[] {
  return (Object.keys(report.counts).map(Number) as PayloadSize[]).sort((a, b) => a - b);
}

const fixed = (value: number | null, digits: number) =>
  value === null ? 'n/a' : value.toFixed(digits);

function throughputCell(report: NotifyReport, client: ClientName, size: PayloadSize, v: Variant) {
  const row = report.throughput.find(
    (r) => r.client === client && r.payloadBytes === size && r.variant === v,
  );
  if (!row) return 'n/a';
  const value = row.perSecond === null ? 'n/a' : (row.perSecond / 1e6).toFixed(3);
  return row.failures > 0 ? `${value} (${row.failures} FAILED)` : value;
}

function cpuCell(report: NotifyReport, client: ClientName, size: PayloadSize, v: Variant) {
  const row = report.throughput.find(
    (r) => r.client === client && r.payloadBytes === size && r.variant === v,
  );
  if (!row || row.cpuNsPerNotification === null) return 'n/a';
  const busy = row.cpuBusy === null ? '' : ` (${(row.cpuBusy * 100).toFixed(0)}%)`;
  return `${row.cpuNsPerNotification.toFixed(0)}${busy}`;
}

function targetRow(t: TargetRow): string[] {
  const unit = t.unit === 'x' ? 'x' : ` ${t.unit}`;
  const bound = `${t.kind === 'atLeast' ? '≥' : '≤'} ${t.limit}${unit}`;
  const value = t.value === null ? 'n/a' : `${t.value.toFixed(2)}${unit}`;
  const verdict = t.pass === null ? 'n/a' : t.pass ? 'PASS' : 'MISS';
  return [t.target, t.client, t.variant, value, bound, verdict];
}

/** The whole report as Markdown: machine, throughput, latency, memory, targets, method. */
export function renderMarkdown(report: NotifyReport): string {
  const m = report.machine;
  const clients = report.clients;
  const payloadSizes = sizesOf(report);
  const sizes = payloadSizes.map((s) => `${report.counts[s]?.toLocaleString('en-US')} x ${s} B`);
  const out: string[] = [
    `# Notification benchmark${report.quick ? ' (quick run)' : ''}`,
    '',
    `${report.date}. Medians of ${report.reps} repetition(s); clients alternate within each.`,
    '',
    `- Machine: ${m.cpus} cores (${m.cpuModel}), ${m.memoryGiB} GiB, ${m.os}`,
    `- Node ${m.node}; pg ${m.pg}; postgres.js ${m.postgres}; libpq ${m.libpq ?? 'not run'}`,
    `- pqnotify and node-raw listeners on ${m.runtime}; the others on Node`,
    `- Connections: ${m.tls ? `TLS (sslmode=require) for every client${m.tlsDirect ? '; pqnotify and node-raw with sslnegotiation=direct, the others SSLRequest' : ''}` : 'plain TCP'}`,
    `- Server: ${m.server} — ${m.serverSource}`,
    `- Bursts: ${sizes.join(', ')} in one transaction each`,
    ...report.skipped.map((s) => `- Skipped ${s.client}: ${s.reason}`),
    '',
    '## Burst throughput (million notifications/s)',
    '',
    markdownTable(
      ['client', ...payloadSizes.flatMap((s) => variants.map((v) => `${s} B ${v}`))],
      clients.map((c) => [
        c,
        ...payloadSizes.flatMap((s) => variants.map((v) => throughputCell(report, c, s, v))),
      ]),
    ),
    '',
    '## Listener CPU per notification (ns; in parentheses: CPU time / first-to-last time)',
    '',
    'User + system time of the listener process (all threads) during the timed burst. Near',
    '100% means the client limits the rate; well below, the server does.',
    '',
    markdownTable(
      ['client', ...payloadSizes.flatMap((s) => variants.map((v) => `${s} B ${v}`))],
      clients.map((c) => [
        c,
        ...payloadSizes.flatMap((s) => variants.map((v) => cpuCell(report, c, s, v))),
      ]),
    ),
    '',
    `## Latency, NOTIFY to receipt (µs; ${report.latencySamples} samples each after ${report.latencyWarmup} unrecorded)`,
    '',
    `Paced: one sample per ${report.latencyGapMs} ms, the listener idle in between. Hot: back to back.`,
    'Read to handout: in the paced series, from the read that brought the notification into the',
    'process to its handout to the caller (pqnotify and node-raw listeners only).',
    '',
    markdownTable(
      [
        'client',
        'paced p50',
        'paced p90',
        'paced p99',
        'hot p50',
        'hot p90',
        'hot p99',
        'read to handout p50',
        'read to handout p99',
      ],
      report.latency.map((r) => [
        r.failures > 0 ? `${r.client} (${r.failures} FAILED)` : r.client,
        fixed(r.paced?.p50Us ?? null, 0),
        fixed(r.paced?.p90Us ?? null, 0),
        fixed(r.paced?.p99Us ?? null, 0),
        fixed(r.hot?.p50Us ?? null, 0),
        fixed(r.hot?.p90Us ?? null, 0),
        fixed(r.hot?.p99Us ?? null, 0),
        fixed(r.handout?.p50Us ?? null, 1),
        fixed(r.handout?.p99Us ?? null, 1),
      ]),
    ),
    '',
    '## Listener memory (MiB): resident after LISTEN, largest peak growth during the bursts',
    '',
    markdownTable(
      ['client', 'idle', ...payloadSizes.flatMap((s) => variants.map((v) => `+${s} B ${v}`))],
      clients.map((c) => {
        const rows = report.memory.filter((r) => r.client === c);
        const idle = rows.map((r) => r.idleMiB).filter((v): v is number => v !== null);
        return [
          c,
          idle.length === 0 ? 'n/a' : (idle.reduce((a, b) => a + b, 0) / idle.length).toFixed(1),
          ...payloadSizes.flatMap((s) =>
            variants.map((v) =>
              fixed(
                rows.find((r) => r.payloadBytes === s && r.variant === v)?.maxGrowthMiB ?? null,
                1,
              ),
            ),
          ),
        ];
      }),
    ),
    '',
    ...(report.connections.length === 0
      ? []
      : [
          '## Memory per connection (KiB; heap + external after a forced gc, above no connection)',
          '',
          markdownTable(
            [
              'client',
              'connections',
              'idle',
              `after ${trafficKB(report)} KB each`,
              'idle, marginal',
              'after, marginal',
              'RSS idle',
              'RSS after',
            ],
            report.connections.map((r) => [
              r.failures > 0 ? `${r.client} (${r.failures} FAILED)` : r.client,
              String(r.connections),
              fixed(r.idleKiBPerConnection, 1),
              fixed(r.afterKiBPerConnection, 1),
              fixed(r.idleMarginalKiBPerConnection, 1),
              fixed(r.afterMarginalKiBPerConnection, 1),
              fixed(r.idleRssKiBPerConnection, 1),
              fixed(r.afterRssKiBPerConnection, 1),
            ]),
          ),
          '',
        ]),
    '## Targets',
    '',
    markdownTable(
      ['target', 'client', 'run', 'value', 'target', 'verdict'],
      report.targets.map(targetRow),
    ),
    '',
  ];
  if (report.failures.length > 0) {
    out.push('## Failures', '', ...report.failures.map((f) => `- ${f}`), '');
  }
  out.push(
    '## Method',
    '',
    `- Scenarios run: ${report.scenarios.join(', ')}.`,
    '- Each run is its own listener process: it LISTENs, reports its resident set, then the',
    '  benchmark sends `SELECT count(pg_notify(...)) FROM generate_series(1, N)` from another',
    '  connection. Payloads are distinct: padding, then the sequence number in 6 hex digits.',
    '  The listener times the first to the last notification; rate = (N - 1) / time. A run',
    '  fails unless it received exactly N, numbered 1 to N. Warm = the second of two bursts.',
    '- Memory: idle = VmRSS right after LISTEN; the peak (VmHWM) is reset there',
    '  (/proc/self/clear_refs) and read after the last burst. Growth is the largest over reps.',
    '- Latency: two connections of the same client in one process; a sample runs from sending',
    '  `SELECT pg_notify($1, $2)` (extended protocol, each client its own way) to the',
    '  notification on the listener. libpq: PQsendQueryParams on the notifier, then select()',
    "  on the listener's socket, PQconsumeInput, PQnotifies; the notifier's result is read",
    '  after the sample. JS clients: both connections on one event loop. Percentiles are',
    '  nearest-rank per process, then the median over repetitions. Targets use the paced series.',
    '- Clients: pqnotify-loop = waitReadable/consumeInput/notifies, pqnotify-iter =',
    '  `for await` over notifications(), pqnotify-batch = `for await` over notificationBatches(),',
    "  pg = Client 'notification' event, postgres =",
    '  sql.listen (no pid), libpq = bench/libpq-receiver.c (select loop of the libpq docs, cc -O2),',
    '  node-raw = bench/raw-session.ts: no client library, what Node itself costs (one socket',
    '  read into a reused buffer, messages parsed in place, a callback per notification),',
    "  node-raw-frames = the server's ceiling: node-raw framing each message without making a",
    '  string (a row near it is server-bound), pqnotify-baseline = the loop against another',
    "  build's dist/ (--baseline). Over TLS (--tls) every client uses sslmode=require: the",
    '  server has a test certificate, nothing verifies it; node-raw reads node:tls data events',
    '  (with --tls-direct, pqnotify and node-raw use sslnegotiation=direct, node-raw reading',
    '  into one reused buffer).',
    '  The JS listeners run on plain Node: bench/notify-listener.ts and src/ bundled by tsup',
    '  with the package build settings; pg and postgres.js load from node_modules. With',
    '  --runtime bun|deno, the pqnotify and node-raw listeners run the same bundle on Bun or Deno.',
    '- Read to handout: the pqnotify listener dials through a Transport wrapping the default',
    '  one that timestamps each read as it reaches the sink (process.hrtime.bigint(); over TLS,',
    '  the decrypted bytes) and takes the time when notifies() or the iterator hands the',
    '  notification out; burst runs are untimed.',
    '- Connections: N connections of one client in one Node process, each LISTENing; heap +',
    '  external (arrayBuffers are part of external) after two forced gcs, with no connection,',
    '  all idle, and once each received 300 notifications of 1000 bytes; per connection =',
    '  (value - none) / N, median over repetitions. Marginal: the same above the process once',
    '  one connection of the client was opened and closed before the N (every client alike):',
    "  the client's code is then loaded and compiled, and what it keeps once per process is",
    '  not spread over the N; tier-up compilation during the N still counts. RSS: the resident',
    '  set at the same points (memory touched, where heap + external counts what was',
    '  allocated). The targets use heap + external, both above no connection and marginal.',
    '- CPU: user + system time of the listener process over the timed burst. When even libpq',
    '  stays well below 100%, the server sets the rate and throughput ratios understate the',
    '  differences between clients; CPU per notification still compares them.',
    '',
  );
  return out.join('\n');
}

/** The notification bytes each connection received in the connections scenario, in KB. */
function trafficKB(report: NotifyReport): string {
  const bytes = report.runs.connections[0]?.trafficBytes;
  return bytes === undefined ? '?' : String(bytes / 1000);
}

const palette: Record<ClientName, string> = {
  'pqnotify-loop': '#1f77b4',
  'pqnotify-iter': '#6baed6',
  'pqnotify-batch': '#17becf',
  'pqnotify-baseline': '#9467bd',
  'node-raw-frames': '#bcbd22',
  pg: '#d62728',
  postgres: '#ff7f0e',
  libpq: '#2ca02c',
  'node-raw': '#7f7f7f',
};

/**
 * The chart: one throughput panel per payload size (solid = cold, light = warm, million
 * notifications/s) and a latency panel (solid = p50, light = p99, µs), one color per client.
 */
export function renderSvg(report: NotifyReport): string {
  const clients = report.clients;
  const payloadSizes = sizesOf(report);
  const panelWidth = 250;
  const width = panelWidth * 4 + 20;
  const height = 330;
  const parts: string[] = [];
  payloadSizes.forEach((size, i) => {
    parts.push(
      barPanel(
        10 + i * panelWidth,
        50,
        panelWidth - 10,
        height - 60,
        `${size} B bursts (M/s; light = warm)`,
        clients.map((client) =>
          variants.map((variant, vi) => ({
            value:
              report.throughput.find(
                (r) => r.client === client && r.payloadBytes === size && r.variant === variant,
              )?.perSecond ?? null,
            color: palette[client],
            opacity: vi === 0 ? 1 : 0.45,
          })),
        ),
        (v) => (v / 1e6).toFixed(2),
      ),
    );
  });
  parts.push(
    barPanel(
      10 + 3 * panelWidth,
      50,
      panelWidth - 10,
      height - 60,
      `paced latency (µs; light = p99)`,
      clients.map((client) => {
        const paced = report.latency.find((r) => r.client === client)?.paced;
        return [
          { value: paced?.p50Us ?? null, color: palette[client], opacity: 1 },
          { value: paced?.p99Us ?? null, color: palette[client], opacity: 0.45 },
        ];
      }),
      (v) => v.toFixed(0),
    ),
  );
  const legend = clients
    .map(
      (client, i) =>
        `<rect x="${20 + i * 125}" y="28" width="12" height="12" fill="${palette[client]}"/><text x="${36 + i * 125}" y="38">${client}</text>`,
    )
    .join('\n');
  const m = report.machine;
  const subtitle = `${m.cpus} cores, ${m.runtime}, ${m.tls ? 'TLS, ' : ''}${m.server.split(' on ')[0]}, libpq ${m.libpq ?? 'n/a'}; medians of ${report.reps}`;
  return svgDocument(width, height, [
    `<text x="20" y="16" font-weight="bold">pqnotify notification benchmark${report.quick ? ' (quick run)' : ''}</text>`,
    `<text x="${width - 20}" y="16" text-anchor="end" fill="#555">${escapeXml(subtitle)}</text>`,
    legend,
    ...parts,
  ]);
}
