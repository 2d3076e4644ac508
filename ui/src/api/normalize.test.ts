import { describe, expect, it } from 'vitest';
import { integrationFrom, integrationListFrom, requestEntryFrom, socketMessageFrom } from './normalize';

describe('normalize', () => {
  it('reads a bare integration with null and empty defaults, never guessed values', () => {
    const i = integrationFrom({ id: 'ollama', status: 'healthy' });
    expect(i).toMatchObject({
      id: 'ollama',
      name: 'ollama',
      models: [],
      projects: [],
      capabilities: [],
      model_count: 0,
      enabled: true,
      breaker: null,
      stats: null,
      warmup_supported: false,
      removable: null,
      network: null,
    });
    expect(integrationFrom({ id: 'lan', network: 'private' })?.network).toBe('private');
    expect(integrationFrom({ id: 'odd', network: 'mars' })?.network).toBeNull();
  });

  it('drops items it cannot identify and values of the wrong type', () => {
    const i = integrationFrom({
      id: 'lf',
      status: 'degraded',
      models: [{ id: 'fast', ready: false, unavailable_reason: 'runtime down', locality: 'moon', size: 'big' }, { name: 'no id' }, 7],
      projects: [{ namespace: 'default', name: 'broken', validation_error: 'bad yaml', models: ['a', 3] }, null],
      capabilities: ['chat', 4],
      breaker: { state: 'open', open_until: 1700000000, last_failure: 'HTTP 503', failures: 3 },
      stats: { p50_ms: 12, p95_ms: 'slow', sparkline: [1, 'x', 3] },
    });
    expect(i?.models).toHaveLength(1);
    expect(i?.models[0]).toMatchObject({ id: 'fast', ready: false, unavailable_reason: 'runtime down', locality: null, size: null, loaded: null });
    expect(i?.projects).toEqual([{ namespace: 'default', name: 'broken', default_model: null, models: ['a'], validation_error: 'bad yaml' }]);
    expect(i?.capabilities).toEqual(['chat']);
    expect(i?.breaker).toEqual({ state: 'open', open_until: 1700000000, last_failure: 'HTTP 503', failures: 3 });
    expect(i?.stats).toMatchObject({ p50_ms: 12, p95_ms: null, sparkline: [1, 0, 3] });
    expect(integrationFrom({ name: 'no id' })).toBeNull();
  });

  it('reads a list answer whatever it holds', () => {
    expect(integrationListFrom(null)).toEqual({ integrations: [], timestamp: null });
    expect(integrationListFrom({ integrations: 'nope', timestamp: 5 })).toEqual({ integrations: [], timestamp: 5 });
  });

  it('reads socket messages it acts on and drops the rest', () => {
    expect(socketMessageFrom({ type: 'ping' })).toEqual({ type: 'ping' });
    expect(socketMessageFrom({ type: 'snapshot', integrations: [{ id: 'a' }], timestamp: 1 })).toMatchObject({ type: 'snapshot', timestamp: 1 });
    expect(socketMessageFrom({ type: 'snapshot' })).toBeNull();
    expect(socketMessageFrom({ type: 'integration', integration: {} })).toBeNull();
    expect(socketMessageFrom({ type: 'request', request: { id: 9, attempts: [{ backend: 'llamafarm', reason: 'HTTP 500' }] } })).toMatchObject({
      type: 'request',
      request: { id: '9', attempts: [{ backend: 'llamafarm', reason: 'HTTP 500', kind: 'error' }] },
    });
    expect(socketMessageFrom({ type: 'mystery' })).toBeNull();
    expect(socketMessageFrom('text')).toBeNull();
  });

  it("reads a request entry's reason and agent, and leaves them null when absent or not text", () => {
    const refused = { id: 'r2', status: 400, reason: "messages.1.role: must be 'user'", agent: 'claude-cli/2.1.197 (external, sdk-cli)' };
    expect(requestEntryFrom(refused)).toMatchObject({ reason: "messages.1.role: must be 'user'", agent: 'claude-cli/2.1.197 (external, sdk-cli)' });
    expect(requestEntryFrom({ id: 'r3', reason: 7, agent: ['x'] })).toMatchObject({ reason: null, agent: null });
  });

  it('reads a request entry with unknown fields left null', () => {
    expect(requestEntryFrom({ id: 'r1', outcome: 'fallback', substituted: true })).toMatchObject({
      id: 'r1',
      outcome: 'fallback',
      substituted: true,
      attempts: [],
      backend: null,
      ttft_ms: null,
    });
  });
});
