import { useMemo, useState } from 'react';
import { BarChart3, RefreshCw, TriangleAlert } from 'lucide-react';
import type { Bucket, GroupBy, TopEntry, UsageReport } from '../api/usage';
import { formatLatency } from '../format';
import { DAY_MS, bucketLabel, bucketTimes, compactNumber, latencyLines, stackedDatasets, totalsOf } from './chartData';
import { useUsage } from '../hooks/useUsage';
import LiveIndicator from '../components/LiveIndicator';
import { Options } from '../components/FormParts';
import LoadNotes from '../components/LoadNotes';
import PageHeader from '../components/PageHeader';
import TimeChart from './TimeChart';
import './UsagePage.css';

const RANGES = [
  { id: '24h', label: 'Last 24 hours', span: DAY_MS, bucket: 'hour' },
  { id: '7d', label: 'Last 7 days', span: 7 * DAY_MS, bucket: 'day' },
  { id: '30d', label: 'Last 30 days', span: 30 * DAY_MS, bucket: 'day' },
] as const;
type RangeId = (typeof RANGES)[number]['id'];

const GROUPS: { id: GroupBy; label: string }[] = [
  { id: 'model', label: 'Model' },
  { id: 'key', label: 'Key' },
  { id: 'host', label: 'Integration' },
];

function Choice<T extends string>({ name, label, value, options, onChange }: { name: string; label: string; value: T; options: readonly { id: T; label: string }[]; onChange: (value: T) => void }) {
  return (
    <fieldset className="usage-choice" data-testid={`usage-${name}`}>
      <legend>{label}</legend>
      {options.map((option) => (
        <label key={option.id} className={option.id === value ? 'checked' : undefined}>
          <input type="radio" name={`usage-${name}`} value={option.id} checked={option.id === value} onChange={() => onChange(option.id)} />
          {option.label}
        </label>
      ))}
    </fieldset>
  );
}

function TopTable({ title, name, entries }: { title: string; name: string; entries: TopEntry[] }) {
  return (
    <section className="panel usage-top" aria-labelledby={`usage-top-${name}`} data-testid={`usage-top-${name}`}>
      <h2 id={`usage-top-${name}`}>{title}</h2>
      {entries.length ? (
        <table>
          <thead>
            <tr>
              <th scope="col">Name</th>
              <th scope="col">Requests</th>
              <th scope="col">Tokens</th>
            </tr>
          </thead>
          <tbody>
            {entries.map((entry) => (
              <tr key={entry.name} data-testid="usage-top-row" data-name={entry.name}>
                <th scope="row">{entry.name}</th>
                <td>{entry.requests.toLocaleString()}</td>
                <td>{entry.tokens.toLocaleString()}</td>
              </tr>
            ))}
          </tbody>
        </table>
      ) : (
        <p className="page-muted">Nothing in this range.</p>
      )}
    </section>
  );
}

function NotRecorded({ report }: { report: UsageReport }) {
  const { ok, dropped, reason } = report.recording;
  if (ok && dropped === 0) return null;
  if (ok) {
    return (
      <p className="page-note" role="status" data-testid="usage-dropped">
        {dropped.toLocaleString()} {dropped === 1 ? 'request was' : 'requests were'} not recorded (the disk was too slow); the charts miss them.
      </p>
    );
  }
  return (
    <div className="page-note warning" role="alert" data-testid="usage-not-recorded">
      <TriangleAlert size={16} />
      <div>
        <strong>Usage not recorded.</strong> {reason ? `${reason}. ` : ''}Requests are still served, but they are not written to the history
        {dropped ? ` (${dropped.toLocaleString()} dropped so far)` : ''}, so these charts stop at the last one recorded.
      </div>
    </div>
  );
}

/** Milliseconds with a decimal below 10 ms (a fast local model's answers), as the request log shows them above. */
function latencyText(ms: number): string {
  return ms < 10 ? `${Number(ms.toFixed(1))} ms` : (formatLatency(ms) ?? '');
}

function percentText(pct: number): string {
  return `${Number(pct.toFixed(1))}%`;
}

function Charts({ report }: { report: UsageReport }) {
  const times = useMemo(
    () => bucketTimes(report, [...report.series.map((p) => p.t), ...report.latency.map((p) => p.t)]),
    [report],
  );
  const labels = useMemo(() => times.map((t) => bucketLabel(t, report.bucket)), [times, report.bucket]);
  const tokens = useMemo(() => stackedDatasets(report.series, times, 'tokens'), [report.series, times]);
  const requests = useMemo(() => stackedDatasets(report.series, times, 'requests'), [report.series, times]);
  const lines = useMemo(() => latencyLines(report.latency, times), [report.latency, times]);
  const latency = useMemo(() => [{ ...lines.p50, colour: '#38bdf8' }, { ...lines.p95, colour: '#f472b6' }], [lines]);
  const errorRate = useMemo(() => [{ ...lines.errorRate, colour: '#f87171' }], [lines]);
  const by = GROUPS.find((g) => g.id === report.group_by)?.label.toLowerCase() ?? report.group_by;
  const per = report.bucket === 'day' ? 'day' : 'hour';

  return (
    <div className="usage-charts">
      <TimeChart name="tokens" title={`Tokens per ${per}, by ${by}`} kind="bar" stacked integer labels={labels} series={tokens} format={compactNumber} />
      <TimeChart name="requests" title={`Requests per ${per}, by ${by}`} kind="bar" stacked integer labels={labels} series={requests} format={compactNumber} />
      <TimeChart name="latency" title="Latency (p50 and p95)" kind="line" labels={labels} series={latency} format={latencyText} />
      <TimeChart name="errors" title="Error rate" kind="line" labels={labels} series={errorRate} suggestedMax={5} format={percentText} />
    </div>
  );
}

/** The Usage page: tokens, requests, latency and errors over time from the usage history, and who used the most. */
export default function UsagePage({ socketUrl }: { socketUrl?: string }) {
  const [range, setRange] = useState<RangeId>('24h');
  const [bucket, setBucket] = useState<Bucket>('hour');
  const [groupBy, setGroupBy] = useState<GroupBy>('model');
  const span = RANGES.find((r) => r.id === range)?.span ?? DAY_MS;
  const { report, phase, error, liveState, refresh } = useUsage({ span, bucket, group_by: groupBy }, { socketUrl });
  const totals = useMemo(() => (report ? totalsOf(report.series) : null), [report]);

  function chooseRange(id: RangeId) {
    const chosen = RANGES.find((r) => r.id === id) ?? RANGES[0];
    setRange(chosen.id);
    setBucket(chosen.bucket); // each range starts at its readable bucket (hours over 30 days are 720 slivers); either can be picked after
  }

  return (
    <div className="page" data-testid="usage-page">
      <PageHeader
        title="Usage"
        icon={BarChart3}
        subtitle="Who used what and how much, from the usage history (it survives restarts)."
        actions={
          <>
            <button type="button" className="button outline small" data-testid="usage-refresh" onClick={refresh}>
              <RefreshCw size={14} /> Refresh
            </button>
            <LiveIndicator state={liveState} />
          </>
        }
      />

      <div className="usage-controls">
        <label className="usage-range">
          <span>Range</span>
          <select data-testid="usage-range" value={range} onChange={(event) => chooseRange(event.target.value as RangeId)}>
            <Options options={RANGES} />
          </select>
        </label>
        <Choice name="bucket" label="Per" value={bucket} options={[{ id: 'hour', label: 'Hour' }, { id: 'day', label: 'Day' }]} onChange={setBucket} />
        <Choice name="group" label="Stack by" value={groupBy} options={GROUPS} onChange={setGroupBy} />
      </div>

      <LoadNotes phase={phase} error={error} name="usage" lacks="keeps no usage history" endpoint="/v1/usage" what="usage" />
      {phase === 'unrecorded' ? (
        <div className="page-note warning" role="alert" data-testid="usage-not-recorded">
          <TriangleAlert size={16} />
          <div>
            <strong>Usage not recorded.</strong> {error} Requests are still served; there is no history to chart until the database opens.
          </div>
        </div>
      ) : null}
      {phase === 'loading' && !report ? <p className="page-muted">Loading usage…</p> : null}

      {report && phase !== 'unavailable' && phase !== 'unrecorded' ? (
        <>
          <NotRecorded report={report} />
          {totals ? (
            <dl className="usage-totals" data-testid="usage-totals">
              <div>
                <dt>Requests</dt>
                <dd data-testid="usage-total-requests">{totals.requests.toLocaleString()}</dd>
              </div>
              <div>
                <dt>Tokens in</dt>
                <dd data-testid="usage-total-tokens-in">{totals.tokens_in.toLocaleString()}</dd>
              </div>
              <div>
                <dt>Tokens out</dt>
                <dd data-testid="usage-total-tokens-out">{totals.tokens_out.toLocaleString()}</dd>
              </div>
              <div>
                <dt>Errors</dt>
                <dd data-testid="usage-total-errors">{totals.errors.toLocaleString()}</dd>
              </div>
            </dl>
          ) : null}
          {report.series.length === 0 ? (
            <p className="page-note" data-testid="usage-empty">
              No requests in this range yet. Send one (the Playground is a quick way) and it shows here.
            </p>
          ) : null}
          <Charts report={report} />
          <div className="usage-tops">
            <TopTable title="Top keys" name="keys" entries={report.top.keys} />
            <TopTable title="Top models" name="models" entries={report.top.models} />
          </div>
        </>
      ) : null}
    </div>
  );
}
