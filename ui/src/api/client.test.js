import { describe, expect, it, vi } from 'vitest';
import { ApiError, fetchIntegrations, liveSocketUrl, runIntegrationTest, setIntegrationEnabled } from './client.js';
import { jsonResponse, mockFetch } from '../test/fixtures.js';

describe('api client', () => {
  it('builds the socket URL from the page location', () => {
    expect(liveSocketUrl({ protocol: 'http:', host: 'localhost:8000' })).toBe('ws://localhost:8000/ws');
    expect(liveSocketUrl({ protocol: 'https:', host: 'atmo.example' })).toBe('wss://atmo.example/ws');
  });

  it("rejects with the service's OpenAI-style error message", async () => {
    mockFetch({
      'POST /v1/integrations/test': () =>
        jsonResponse({ error: { message: 'prompt must not be empty', type: 'invalid_request_error', param: null, code: 'bad_input' } }, 400),
    });
    const failure = runIntegrationTest({ integrationId: 'ollama', prompt: '' });
    await expect(failure).rejects.toBeInstanceOf(ApiError);
    await expect(failure).rejects.toMatchObject({ message: 'prompt must not be empty', status: 400, code: 'bad_input' });
  });

  it('turns a failed connection into an ApiError that says so', async () => {
    vi.stubGlobal('fetch', vi.fn(async () => {
      throw new TypeError('Failed to fetch');
    }));
    await expect(fetchIntegrations()).rejects.toMatchObject({ name: 'ApiError', message: 'Network error: Failed to fetch', type: 'network_error' });
  });

  it('escapes the integration id in enable/disable paths', async () => {
    const fetch = mockFetch({ 'POST /v1/integrations/a%2Fb/enable': { integration: { id: 'a/b' } } });
    await expect(setIntegrationEnabled('a/b', true)).resolves.toEqual({ integration: { id: 'a/b' } });
    expect(fetch).toHaveBeenCalledTimes(1);
  });
});
