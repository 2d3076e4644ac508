import { describe, expect, it } from 'vitest';
import type { UsagePoint } from '../api/usage';
import { HOUR_MS, MAX_GROUPS, bucketTimes, compactNumber, latencyLines, rankedGroups, stackedDatasets, totalsOf } from './chartData';

const T0 = Date.UTC(2026, 11, 7, 10);

function point(hour: number, group: string, requests: number, tokens_in = 0, tokens_out = 0, errors = 0): UsagePoint {
  return { t: T0 + hour * HOUR_MS, group, requests, tokens_in, tokens_out, errors };
}

describe('usage chart data', () => {
  it('draws every bucket of the range, the empty ones as zero, so a quiet hour reads as a gap', () => {
    const times = bucketTimes({ from: T0 + 15 * 60_000, to: T0 + 4 * HOUR_MS, bucket: 'hour' }, [T0 + 2 * HOUR_MS]);
    expect(times).toEqual([0, 1, 2, 3].map((h) => T0 + h * HOUR_MS));
    const [llama] = stackedDatasets([point(2, 'llama', 5, 10, 20)], times, 'tokens');
    expect(llama).toEqual({ label: 'llama', data: [0, 0, 30, 0] });
  });

  it('stacks the biggest groups first and sums the long tail as "other"', () => {
    const series = Array.from({ length: MAX_GROUPS + 2 }, (_, i) => point(0, `m${i}`, i + 1));
    const datasets = stackedDatasets(series, [T0], 'requests');
    expect(datasets).toHaveLength(MAX_GROUPS);
    expect(datasets[0]).toEqual({ label: `m${MAX_GROUPS + 1}`, data: [MAX_GROUPS + 2] });
    // The three smallest (1 + 2 + 3 requests) make "other".
    expect(datasets[MAX_GROUPS - 1]).toEqual({ label: 'other', data: [6] });
    expect(rankedGroups([point(0, 'b', 1), point(0, 'a', 1)], 'requests')).toEqual(['a', 'b']);
  });

  it('ranks by the metric shown: a key with few long requests tops the tokens chart, not the requests chart', () => {
    const series = [point(0, 'chatty', 50, 10, 10), point(0, 'indexer', 2, 9000, 0)];
    expect(rankedGroups(series, 'tokens')).toEqual(['indexer', 'chatty']);
    expect(rankedGroups(series, 'requests')).toEqual(['chatty', 'indexer']);
  });

  it('leaves latency out of buckets without requests instead of drawing zero milliseconds', () => {
    const times = [T0, T0 + HOUR_MS];
    const lines = latencyLines([{ t: T0 + HOUR_MS, p50_ms: 120, p95_ms: 900, error_rate: 0.25 }], times);
    expect(lines.p50.data).toEqual([null, 120]);
    expect(lines.p95.data).toEqual([null, 900]);
    expect(lines.errorRate.data).toEqual([null, 25]);
  });

  it('adds up the totals and writes big numbers short', () => {
    expect(totalsOf([point(0, 'a', 2, 10, 5, 1), point(1, 'b', 3, 1, 1, 0)])).toEqual({ requests: 5, tokens_in: 11, tokens_out: 6, errors: 1 });
    expect([compactNumber(999), compactNumber(1234), compactNumber(2_500_000), compactNumber(150_000)]).toEqual(['999', '1.2k', '2.5M', '150k']);
  });
});
