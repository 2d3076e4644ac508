import { describe, expect, it } from 'vitest';
import { render, screen, within } from '@testing-library/react';
import userEvent from '@testing-library/user-event';
import TestPanel from './TestPanel';
import { deferred, jsonResponse, mockFetch, ollama, sentBody } from '../test/fixtures';


const success = {
  success: true,
  integration_id: 'ollama',
  response: 'Hi there! How can I help?',
  model_used: 'qwen2.5:0.5b',
  latency_ms: 245.3,
  error: null,
};

describe('TestPanel', () => {
  it('sends the prompt and chosen model, shows a spinner, then the response, model and latency', async () => {
    const user = userEvent.setup();
    const pending = deferred<Response>();
    const fetch = mockFetch({ 'POST /v1/integrations/test': () => pending.promise });
    render(<TestPanel integration={ollama()} />);

    const prompt = screen.getByTestId('prompt-input');
    await user.clear(prompt);
    await user.type(prompt, 'Say hi');
    await user.selectOptions(screen.getByTestId('model-select'), 'qwen2.5:0.5b');
    await user.click(screen.getByTestId('test-button'));

    const button = screen.getByTestId('test-button');
    expect(button).toBeDisabled();
    expect(button).toHaveTextContent('Testing…');
    expect(sentBody(fetch)).toEqual({ integration_id: 'ollama', prompt: 'Say hi', model: 'qwen2.5:0.5b' });

    pending.resolve(jsonResponse(success));
    const result = await screen.findByTestId('test-result');
    expect(result).toHaveAttribute('data-success', 'true');
    expect(result).toHaveClass('test-result', 'success');
    expect(within(result).getByText('Hi there! How can I help?')).toHaveClass('test-response-text');
    expect(within(result).getByTestId('test-model-used')).toHaveTextContent('qwen2.5:0.5b');
    expect(within(result).getByTestId('test-latency')).toHaveTextContent('245 ms');
    expect(screen.getByTestId('test-button')).toHaveTextContent('Test');
    expect(screen.getByTestId('test-button')).toBeEnabled();
  });

  it('leaves the model out when the default is chosen', async () => {
    const user = userEvent.setup();
    const fetch = mockFetch({ 'POST /v1/integrations/test': success });
    render(<TestPanel integration={ollama()} />);
    expect(screen.getByTestId('model-select')).toHaveDisplayValue('Default (llama3.2:latest)');
    await user.click(screen.getByTestId('test-button'));
    await screen.findByTestId('test-result');
    expect(sentBody(fetch)).toEqual({ integration_id: 'ollama', prompt: 'Say hello in one short sentence.' });
  });

  it('shows a backend failure in the error style with its message and latency', async () => {
    const user = userEvent.setup();
    mockFetch({
      'POST /v1/integrations/test': {
        success: false,
        integration_id: 'ollama',
        response: null,
        model_used: null,
        latency_ms: 3.1,
        error: 'Connection refused on localhost:11434',
      },
    });
    render(<TestPanel integration={ollama()} />);
    await user.click(screen.getByTestId('test-button'));
    const result = await screen.findByTestId('test-result');
    expect(result).toHaveAttribute('data-success', 'false');
    expect(result).toHaveClass('test-result', 'error');
    expect(result).toHaveTextContent('Failed');
    expect(within(result).getByTestId('test-error')).toHaveTextContent('Connection refused on localhost:11434');
    expect(within(result).getByTestId('test-latency')).toHaveTextContent('3 ms');
    expect(result.querySelector('.test-response-text')).toBeNull();
  });

  it("shows the API's error message when the request is refused", async () => {
    const user = userEvent.setup();
    mockFetch({
      'POST /v1/integrations/test': () =>
        jsonResponse({ error: { message: 'Unknown integration: ollama', type: 'invalid_request_error', param: null, code: 'integration_not_found' } }, 404),
    });
    render(<TestPanel integration={ollama()} />);
    await user.click(screen.getByTestId('test-button'));
    const result = await screen.findByTestId('test-result');
    expect(result).toHaveAttribute('data-success', 'false');
    expect(result).toHaveTextContent('Unknown integration: ollama');
    expect(within(result).queryByTestId('test-latency')).not.toBeInTheDocument();
  });

  it('keeps the last three results, newest first, for comparison', async () => {
    const user = userEvent.setup();
    let n = 0;
    mockFetch({
      'POST /v1/integrations/test': () => {
        n += 1;
        return jsonResponse({ ...success, response: `answer ${n}`, latency_ms: n * 100 });
      },
    });
    render(<TestPanel integration={ollama()} />);
    for (let i = 1; i <= 4; i += 1) {
      await user.click(screen.getByTestId('test-button'));
      await screen.findByText(`answer ${i}`);
    }
    const results = screen.getAllByTestId('test-result');
    expect(results.map((r) => r.querySelector('.test-response-text')?.textContent)).toEqual(['answer 4', 'answer 3', 'answer 2']);
    expect(results.map((r) => within(r).getByTestId('test-latency').textContent)).toEqual(['400 ms', '300 ms', '200 ms']);
  });

  it('will not send an empty prompt', async () => {
    const user = userEvent.setup();
    const fetch = mockFetch({ 'POST /v1/integrations/test': success });
    render(<TestPanel integration={ollama()} />);
    await user.clear(screen.getByTestId('prompt-input'));
    expect(screen.getByTestId('test-button')).toBeDisabled();
    expect(fetch).not.toHaveBeenCalled();
  });
});
