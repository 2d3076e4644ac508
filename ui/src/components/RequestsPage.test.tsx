import { beforeEach, describe, expect, it } from 'vitest';
import { act, fireEvent, render, screen, within } from '@testing-library/react';
import userEvent from '@testing-library/user-event';
import RequestsPage from './RequestsPage';
import { MockWebSocket, jsonResponse, mockFetch, requestEntry } from '../test/fixtures';

const URL = '/v1/requests?limit=500';

describe('RequestsPage', () => {
  beforeEach(() => {
    MockWebSocket.install();
  });

  it('shows the log newest first and puts live requests on top', async () => {
    const older = requestEntry({ id: 'a', backend: 'llamafarm', model: 'fast' });
    const old = requestEntry({ id: 'b' });
    mockFetch({ [`GET ${URL}`]: { requests: [old, older] } });
    render(<RequestsPage />);
    await screen.findAllByTestId('request-row');
    expect(screen.getAllByTestId('request-row').map((r) => r.dataset.id)).toEqual(['b', 'a']);
    act(() => {
      MockWebSocket.latest().open();
      MockWebSocket.latest().receive({ type: 'request', request: requestEntry({ id: 'c', outcome: 'fallback' }) });
    });
    expect(screen.getAllByTestId('request-row').map((r) => r.dataset.id)).toEqual(['c', 'b', 'a']);
    expect(screen.getAllByTestId('request-row')[0]).toHaveAttribute('data-outcome', 'fallback');
  });

  it('opens a row to show its attempts and timings', async () => {
    const user = userEvent.setup();
    const entry = requestEntry({
      id: 'r1',
      outcome: 'fallback',
      attempts: [{ backend: 'llamafarm', reason: 'HTTP 500 from LlamaFarm', kind: 'error' }],
      ttft_ms: 81.2,
      upstream_ms: 412,
      added_ms: 1.4,
    });
    mockFetch({ [`GET ${URL}`]: { requests: [entry] } });
    render(<RequestsPage />);
    const row = await screen.findByTestId('request-row');
    await user.click(within(row).getByRole('button'));
    const detail = screen.getByTestId('request-detail');
    expect(within(detail).getAllByTestId('request-attempt')[0]).toHaveTextContent('llamafarm error HTTP 500 from LlamaFarm');
    expect(detail).toHaveTextContent('Time to first token81 ms');
    expect(detail).toHaveTextContent('Upstream412 ms');
    expect(detail).toHaveTextContent('Added by Atmosphere1 ms');
    await user.click(within(row).getByRole('button'));
    expect(screen.queryByTestId('request-detail')).not.toBeInTheDocument();
  });

  it('filters by backend, model and outcome', async () => {
    const user = userEvent.setup();
    mockFetch({
      [`GET ${URL}`]: {
        requests: [
          requestEntry({ id: '1', backend: 'ollama', requested_model: 'auto', model: 'llama3.2:latest', outcome: 'ok' }),
          requestEntry({ id: '2', backend: 'llamafarm', requested_model: 'fast', model: 'fast', outcome: 'ok' }),
          requestEntry({ id: '3', backend: 'ollama', requested_model: 'fast', model: 'qwen3:4b', outcome: 'fallback' }),
          requestEntry({ id: '4', backend: null, requested_model: 'nope', model: null, outcome: 'error', status: 404 }),
        ],
      },
    });
    render(<RequestsPage />);
    await screen.findAllByTestId('request-row');
    const ids = () => screen.queryAllByTestId('request-row').map((r) => r.dataset.id);
    await user.selectOptions(screen.getByTestId('filter-backend'), 'ollama');
    expect(ids()).toEqual(['1', '3']);
    await user.selectOptions(screen.getByTestId('filter-outcome'), 'fallback');
    expect(ids()).toEqual(['3']);
    await user.selectOptions(screen.getByTestId('filter-backend'), '');
    await user.selectOptions(screen.getByTestId('filter-outcome'), '');
    await user.selectOptions(screen.getByTestId('filter-model'), 'fast');
    expect(ids()).toEqual(['2', '3']);
    await user.selectOptions(screen.getByTestId('filter-model'), 'nope');
    await user.selectOptions(screen.getByTestId('filter-outcome'), 'ok');
    expect(screen.getByTestId('requests-empty')).toHaveTextContent('No request matches these filters.');
  });

  it('holds new requests while the person scrolls, says so, and resumes on request', async () => {
    const user = userEvent.setup();
    mockFetch({ [`GET ${URL}`]: { requests: [requestEntry({ id: 'x' })] } });
    render(<RequestsPage />);
    await screen.findByTestId('request-row');
    const scroller = screen.getByRole('region', { name: 'Request log' });
    act(() => MockWebSocket.latest().open());

    scroller.scrollTop = 200;
    fireEvent.scroll(scroller);
    expect(screen.getByTestId('requests-paused')).toHaveTextContent('Paused while you scroll');
    act(() => {
      MockWebSocket.latest().receive({ type: 'request', request: requestEntry({ id: 'y' }) });
      MockWebSocket.latest().receive({ type: 'request', request: requestEntry({ id: 'z' }) });
    });
    expect(screen.getAllByTestId('request-row').map((r) => r.dataset.id)).toEqual(['x']);
    expect(screen.getByTestId('requests-paused')).toHaveTextContent('2 new requests waiting');

    await user.click(screen.getByTestId('requests-resume'));
    expect(screen.queryByTestId('requests-paused')).not.toBeInTheDocument();
    expect(screen.getAllByTestId('request-row').map((r) => r.dataset.id)).toEqual(['z', 'y', 'x']);
  });

  it('says so when the gateway keeps no request log', async () => {
    mockFetch({ [`GET ${URL}`]: () => jsonResponse({ error: { message: 'Not found', type: 'invalid_request_error', param: null, code: null } }, 404) });
    render(<RequestsPage />);
    expect(await screen.findByTestId('requests-unavailable')).toBeInTheDocument();
    expect(screen.queryByTestId('requests-table')).not.toBeInTheDocument();
  });

  it("says in a refused request's row why it was refused and which tool sent it", async () => {
    const user = userEvent.setup();
    const reason = "'input[4].output[0].image_url' is an http(s) URL, and Atmosphere never fetches a URL a request names";
    const refused = requestEntry({
      id: 'codex',
      surface: 'responses',
      backend: null,
      model: null,
      outcome: 'error',
      status: 400,
      reason,
      agent: 'codex_exec/0.171.0 (Debian 12.0.0; x86_64) xterm (codex_exec; 0.171.0)',
    });
    const served = requestEntry({ id: 'claude', agent: 'claude-cli/2.1.197 (external, sdk-cli)' });
    mockFetch({ [`GET ${URL}`]: { requests: [refused, served] } });
    render(<RequestsPage />);
    const [row, servedRow] = await screen.findAllByTestId('request-row');
    expect(row).toHaveAttribute('data-id', 'codex');
    expect(within(row).getByTestId('request-reason')).toHaveTextContent(reason);
    expect(within(row).getByTestId('request-reason')).toHaveAttribute('title', reason);
    const agent = within(row).getByTestId('request-agent');
    expect(agent).toHaveTextContent(/^from codex_exec\/0\.171\.0$/);
    expect(agent).toHaveAttribute('title', refused.agent);
    // A served request's row stays as it was; its agent is in the detail.
    expect(within(servedRow).queryByTestId('request-reason')).not.toBeInTheDocument();
    expect(within(servedRow).queryByTestId('request-agent')).not.toBeInTheDocument();
    await user.click(within(row).getByRole('button'));
    const detail = screen.getByTestId('request-detail');
    expect(detail).toHaveTextContent(`Reason${reason}`);
    expect(detail).toHaveTextContent(`Agent${refused.agent}`);
  });

  it('shows a refusal that arrives live with its reason, and one without an agent without a "from"', async () => {
    mockFetch({ [`GET ${URL}`]: { requests: [] } });
    render(<RequestsPage />);
    await screen.findByTestId('requests-empty');
    act(() => {
      MockWebSocket.latest().open();
      MockWebSocket.latest().receive({
        type: 'request',
        request: { ...requestEntry({ id: 'live', outcome: 'error', status: 400 }), reason: 'messages: field required', agent: undefined },
      });
    });
    const row = screen.getByTestId('request-row');
    expect(within(row).getByTestId('request-reason')).toHaveTextContent('messages: field required');
    expect(within(row).queryByTestId('request-agent')).not.toBeInTheDocument();
  });
});
