/**
 * Thin wrappers around the Atmosphere HTTP API (same origin).
 *
 * Every function resolves with the parsed JSON body or rejects with an
 * ApiError whose message is the one the service sent, so components can show
 * it as-is.
 */

export class ApiError extends Error {
  constructor(message, { status = 0, type = null, code = null } = {}) {
    super(message);
    this.name = 'ApiError';
    this.status = status;
    this.type = type;
    this.code = code;
  }
}

function _messageFrom(body, response) {
  const err = body && body.error;
  if (err && typeof err.message === 'string') return err.message;
  if (body && typeof body.detail === 'string') return body.detail;
  return `HTTP ${response.status} ${response.statusText || ''}`.trim();
}

async function _request(path, { method = 'GET', body, signal } = {}) {
  let response;
  try {
    response = await fetch(path, {
      method,
      signal,
      headers: body === undefined ? { Accept: 'application/json' } : { Accept: 'application/json', 'Content-Type': 'application/json' },
      body: body === undefined ? undefined : JSON.stringify(body),
    });
  } catch (err) {
    if (err && err.name === 'AbortError') throw err;
    throw new ApiError(`Network error: ${err && err.message ? err.message : 'request failed'}`, {
      type: 'network_error',
    });
  }

  const text = await response.text();
  let data = null;
  if (text) {
    try {
      data = JSON.parse(text);
    } catch {
      data = null;
    }
  }

  if (!response.ok) {
    const err = data && data.error;
    throw new ApiError(_messageFrom(data, response), {
      status: response.status,
      type: err && err.type ? err.type : null,
      code: err && err.code ? err.code : null,
    });
  }
  if (data === null || typeof data !== 'object') {
    throw new ApiError('The Atmosphere API sent a response that is not JSON', {
      status: response.status,
      type: 'invalid_response',
    });
  }
  return data;
}

/** GET /v1/integrations (with ?refresh=true to make the service scan now). */
export function fetchIntegrations({ refresh = false, signal } = {}) {
  return _request(refresh ? '/v1/integrations?refresh=true' : '/v1/integrations', { signal });
}

/** POST /v1/integrations/test. `model` is left out when empty so the backend picks its default. */
export function runIntegrationTest({ integrationId, prompt, model }) {
  const body = { integration_id: integrationId, prompt };
  if (model) body.model = model;
  return _request('/v1/integrations/test', { method: 'POST', body });
}

/** POST /v1/integrations/{id}/enable or /disable; resolves with `{integration}`. */
export function setIntegrationEnabled(integrationId, enabled) {
  const verb = enabled ? 'enable' : 'disable';
  return _request(`/v1/integrations/${encodeURIComponent(integrationId)}/${verb}`, { method: 'POST' });
}

/** ws:// or wss:// URL of the live status socket on the page's own host. */
export function liveSocketUrl(location = window.location) {
  const scheme = location.protocol === 'https:' ? 'wss:' : 'ws:';
  return `${scheme}//${location.host}/ws`;
}
