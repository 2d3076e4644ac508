import { beforeEach, describe, expect, it, vi } from 'vitest';
import { act, screen, within } from '@testing-library/react';
import { render } from '@testing-library/react';
import userEvent from '@testing-library/user-event';
import UsagePage from './UsagePage';
import { MockWebSocket, jsonResponse } from '../test/fixtures';
import { calledUrls, routeFetch, usageAnswer } from '../test/usageFixtures';
import { LIVE_REFRESH_MS } from '../hooks/useUsage';

describe('UsagePage', () => {
  beforeEach(() => {
    MockWebSocket.install();
    vi.spyOn(HTMLCanvasElement.prototype, 'getContext').mockReturnValue(null); // jsdom draws nothing; the tables hold the numbers
  });

  it('shows the last 24 hours by model: totals, a stacked series per model, latency, errors and the top keys and models', async () => {
    const fetch = routeFetch({ 'GET /v1/usage': usageAnswer() });
    render(<UsagePage />);
    expect(await screen.findByTestId('usage-total-requests')).toHaveTextContent('7');
    expect(screen.getByTestId('usage-total-tokens-in')).toHaveTextContent('190');
    expect(screen.getByTestId('usage-total-tokens-out')).toHaveTextContent('540');
    expect(screen.getByTestId('usage-total-errors')).toHaveTextContent('1');

    const query = calledUrls(fetch)[0].searchParams;
    expect([query.get('bucket'), query.get('group_by')]).toEqual(['hour', 'model']);
    const span = Date.parse(query.get('to') ?? '') - Date.parse(query.get('from') ?? '');
    expect(span).toBe(24 * 3_600_000);

    const tokens = screen.getByTestId('chart-table-tokens');
    // Biggest model first; each bucket with traffic is a row.
    expect(within(tokens).getAllByRole('columnheader').map((th) => th.textContent)).toEqual(['Time', 'llama3.2:latest', 'fast']);
    expect(within(tokens).getAllByRole('row')).toHaveLength(3);
    expect(within(tokens).getAllByRole('row')[2]).toHaveTextContent('20030');
    expect(screen.getByTestId('chart-table-latency')).toHaveTextContent('950 ms');
    expect(screen.getByTestId('chart-table-errors')).toHaveTextContent('25%');
    expect(screen.getByTestId('chart-tokens')).toHaveTextContent('Tokens per hour, by model');

    const topKeys = within(screen.getByTestId('usage-top-keys')).getAllByTestId('usage-top-row');
    expect(topKeys.map((row) => row.dataset.name)).toEqual(['alice-laptop', 'local']);
    expect(topKeys[0]).toHaveTextContent('alice-laptop5600');
    expect(within(screen.getByTestId('usage-top-models')).getAllByTestId('usage-top-row')[0]).toHaveTextContent('llama3.2:latest6700');
    expect(screen.queryByTestId('usage-not-recorded')).not.toBeInTheDocument();
  });

  it('asks again stacked by key, and in days over the last 7 days', async () => {
    const user = userEvent.setup();
    const fetch = routeFetch({
      'GET /v1/usage': (url: URL) =>
        usageAnswer({
          group_by: url.searchParams.get('group_by'),
          bucket: url.searchParams.get('bucket'),
          series: url.searchParams.get('group_by') === 'key' ? [{ t: new Date().toISOString(), group: 'rag-indexer', requests: 9, tokens_in: 5000, tokens_out: 0, errors: 0 }] : [],
        }),
    });
    render(<UsagePage />);
    await screen.findByTestId('usage-totals');
    await user.click(within(screen.getByTestId('usage-group')).getByLabelText('Key'));
    expect(await screen.findByText('Tokens per hour, by key')).toBeInTheDocument();
    expect(within(screen.getByTestId('chart-table-tokens')).getAllByRole('columnheader').map((th) => th.textContent)).toEqual(['Time', 'rag-indexer']);

    await user.selectOptions(screen.getByTestId('usage-range'), '7d');
    expect(await screen.findByText('Tokens per day, by key')).toBeInTheDocument();
    const last = calledUrls(fetch).at(-1)?.searchParams;
    expect([last?.get('bucket'), last?.get('group_by')]).toEqual(['day', 'key']);
    expect(Date.parse(last?.get('to') ?? '') - Date.parse(last?.get('from') ?? '')).toBe(7 * 86_400_000);
  });

  it('says usage is not recorded, and why, when the history cannot be written', async () => {
    routeFetch({ 'GET /v1/usage': usageAnswer({ recording: { ok: false, dropped: 42, reason: 'the state directory is read-only' } }) });
    render(<UsagePage />);
    const note = await screen.findByTestId('usage-not-recorded');
    expect(note).toHaveTextContent('Usage not recorded. the state directory is read-only.');
    expect(note).toHaveTextContent('Requests are still served');
    expect(note).toHaveTextContent('42 dropped so far');
  });

  it('says usage is not recorded when the service has no history open at all', async () => {
    routeFetch({
      'GET /v1/usage': () =>
        jsonResponse({ error: { message: 'Keys and usage history are unavailable: unable to open database file.', type: 'server_error', code: 'store_unavailable' } }, 503),
    });
    render(<UsagePage />);
    const note = await screen.findByTestId('usage-not-recorded');
    expect(note).toHaveTextContent('Usage not recorded. Keys and usage history are unavailable: unable to open database file. Requests are still served');
    expect(screen.queryByTestId('api-error')).not.toBeInTheDocument();
    expect(screen.queryByTestId('usage-totals')).not.toBeInTheDocument();
  });

  it('says so when nothing was sent in the range', async () => {
    routeFetch({ 'GET /v1/usage': usageAnswer({ series: [], latency: [], top: { keys: [], models: [] } }) });
    render(<UsagePage />);
    expect(await screen.findByTestId('usage-empty')).toHaveTextContent('No requests in this range yet');
    expect(screen.getByTestId('usage-top-keys')).toHaveTextContent('Nothing in this range.');
  });

  it('shows the service message when the call fails, and says so when the gateway has no usage history', async () => {
    routeFetch({ 'GET /v1/usage': () => jsonResponse({ error: { message: 'database is locked', type: 'server_error', code: null } }, 500) });
    const { unmount } = render(<UsagePage />);
    expect(await screen.findByTestId('api-error')).toHaveTextContent('Could not load usage: database is locked');
    unmount();
    routeFetch({ 'GET /v1/usage': () => jsonResponse({ error: { message: 'Not found', type: 'invalid_request_error', code: null } }, 404) });
    render(<UsagePage />);
    expect(await screen.findByTestId('usage-unavailable')).toBeInTheDocument();
  });

  it('fetches a fresh report shortly after live requests arrive, once for a burst', async () => {
    let served = 0;
    const fetch = routeFetch({
      'GET /v1/usage': () => {
        served += 1;
        return usageAnswer({ series: [{ t: new Date().toISOString(), group: 'fast', requests: served, tokens_in: 1, tokens_out: 1, errors: 0 }] });
      },
    });
    render(<UsagePage />);
    expect(await screen.findByTestId('usage-total-requests')).toHaveTextContent('1');
    vi.useFakeTimers();
    try {
      act(() => {
        MockWebSocket.latest().open();
        for (let i = 0; i < 5; i += 1) MockWebSocket.latest().receive({ type: 'request', request: { id: `r${i}`, time: Date.now() / 1000 } });
      });
      await act(async () => {
        await vi.advanceTimersByTimeAsync(LIVE_REFRESH_MS);
      });
    } finally {
      vi.useRealTimers();
    }
    expect(await screen.findByTestId('usage-total-requests')).toHaveTextContent('2');
    expect(calledUrls(fetch)).toHaveLength(2);
  });
});
