import { beforeEach, describe, expect, it, vi } from 'vitest';
import { act, render, screen, waitFor, within } from '@testing-library/react';
import userEvent from '@testing-library/user-event';
import IntegrationPanel from './IntegrationPanel';
import type { Integration } from '../api/types';
import { MockWebSocket, fetchCalls, jsonResponse, llamafarm, mockFetch, ollama } from '../test/fixtures';

function listBody(integrations: Integration[]) {
  return { integrations, timestamp: Date.now() / 1000 };
}

describe('IntegrationPanel', () => {
  beforeEach(() => {
    MockWebSocket.install();
  });

  it('loads the integrations and shows one card per backend', async () => {
    mockFetch({ 'GET /v1/integrations': listBody([llamafarm(), ollama()]) });
    render(<IntegrationPanel />);
    expect(screen.getByTestId('loading-state')).toBeInTheDocument();
    const cards = await screen.findAllByTestId(/^integration-card-/);
    expect(cards.map((c) => c.getAttribute('data-testid'))).toEqual(['integration-card-llamafarm', 'integration-card-ollama']);
    expect(screen.queryByTestId('empty-state')).not.toBeInTheDocument();
    expect(screen.queryByTestId('loading-state')).not.toBeInTheDocument();
  });

  it('subscribes to /ws and shows whether it is live', async () => {
    mockFetch({ 'GET /v1/integrations': listBody([ollama()]) });
    render(<IntegrationPanel />);
    await screen.findByTestId('integration-card-ollama');
    const socket = MockWebSocket.latest();
    expect(socket.url).toBe(`ws://${window.location.host}/ws`);
    expect(screen.getByTestId('live-indicator')).toHaveAttribute('data-state', 'connecting');
    act(() => socket.open());
    expect(screen.getByTestId('live-indicator')).toHaveAttribute('data-state', 'live');
    expect(screen.getByTestId('live-indicator')).toHaveTextContent('Live');
  });

  it('updates a card the moment the socket says its status changed', async () => {
    mockFetch({ 'GET /v1/integrations': listBody([llamafarm(), ollama()]) });
    render(<IntegrationPanel />);
    const card = await screen.findByTestId('integration-card-ollama');
    expect(card).toHaveAttribute('data-status', 'healthy');
    const socket = MockWebSocket.latest();
    act(() => socket.open());

    act(() =>
      socket.receive({
        type: 'integration',
        integration: ollama({ status: 'offline', error: 'Connection refused', models: [], model_count: 0 }),
      }),
    );

    const updated = screen.getByTestId('integration-card-ollama');
    expect(updated).toHaveAttribute('data-status', 'offline');
    expect(within(updated).getByTestId('status-badge')).toHaveTextContent(/^offline$/);
    expect(within(updated).getByTestId('status-reason')).toHaveTextContent('Connection refused');
    expect(screen.getByTestId('integration-card-llamafarm')).toHaveAttribute('data-status', 'healthy');
    expect(screen.getByText('Ollama is now offline: Connection refused.')).toBeInTheDocument();
  });

  it('replaces everything with a socket snapshot and ignores pings', async () => {
    mockFetch({ 'GET /v1/integrations': listBody([ollama()]) });
    render(<IntegrationPanel />);
    await screen.findByTestId('integration-card-ollama');
    const socket = MockWebSocket.latest();
    act(() => {
      socket.open();
      socket.receive({ type: 'ping' });
      socket.receive({ type: 'snapshot', integrations: [llamafarm({ status: 'error', error: 'boom' })] });
    });
    expect(screen.queryByTestId('integration-card-ollama')).not.toBeInTheDocument();
    expect(screen.getByTestId('integration-card-llamafarm')).toHaveAttribute('data-status', 'error');
    expect(screen.getByTestId('empty-state')).toBeInTheDocument();
  });

  it('shows that it is reconnecting when the socket drops', async () => {
    mockFetch({ 'GET /v1/integrations': listBody([ollama()]) });
    render(<IntegrationPanel />);
    await screen.findByTestId('integration-card-ollama');
    act(() => MockWebSocket.latest().open());
    act(() => MockWebSocket.latest().drop());
    expect(screen.getByTestId('live-indicator')).toHaveAttribute('data-state', 'reconnecting');
    expect(screen.getByTestId('live-indicator')).toHaveTextContent('Reconnecting');
  });

  it('disconnects and connects through the enable/disable endpoints', async () => {
    const user = userEvent.setup();
    const fetch = mockFetch({
      'GET /v1/integrations': listBody([ollama()]),
      'POST /v1/integrations/ollama/disable': { integration: ollama({ enabled: false }) },
      'POST /v1/integrations/ollama/enable': { integration: ollama({ enabled: true }) },
    });
    render(<IntegrationPanel />);
    const card = await screen.findByTestId('integration-card-ollama');
    expect(card).toHaveAttribute('data-enabled', 'true');

    await user.click(within(card).getByTestId('disconnect-button'));
    await waitFor(() => expect(screen.getByTestId('integration-card-ollama')).toHaveAttribute('data-enabled', 'false'));
    expect(fetchCalls(fetch)).toContain('POST /v1/integrations/ollama/disable');
    expect(within(screen.getByTestId('integration-card-ollama')).queryByTestId('disconnect-button')).not.toBeInTheDocument();

    await user.click(within(screen.getByTestId('integration-card-ollama')).getByTestId('connect-button'));
    await waitFor(() => expect(screen.getByTestId('integration-card-ollama')).toHaveAttribute('data-enabled', 'true'));
    expect(fetchCalls(fetch)).toContain('POST /v1/integrations/ollama/enable');
  });

  it('rescans with ?refresh=true and shows what the scan found', async () => {
    const user = userEvent.setup();
    const fetch = mockFetch({
      'GET /v1/integrations': listBody([ollama({ status: 'offline', error: 'Connection refused' })]),
      'GET /v1/integrations?refresh=true': listBody([ollama()]),
    });
    render(<IntegrationPanel />);
    await screen.findByTestId('integration-card-ollama');
    expect(screen.getByTestId('empty-state')).toBeInTheDocument();

    await user.click(screen.getByTestId('rescan-button'));
    await waitFor(() => expect(screen.getByTestId('integration-card-ollama')).toHaveAttribute('data-status', 'healthy'));
    expect(fetchCalls(fetch)).toContain('GET /v1/integrations?refresh=true');
    expect(screen.queryByTestId('empty-state')).not.toBeInTheDocument();
  });

  it('explains how to start a backend when nothing is healthy', async () => {
    mockFetch({
      'GET /v1/integrations': listBody([
        ollama({ status: 'offline', error: 'Connection refused' }),
        llamafarm({ status: 'offline', error: 'Connection refused' }),
      ]),
    });
    render(<IntegrationPanel />);
    const empty = await screen.findByTestId('empty-state');
    expect(empty).toHaveTextContent('ollama serve');
    expect(empty).toHaveTextContent('lf start');
    expect(empty).toHaveTextContent('11434');
    expect(empty).toHaveTextContent('14345');
    expect(empty).toHaveTextContent('ATMOSPHERE_OLLAMA_URL');
    expect(empty).toHaveTextContent('--llamafarm-url');
    expect(screen.getAllByTestId(/^integration-card-/)).toHaveLength(2);
  });

  it('shows the empty state when the service reports no integrations at all', async () => {
    mockFetch({ 'GET /v1/integrations': listBody([]) });
    render(<IntegrationPanel />);
    expect(await screen.findByTestId('empty-state')).toBeInTheDocument();
    expect(screen.queryByTestId(/^integration-card-/)).not.toBeInTheDocument();
  });

  it('says the API is unreachable, and recovers on retry', async () => {
    const user = userEvent.setup();
    let up = false;
    vi.stubGlobal(
      'fetch',
      vi.fn(async () => {
        if (!up) throw new TypeError('Failed to fetch');
        return jsonResponse(listBody([ollama()]));
      }),
    );
    render(<IntegrationPanel />);
    const error = await screen.findByTestId('api-error');
    expect(error).toHaveTextContent('Cannot reach the Atmosphere API');
    expect(error).toHaveTextContent('Failed to fetch');
    expect(screen.queryByTestId('empty-state')).not.toBeInTheDocument();

    up = true;
    await user.click(within(error).getByRole('button', { name: 'Retry' }));
    expect(await screen.findByTestId('integration-card-ollama')).toBeInTheDocument();
    expect(screen.queryByTestId('api-error')).not.toBeInTheDocument();
  });

  it('polls /v1/integrations as a safety net', async () => {
    let n = 0;
    mockFetch({
      'GET /v1/integrations': () => {
        n += 1;
        return jsonResponse(listBody([ollama(n >= 2 ? { status: 'error', error: 'model list failed' } : {})]));
      },
    });
    render(<IntegrationPanel pollMs={40} />);
    await screen.findByTestId('integration-card-ollama');
    await waitFor(() => expect(screen.getByTestId('integration-card-ollama')).toHaveAttribute('data-status', 'error'));
    expect(n).toBeGreaterThanOrEqual(2);
  });

  it('does not poll while the live socket is open, and polls again once it drops', async () => {
    let n = 0;
    mockFetch({
      'GET /v1/integrations': () => {
        n += 1;
        return jsonResponse(listBody([ollama()]));
      },
    });
    render(<IntegrationPanel pollMs={30} />);
    await screen.findByTestId('integration-card-ollama');
    act(() => MockWebSocket.latest().open());
    const afterOpen = n;
    await act(() => new Promise((resolve) => setTimeout(resolve, 150)));
    expect(n).toBe(afterOpen);

    act(() => MockWebSocket.latest().drop());
    await waitFor(() => expect(n).toBeGreaterThan(afterOpen));
  });

  it('says how often it retries, from the same interval it polls with', async () => {
    vi.stubGlobal('fetch', vi.fn(async () => Promise.reject(new TypeError('Failed to fetch'))));
    render(<IntegrationPanel pollMs={45000} />);
    expect(await screen.findByTestId('api-error')).toHaveTextContent('This page retries every 45 seconds.');
    expect(screen.getByTestId('live-indicator').getAttribute('title')).toContain('every 45 seconds');
  });

  it('keeps the last known cards and warns when a later poll fails', async () => {
    let n = 0;
    vi.stubGlobal(
      'fetch',
      vi.fn(async () => {
        n += 1;
        if (n >= 2) return jsonResponse({ error: { message: 'Internal error', type: 'server_error', param: null, code: null } }, 500);
        return jsonResponse(listBody([ollama()]));
      }),
    );
    render(<IntegrationPanel pollMs={40} />);
    await screen.findByTestId('integration-card-ollama');
    const warning = await screen.findByTestId('api-error');
    expect(warning).toHaveTextContent('Lost contact with the Atmosphere API (Internal error)');
    expect(screen.getByTestId('integration-card-ollama')).toBeInTheDocument();
  });
});
