import { beforeEach, describe, expect, it } from 'vitest';
import { render, screen, waitFor, within } from '@testing-library/react';
import userEvent from '@testing-library/user-event';
import IntegrationPanel from './IntegrationPanel';
import { MockWebSocket, fetchCalls, jsonResponse, llamafarm, mockFetch, ollama, sentBody } from '../test/fixtures';

const list = { integrations: [llamafarm(), ollama()], timestamp: 1 };
const suggestion = {
  name: 'qwen3-4b',
  members: { llamafarm: 'chatbot/fast', ollama: 'qwen3:4b' },
  reason: 'same family (qwen3), parameter size (4B) and quantization (Q4_K_M)',
};

describe('EquivalentSuggestions on the Integrations page', () => {
  beforeEach(() => {
    MockWebSocket.install();
  });

  it('suggests equivalents and accepts one under the name the operator gives', async () => {
    const user = userEvent.setup();
    let accepted = false;
    const fetch = mockFetch({
      'GET /v1/integrations': list,
      'GET /v1/models/equivalents/suggestions': () => jsonResponse({ suggestions: accepted ? [] : [suggestion] }),
      'POST /v1/models/equivalents': (_url: string, init: RequestInit) => {
        accepted = true;
        const body = JSON.parse(String(init.body)) as { name: string; members: Record<string, string> };
        return jsonResponse({ equivalent: body });
      },
    });
    render(<IntegrationPanel />);
    const item = await screen.findByTestId('equivalent-suggestion');
    expect(item).toHaveTextContent('llamafarm: chatbot/fast');
    expect(item).toHaveTextContent('ollama: qwen3:4b');
    expect(item).toHaveTextContent('same family (qwen3)');
    const name = within(item).getByTestId('equivalent-name');
    expect(name).toHaveValue('qwen3-4b');
    await user.clear(name);
    await user.type(name, 'qwen3');
    await user.click(within(item).getByTestId('equivalent-accept'));

    expect(await screen.findByTestId('equivalent-accepted')).toHaveTextContent('qwen3 now names llamafarm: chatbot/fast');
    await waitFor(() => expect(screen.queryByTestId('equivalent-suggestion')).not.toBeInTheDocument());
    const index = fetchCalls(fetch).indexOf('POST /v1/models/equivalents');
    expect(sentBody(fetch, index)).toEqual({ name: 'qwen3', members: suggestion.members });
  });

  it('shows nothing when there is nothing to suggest or the gateway has no such endpoint', async () => {
    mockFetch({ 'GET /v1/integrations': list, 'GET /v1/models/equivalents/suggestions': { suggestions: [] } });
    const { unmount } = render(<IntegrationPanel />);
    await screen.findByTestId('integration-card-ollama');
    expect(screen.queryByTestId('equivalent-suggestions')).not.toBeInTheDocument();
    unmount();

    mockFetch({ 'GET /v1/integrations': list, 'GET /v1/models/equivalents/suggestions': () => jsonResponse({ error: { message: 'Not found' } }, 404) });
    render(<IntegrationPanel />);
    await screen.findByTestId('integration-card-ollama');
    expect(screen.queryByTestId('equivalent-suggestions')).not.toBeInTheDocument();
  });

  it("keeps the suggestion with the service's reason when accepting fails", async () => {
    const user = userEvent.setup();
    mockFetch({
      'GET /v1/integrations': list,
      'GET /v1/models/equivalents/suggestions': { suggestions: [suggestion] },
      'POST /v1/models/equivalents': () => jsonResponse({ error: { message: "'name' must be 1-128 letters", type: 'invalid_request_error', param: 'name', code: null } }, 400),
    });
    render(<IntegrationPanel />);
    const item = await screen.findByTestId('equivalent-suggestion');
    await user.click(within(item).getByTestId('equivalent-accept'));
    expect(await within(item).findByRole('alert')).toHaveTextContent("'name' must be 1-128 letters");
  });
});
