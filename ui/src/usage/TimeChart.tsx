import { useEffect, useId, useRef } from 'react';
import {
  BarController,
  BarElement,
  CategoryScale,
  Chart,
  Legend,
  LinearScale,
  LineController,
  LineElement,
  PointElement,
  Tooltip,
  type ChartConfiguration,
} from 'chart.js';
import './TimeChart.css';

// Only the pieces these charts use, so the bundle carries no more of Chart.js than that.
Chart.register(BarController, BarElement, LineController, LineElement, PointElement, CategoryScale, LinearScale, Tooltip, Legend);

/** Colours that stay apart on the dark theme; "other" is always grey. */
const PALETTE = ['#818cf8', '#34d399', '#fbbf24', '#f472b6', '#38bdf8', '#fb923c', '#a78bfa', '#4ade80'];
const OTHER_COLOUR = '#64748b';
const TEXT = '#a3acc2';
const GRID = 'rgba(38, 49, 73, 0.8)';

export interface ChartSeries {
  label: string;
  data: (number | null)[];
  colour?: string;
}

export interface TimeChartProps {
  /** Names the chart for screen readers and the test (data-testid="chart-<name>"). */
  name: string;
  title: string;
  kind: 'bar' | 'line';
  labels: string[];
  series: ChartSeries[];
  /** Bars stack (a total per bucket made of its groups). */
  stacked?: boolean;
  /** How a value reads on the axis, in the tooltip and in the table. */
  format: (value: number) => string;
  /** Counts: no fractional ticks on the axis. */
  integer?: boolean;
  /** The axis reaches at least this far, so a flat line at zero is not drawn over a 0–1 scale. */
  suggestedMax?: number;
}

export function colourOf(index: number, label: string): string {
  return label === 'other' ? OTHER_COLOUR : PALETTE[index % PALETTE.length];
}

function configOf({ kind, labels, series, stacked, format, integer, suggestedMax }: TimeChartProps): ChartConfiguration<'bar' | 'line', (number | null)[], string> {
  return {
    type: kind,
    data: {
      labels,
      datasets: series.map((s, i) => {
        const colour = s.colour ?? colourOf(i, s.label);
        return {
          label: s.label,
          data: s.data,
          backgroundColor: colour,
          borderColor: colour,
          borderWidth: kind === 'line' ? 2 : 0,
          pointRadius: kind === 'line' ? 2 : 0,
          spanGaps: false,
          maxBarThickness: 28,
        };
      }),
    },
    options: {
      responsive: true,
      maintainAspectRatio: false,
      animation: false,
      interaction: { mode: 'index', intersect: false },
      scales: {
        x: { stacked, ticks: { color: TEXT, maxRotation: 0, autoSkip: true, autoSkipPadding: 12 }, grid: { display: false } },
        y: { stacked, beginAtZero: true, suggestedMax, ticks: { color: TEXT, precision: integer ? 0 : undefined, callback: (value) => format(Number(value)) }, grid: { color: GRID } },
      },
      plugins: {
        legend: { position: 'bottom', labels: { color: TEXT, boxWidth: 12, boxHeight: 12 } },
        tooltip: { callbacks: { label: (item) => `${item.dataset.label}: ${item.raw === null ? '—' : format(Number(item.raw))}` } },
      },
    },
  };
}

/**
 * One time-series chart drawn with Chart.js on a canvas, with the same numbers as a table
 * under "Show as table" (for screen readers and for reading exact values on a phone).
 */
export default function TimeChart(props: TimeChartProps) {
  const { name, title, labels, series, format } = props;
  const canvas = useRef<HTMLCanvasElement>(null);
  const chart = useRef<Chart<'bar' | 'line', (number | null)[], string> | null>(null);
  const titleId = useId();

  useEffect(() => {
    const element = canvas.current;
    if (!element || !element.getContext('2d')) return undefined; // no canvas (a test's DOM): the table still holds the numbers
    chart.current = new Chart(element, configOf(props));
    return () => {
      chart.current?.destroy();
      chart.current = null;
    };
    // The chart is rebuilt when what it shows changes; `format` is fixed per chart.
  }, [props.kind, props.stacked, props.integer, props.suggestedMax, labels, series]);

  return (
    <figure className="panel time-chart" data-testid={`chart-${name}`} aria-labelledby={titleId}>
      <figcaption id={titleId}>{title}</figcaption>
      <div className="time-chart-canvas">
        <canvas ref={canvas} role="img" aria-label={`${title}: chart; the table below has the numbers`} data-testid={`chart-canvas-${name}`} />
      </div>
      <details className="time-chart-table">
        <summary>Show as table</summary>
        <div className="time-chart-table-scroller">
          <table data-testid={`chart-table-${name}`}>
            <thead>
              <tr>
                <th scope="col">Time</th>
                {series.map((s) => (
                  <th scope="col" key={s.label}>
                    {s.label}
                  </th>
                ))}
              </tr>
            </thead>
            <tbody>
              {labels.map((label, i) =>
                series.some((s) => s.data[i]) ? (
                  <tr key={`${label}-${i}`}>
                    <th scope="row">{label}</th>
                    {series.map((s) => (
                      <td key={s.label}>{s.data[i] === null || s.data[i] === undefined ? '—' : format(s.data[i] as number)}</td>
                    ))}
                  </tr>
                ) : null,
              )}
            </tbody>
          </table>
        </div>
      </details>
    </figure>
  );
}
