/** The keys and usage answers exactly as the contract (USAGE_API) shapes them, and a fetch that routes on the path. */
import { vi } from 'vitest';
import { jsonResponse } from './fixtures';

const HOUR = 3_600_000;

export function isoHour(hoursAgo: number, now = Date.now()): string {
  return new Date(Math.floor(now / HOUR) * HOUR - hoursAgo * HOUR).toISOString();
}

export function usageAnswer(overrides: Record<string, unknown> = {}) {
  const now = Date.now();
  return {
    from: new Date(now - 24 * HOUR).toISOString(),
    to: new Date(now).toISOString(),
    bucket: 'hour',
    group_by: 'model',
    series: [
      { t: isoHour(2), group: 'llama3.2:latest', requests: 4, tokens_in: 120, tokens_out: 380, errors: 1 },
      { t: isoHour(1), group: 'llama3.2:latest', requests: 2, tokens_in: 60, tokens_out: 140, errors: 0 },
      { t: isoHour(1), group: 'fast', requests: 1, tokens_in: 10, tokens_out: 20, errors: 0 },
    ],
    latency: [
      { t: isoHour(2), p50_ms: 180, p95_ms: 950, error_rate: 0.25 },
      { t: isoHour(1), p50_ms: 120, p95_ms: 400, error_rate: 0 },
    ],
    top: {
      keys: [
        { name: 'alice-laptop', requests: 5, tokens: 600 },
        { name: 'local', requests: 2, tokens: 130 },
      ],
      models: [
        { name: 'llama3.2:latest', requests: 6, tokens: 700 },
        { name: 'fast', requests: 1, tokens: 30 },
      ],
    },
    recording: { ok: true, dropped: 0, reason: null },
    ...overrides,
  };
}

export function keyAnswer(overrides: Record<string, unknown> = {}) {
  return {
    id: 'k1',
    name: 'alice-laptop',
    prefix: 'atm_a1b2',
    created_at: new Date(Date.now() - 3 * 86_400_000).toISOString(),
    last_used_at: new Date(Date.now() - 120_000).toISOString(),
    expires_at: null,
    revoked_at: null,
    surfaces: null,
    models: null,
    limits: { requests_per_minute: 60, tokens_per_minute: null, concurrent: 2 },
    monthly_token_budget: 1_000_000,
    tokens_this_month: 12_345,
    log_prompts: false,
    limited_last_hour: 0,
    ...overrides,
  };
}

/** A body (answered 200) or a function of the call returning a Response or a body. */
type Handler = unknown;

/** fetch routed by "METHOD /path" (the query is the handler's to read); an unrouted call is a 500 naming it. */
export function routeFetch(routes: Record<string, Handler>) {
  const fn = vi.fn(async (input: string, init: RequestInit = {}): Promise<Response> => {
    const url = new URL(input, 'http://atmosphere.test');
    const route = routes[`${(init.method || 'GET').toUpperCase()} ${url.pathname}`];
    if (route === undefined) return jsonResponse({ error: { message: `no route for ${init.method || 'GET'} ${url.pathname}`, type: 'test', code: null } }, 500);
    const answer = typeof route === 'function' ? await (route as (url: URL, init: RequestInit) => unknown)(url, init) : route;
    return answer instanceof Response ? answer : jsonResponse(answer);
  });
  vi.stubGlobal('fetch', fn);
  return fn;
}

/** The URLs of the calls made to a routed fetch. */
export function calledUrls(fn: ReturnType<typeof routeFetch>): URL[] {
  return fn.mock.calls.map(([input]) => new URL(input, 'http://atmosphere.test'));
}
