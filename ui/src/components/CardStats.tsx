import type { Stats } from '../api/types';
import { formatLatency, formatPercent } from '../format';
import Sparkline from './Sparkline';
import './CardStats.css';

function _rate(value: number | null): string | null {
  if (value === null) return null;
  return value >= 10 || value === 0 ? String(Math.round(value)) : value.toFixed(1);
}

/** Traffic on this host over the last 15 minutes, as the service measured it. */
export default function CardStats({ stats }: { stats: Stats | null }) {
  if (!stats) return null;
  const items: [string, string | null, string][] = [
    ['p50', formatLatency(stats.p50_ms), 'stats-p50'],
    ['p95', formatLatency(stats.p95_ms), 'stats-p95'],
    ['req/min', _rate(stats.requests_per_minute), 'stats-rpm'],
    ['errors', formatPercent(stats.error_rate), 'stats-error-rate'],
  ];
  return (
    <section className="card-stats" aria-label="Last 15 minutes" data-testid="card-stats">
      <dl className="card-stats-figures">
        {items.map(([label, value, testId]) => (
          <div key={label}>
            <dt>{label}</dt>
            <dd data-testid={testId}>{value ?? '—'}</dd>
          </div>
        ))}
      </dl>
      <Sparkline values={stats.sparkline} label={`Requests per minute over the last ${stats.sparkline.length} minutes`} />
    </section>
  );
}
