import { beforeEach, describe, expect, it } from 'vitest';
import { render, screen, waitFor, within } from '@testing-library/react';
import userEvent from '@testing-library/user-event';
import IntegrationPanel from './IntegrationPanel';
import App from '../App';
import type { Integration } from '../api/types';
import { MockWebSocket, fetchCalls, jsonResponse, llamafarm, mockFetch, ollama, sentBody } from '../test/fixtures';

function listBody(integrations: Integration[]) {
  return { integrations, timestamp: Date.now() / 1000 };
}

const fleet = [
  ollama({ id: 'ollama', priority: 2, removable: false }),
  llamafarm({ id: 'llamafarm', priority: 0, removable: false }),
  ollama({ id: 'gpu', name: 'GPU box', url: 'http://10.0.0.5:11434', priority: 3, removable: true }),
  llamafarm({ id: 'lf-2', name: 'LlamaFarm 2', priority: 1, removable: false, status: 'offline' }),
];

describe('IntegrationPanel with a fleet', () => {
  beforeEach(() => {
    MockWebSocket.install();
  });

  it('groups hosts by kind in priority order and says how many of each are up', async () => {
    mockFetch({ 'GET /v1/integrations': listBody(fleet) });
    render(<IntegrationPanel />);
    const groups = await screen.findAllByTestId(/^group-/);
    expect(groups.map((g) => g.getAttribute('data-testid'))).toEqual(['group-llamafarm', 'group-ollama']);
    expect(within(groups[0]).getAllByTestId(/^integration-card-/).map((c) => c.dataset.testid)).toEqual(['integration-card-llamafarm', 'integration-card-lf-2']);
    expect(within(groups[1]).getAllByTestId(/^integration-card-/).map((c) => c.dataset.testid)).toEqual(['integration-card-ollama', 'integration-card-gpu']);
    expect(groups[0]).toHaveTextContent('1 of 2 up');
  });

  it('adds a host from the form and shows its card', async () => {
    const user = userEvent.setup();
    const added = ollama({ id: 'box', name: 'box', url: 'http://127.0.0.1:9999', removable: true, priority: 4, status: 'offline', error: 'not probed yet' });
    const fetch = mockFetch({
      'GET /v1/integrations': listBody(fleet),
      'POST /v1/integrations': () => jsonResponse({ integration: added }, 201),
    });
    render(<IntegrationPanel />);
    await user.click(await screen.findByTestId('add-host-toggle'));
    await user.selectOptions(screen.getByTestId('add-host-kind'), 'llamafarm');
    expect(screen.getByTestId('add-host-runtime-url')).toBeInTheDocument();
    await user.selectOptions(screen.getByTestId('add-host-kind'), 'ollama');
    expect(screen.queryByTestId('add-host-runtime-url')).not.toBeInTheDocument();
    await user.type(screen.getByTestId('add-host-name'), 'box');
    await user.type(screen.getByTestId('add-host-url'), 'http://127.0.0.1:9999');
    await user.click(screen.getByTestId('add-host-submit'));
    expect(await screen.findByTestId('integration-card-box')).toBeInTheDocument();
    const postIndex = fetchCalls(fetch).indexOf('POST /v1/integrations');
    expect(sentBody(fetch, postIndex)).toEqual({ kind: 'ollama', name: 'box', url: 'http://127.0.0.1:9999' });
    expect(screen.queryByTestId('add-host-form')).not.toBeInTheDocument();
  });

  it("keeps the form open with the service's reason when a host is refused", async () => {
    const user = userEvent.setup();
    mockFetch({
      'GET /v1/integrations': listBody(fleet),
      'POST /v1/integrations': () => jsonResponse({ error: { message: "An integration named 'gpu' exists.", type: 'invalid_request_error', param: 'name', code: null } }, 400),
    });
    render(<IntegrationPanel />);
    await user.click(await screen.findByTestId('add-host-toggle'));
    await user.type(screen.getByTestId('add-host-name'), 'gpu');
    await user.type(screen.getByTestId('add-host-url'), 'http://127.0.0.1:1');
    await user.click(screen.getByTestId('add-host-submit'));
    expect(await screen.findByTestId('add-host-error')).toHaveTextContent("An integration named 'gpu' exists.");
    expect(screen.getByTestId('add-host-form')).toBeInTheDocument();
  });

  it('removes a host added from the dashboard after asking', async () => {
    const user = userEvent.setup();
    const fetch = mockFetch({ 'GET /v1/integrations': listBody(fleet), 'DELETE /v1/integrations/gpu': { removed: 'gpu' } });
    render(<IntegrationPanel />);
    const gpu = await screen.findByTestId('integration-card-gpu');
    expect(within(screen.getByTestId('integration-card-ollama')).queryByTestId('remove-button')).not.toBeInTheDocument();
    await user.click(within(gpu).getByTestId('remove-button'));
    await user.click(within(gpu).getByTestId('remove-confirm-button'));
    await waitFor(() => expect(screen.queryByTestId('integration-card-gpu')).not.toBeInTheDocument());
    expect(fetchCalls(fetch)).toContain('DELETE /v1/integrations/gpu');
  });

  it('moves a host down within its kind and shows the order the service answers with', async () => {
    const user = userEvent.setup();
    const fetch = mockFetch({
      'GET /v1/integrations': listBody(fleet),
      'POST /v1/integrations/order': (_url: string, init: RequestInit) => {
        const order = (JSON.parse(String(init.body)) as { order: string[] }).order;
        return jsonResponse(listBody(order.map((id, priority) => ({ ...fleet.find((i) => i.id === id)!, priority }))));
      },
    });
    render(<IntegrationPanel />);
    const card = await screen.findByTestId('integration-card-ollama');
    expect(within(card).getByTestId('move-up')).toBeDisabled();
    await user.click(within(card).getByTestId('move-down'));
    const ollamaGroup = screen.getByTestId('group-ollama');
    await waitFor(() =>
      expect(within(ollamaGroup).getAllByTestId(/^integration-card-/).map((c) => c.dataset.testid)).toEqual(['integration-card-gpu', 'integration-card-ollama']),
    );
    const index = fetchCalls(fetch).indexOf('POST /v1/integrations/order');
    expect(sentBody(fetch, index)).toEqual({ order: ['llamafarm', 'lf-2', 'gpu', 'ollama'] });
  });

  it('offers no add, remove or reorder against a service that does not report them', async () => {
    const plain = (i: Integration): Integration => ({ ...i, removable: null, priority: null });
    mockFetch({ 'GET /v1/integrations': listBody([plain(llamafarm()), plain(ollama())]) });
    render(<IntegrationPanel />);
    const card = await screen.findByTestId('integration-card-ollama');
    expect(screen.queryByTestId('add-host-toggle')).not.toBeInTheDocument();
    expect(within(card).queryByTestId('move-up')).not.toBeInTheDocument();
    expect(within(card).queryByTestId('remove-button')).not.toBeInTheDocument();
  });
});

describe('API key', () => {
  beforeEach(() => {
    MockWebSocket.install();
  });

  it('asks for the key once on a 401, then loads with it and opens the socket with it', async () => {
    const user = userEvent.setup();
    const fetch = mockFetch({
      'GET /v1/integrations': (_url: string, init: RequestInit) =>
        new Headers(init.headers).get('Authorization') === 'Bearer k-123'
          ? jsonResponse(listBody([ollama()]))
          : jsonResponse({ error: { message: 'Missing API key', type: 'authentication_error', param: null, code: 'invalid_api_key' } }, 401),
    });
    render(<App />);
    const dialog = await screen.findByTestId('api-key-dialog');
    expect(screen.getAllByTestId('api-key-dialog')).toHaveLength(1);
    expect(await screen.findByTestId('api-error')).toHaveTextContent('needs its API key');
    await user.type(within(dialog).getByTestId('api-key-input'), 'k-123');
    await user.click(within(dialog).getByTestId('api-key-submit'));
    expect(await screen.findByTestId('integration-card-ollama')).toBeInTheDocument();
    expect(screen.queryByTestId('api-key-dialog')).not.toBeInTheDocument();
    expect(window.sessionStorage.getItem('atmosphere.apiKey')).toBe('k-123');
    expect(MockWebSocket.latest().url).toBe(`ws://${window.location.host}/ws?key=k-123`);
    expect(fetchCalls(fetch).filter((c) => c === 'GET /v1/integrations').length).toBeGreaterThanOrEqual(2);
  });

  it('can be dismissed and asked for again from the error', async () => {
    const user = userEvent.setup();
    mockFetch({ 'GET /v1/integrations': () => jsonResponse({ error: { message: 'Missing API key', type: 'authentication_error', param: null, code: null } }, 401) });
    render(<App />);
    await user.click(await screen.findByRole('button', { name: 'Not now' }));
    expect(screen.queryByTestId('api-key-dialog')).not.toBeInTheDocument();
    await user.click(screen.getByTestId('enter-key-button'));
    expect(screen.getByTestId('api-key-dialog')).toBeInTheDocument();
  });
});
