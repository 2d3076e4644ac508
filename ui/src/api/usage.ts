/**
 * The usage history (`GET /v1/usage`): requests and tokens per time bucket and group,
 * latency percentiles and error rate per bucket, the top keys and models, and whether
 * the service is recording at all. Read once here, like `normalize.ts` does for the rest.
 */
import { apiRequest } from './client';
import { bool, listOf, num, obj, str } from './normalize';

export type Bucket = 'hour' | 'day';
export type GroupBy = 'model' | 'key' | 'host';

export interface UsagePoint {
  /** Start of the bucket, epoch milliseconds. */
  t: number;
  group: string;
  requests: number;
  tokens_in: number;
  tokens_out: number;
  errors: number;
}

export interface LatencyPoint {
  t: number;
  p50_ms: number | null;
  p95_ms: number | null;
  /** 0..1 */
  error_rate: number | null;
}

export interface TopEntry {
  name: string;
  requests: number;
  tokens: number;
}

export interface Recording {
  ok: boolean;
  dropped: number;
  reason: string | null;
}

export interface UsageReport {
  from: number | null;
  to: number | null;
  bucket: Bucket;
  group_by: GroupBy;
  series: UsagePoint[];
  latency: LatencyPoint[];
  top: { keys: TopEntry[]; models: TopEntry[] };
  recording: Recording;
}

export interface UsageQuery {
  from: Date;
  to: Date;
  bucket: Bucket;
  group_by: GroupBy;
}

/** An ISO-8601 time (or epoch seconds) as epoch milliseconds; null when it is neither. */
export function timeFrom(value: unknown): number | null {
  if (typeof value === 'number' && Number.isFinite(value)) return value * 1000;
  if (typeof value !== 'string') return null;
  const ms = Date.parse(value);
  return Number.isFinite(ms) ? ms : null;
}

function count(value: unknown): number {
  return num(value) ?? 0;
}

function pointFrom(value: unknown): UsagePoint | null {
  const p = obj(value);
  const t = p && timeFrom(p.t);
  if (!p || t === null) return null;
  return {
    t,
    group: str(p.group) ?? '(none)',
    requests: count(p.requests),
    tokens_in: count(p.tokens_in),
    tokens_out: count(p.tokens_out),
    errors: count(p.errors),
  };
}

function latencyFrom(value: unknown): LatencyPoint | null {
  const p = obj(value);
  const t = p && timeFrom(p.t);
  if (!p || t === null) return null;
  return { t, p50_ms: num(p.p50_ms), p95_ms: num(p.p95_ms), error_rate: num(p.error_rate) };
}

function topFrom(value: unknown): TopEntry | null {
  const e = obj(value);
  const name = e && str(e.name);
  if (!e || name === null) return null;
  return { name, requests: count(e.requests), tokens: count(e.tokens) };
}

export function usageFrom(data: unknown): UsageReport {
  const d = obj(data) ?? {};
  const top = obj(d.top) ?? {};
  const recording = obj(d.recording);
  return {
    from: timeFrom(d.from),
    to: timeFrom(d.to),
    bucket: d.bucket === 'day' ? 'day' : 'hour',
    group_by: d.group_by === 'key' || d.group_by === 'host' ? d.group_by : 'model',
    series: listOf(d.series, pointFrom),
    latency: listOf(d.latency, latencyFrom),
    top: { keys: listOf(top.keys, topFrom), models: listOf(top.models, topFrom) },
    // An answer that does not say is not a claim that recording failed.
    recording: {
      ok: recording ? bool(recording.ok) ?? true : true,
      dropped: recording ? count(recording.dropped) : 0,
      reason: recording ? str(recording.reason) : null,
    },
  };
}

export function usagePath({ from, to, bucket, group_by }: UsageQuery): string {
  const query = new URLSearchParams({ from: from.toISOString(), to: to.toISOString(), bucket, group_by });
  return `/v1/usage?${query.toString()}`;
}

/** GET /v1/usage for one range, bucket size and grouping. */
export async function fetchUsage(query: UsageQuery, signal?: AbortSignal): Promise<UsageReport> {
  return usageFrom(await apiRequest(usagePath(query), { signal }));
}
