import { describe, expect, it, vi } from 'vitest';
import { ApiError, fetchIntegrations, fetchModels, liveSocketUrl, runIntegrationTest, setIntegrationEnabled } from './client';
import { STORAGE_KEY, authState, setApiKey, subscribeAuth } from './auth';
import { jsonResponse, mockFetch } from '../test/fixtures';

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
    await expect(setIntegrationEnabled('a/b', true)).resolves.toMatchObject({ id: 'a/b', name: 'a/b' });
    expect(fetch).toHaveBeenCalledTimes(1);
  });
});

describe('api key', () => {
  it('sends no key until one is held, then sends it as a Bearer header and on the socket URL', async () => {
    const fetch = mockFetch({ 'GET /v1/integrations': { integrations: [] } });
    await fetchIntegrations();
    expect(new Headers(fetch.mock.calls[0][1]?.headers).has('Authorization')).toBe(false);
    setApiKey('s3cret key');
    await fetchIntegrations();
    expect(new Headers(fetch.mock.calls[1][1]?.headers).get('Authorization')).toBe('Bearer s3cret key');
    expect(window.sessionStorage.getItem(STORAGE_KEY)).toBe('s3cret key');
    expect(liveSocketUrl({ protocol: 'http:', host: 'h:1' })).toBe('ws://h:1/ws?key=s3cret%20key');
  });

  it('asks for the key once when calls are refused with 401, and says so when the held key was refused', async () => {
    const refused = () => jsonResponse({ error: { message: 'API key required', type: 'authentication_error', param: null, code: 'invalid_api_key' } }, 401);
    mockFetch({ 'GET /v1/integrations': refused, 'GET /v1/models': refused });
    const seen: boolean[] = [];
    const stop = subscribeAuth(() => seen.push(authState().needed));
    await expect(fetchIntegrations()).rejects.toMatchObject({ status: 401, message: 'API key required' });
    await expect(fetchModels()).rejects.toMatchObject({ status: 401 });
    expect(seen).toEqual([true]); // one prompt for two refusals
    expect(authState()).toMatchObject({ needed: true, refused: false });

    setApiKey('wrong');
    await expect(fetchIntegrations()).rejects.toMatchObject({ status: 401 });
    expect(authState()).toMatchObject({ needed: true, refused: true, key: 'wrong' });
    stop();
  });
});
