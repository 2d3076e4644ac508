/**
 * Turns a usage report into what the charts draw: one label per time bucket across the
 * whole range (empty buckets included, so gaps read as gaps) and one stacked dataset per
 * group, the biggest groups first and the rest summed as "other".
 */
import type { Bucket, LatencyPoint, UsagePoint, UsageReport } from '../api/usage';

export const HOUR_MS = 3_600_000;
export const DAY_MS = 24 * HOUR_MS;
/** Stacks past this many groups are unreadable: the rest become one "other" band. */
export const MAX_GROUPS = 7;
export const OTHER = 'other';
/** A range of more buckets than this is drawn from the answer's own buckets only. */
const MAX_FILLED_BUCKETS = 2000;

export type Metric = 'tokens' | 'requests';

export interface Dataset {
  label: string;
  data: number[];
}

export interface LineSet {
  label: string;
  data: (number | null)[];
}

export function stepOf(bucket: Bucket): number {
  return bucket === 'day' ? DAY_MS : HOUR_MS;
}

/** Bucket starts from the one holding `from` up to `to` (UTC boundaries), plus any the answer has off that grid. */
export function bucketTimes(report: Pick<UsageReport, 'from' | 'to' | 'bucket'>, seen: number[]): number[] {
  const step = stepOf(report.bucket);
  const times = new Set(seen);
  if (report.from !== null && report.to !== null && report.to > report.from && (report.to - report.from) / step <= MAX_FILLED_BUCKETS) {
    for (let t = Math.floor(report.from / step) * step; t < report.to; t += step) times.add(t);
  }
  return [...times].sort((a, b) => a - b);
}

export function metricOf(point: UsagePoint, metric: Metric): number {
  return metric === 'tokens' ? point.tokens_in + point.tokens_out : point.requests;
}

/** Groups by their total of `metric`, biggest first; ties by name so the order is stable. */
export function rankedGroups(series: UsagePoint[], metric: Metric): string[] {
  const totals = new Map<string, number>();
  for (const point of series) totals.set(point.group, (totals.get(point.group) ?? 0) + metricOf(point, metric));
  return [...totals.entries()].sort((a, b) => b[1] - a[1] || a[0].localeCompare(b[0])).map(([group]) => group);
}

/** One dataset per group (at most MAX_GROUPS, then "other"), valued per bucket of `times`. */
export function stackedDatasets(series: UsagePoint[], times: number[], metric: Metric): Dataset[] {
  const ranked = rankedGroups(series, metric);
  const kept = ranked.length > MAX_GROUPS ? ranked.slice(0, MAX_GROUPS - 1) : ranked;
  const keptSet = new Set(kept);
  const labels = ranked.length > kept.length ? [...kept, OTHER] : kept;
  const index = new Map(times.map((t, i) => [t, i]));
  const rows = new Map(labels.map((label) => [label, new Array<number>(times.length).fill(0)]));
  for (const point of series) {
    const i = index.get(point.t);
    if (i === undefined) continue;
    const row = rows.get(keptSet.has(point.group) ? point.group : OTHER);
    if (row) row[i] += metricOf(point, metric);
  }
  return labels.map((label) => ({ label, data: rows.get(label) ?? [] }));
}

/** p50 and p95 per bucket of `times`; a bucket without requests has no latency (a gap, not a zero). */
export function latencyLines(latency: LatencyPoint[], times: number[]): { p50: LineSet; p95: LineSet; errorRate: LineSet } {
  const byTime = new Map(latency.map((point) => [point.t, point]));
  const pick = (read: (p: LatencyPoint) => number | null) => times.map((t) => {
    const point = byTime.get(t);
    return point ? read(point) : null;
  });
  return {
    p50: { label: 'p50', data: pick((p) => p.p50_ms) },
    p95: { label: 'p95', data: pick((p) => p.p95_ms) },
    errorRate: { label: 'Error rate', data: pick((p) => (p.error_rate === null ? null : p.error_rate * 100)) },
  };
}

export interface Totals {
  requests: number;
  tokens_in: number;
  tokens_out: number;
  errors: number;
}

export function totalsOf(series: UsagePoint[]): Totals {
  const totals: Totals = { requests: 0, tokens_in: 0, tokens_out: 0, errors: 0 };
  for (const point of series) {
    totals.requests += point.requests;
    totals.tokens_in += point.tokens_in;
    totals.tokens_out += point.tokens_out;
    totals.errors += point.errors;
  }
  return totals;
}

/** A bucket's label on the axis: "14:00" for hours (with the date at midnight), "Dec 7" for days; local time. */
export function bucketLabel(t: number, bucket: Bucket): string {
  const date = new Date(t);
  if (bucket === 'day') return date.toLocaleDateString(undefined, { month: 'short', day: 'numeric' });
  const time = date.toLocaleTimeString(undefined, { hour: '2-digit', minute: '2-digit' });
  return date.getHours() === 0 ? `${date.toLocaleDateString(undefined, { month: 'short', day: 'numeric' })} ${time}` : time;
}

/** 1234 -> "1.2k", 2_500_000 -> "2.5M". */
export function compactNumber(value: number): string {
  if (Math.abs(value) < 1000) return String(Math.round(value));
  const units = ['k', 'M', 'G', 'T'];
  let scaled = value;
  let unit = -1;
  while (Math.abs(scaled) >= 1000 && unit < units.length - 1) {
    scaled /= 1000;
    unit += 1;
  }
  return `${scaled >= 100 ? Math.round(scaled) : scaled.toFixed(1).replace(/\.0$/, '')}${units[unit]}`;
}
