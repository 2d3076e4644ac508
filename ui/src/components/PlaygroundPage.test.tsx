import { describe, expect, it } from 'vitest';
import { render, screen, waitFor, within } from '@testing-library/react';
import userEvent from '@testing-library/user-event';
import PlaygroundPage from './PlaygroundPage';
import { deferred, fetchCalls, jsonResponse, mockFetch, sentBody } from '../test/fixtures';

const catalogue = {
  object: 'list',
  data: [
    { id: 'llama3.2:latest', object: 'model', created: 1, owned_by: 'ollama' },
    { id: 'fast', object: 'model', created: 1, owned_by: 'llamafarm' },
  ],
};

/** An SSE answer whose chunks the test releases one by one. */
function sseResponse(headers: Record<string, string>) {
  const encoder = new TextEncoder();
  let push!: (text: string) => void;
  let end!: () => void;
  const body = new ReadableStream<Uint8Array>({
    start(controller) {
      push = (text) => controller.enqueue(encoder.encode(text));
      end = () => controller.close();
    },
  });
  const chunk = (content: string) => `data: ${JSON.stringify({ choices: [{ index: 0, delta: { content }, finish_reason: null }] })}\n\n`;
  return {
    response: new Response(body, { status: 200, headers: { 'Content-Type': 'text/event-stream', ...headers } }),
    send: (content: string) => push(chunk(content)),
    finish: () => {
      push(`data: ${JSON.stringify({ choices: [{ index: 0, delta: {}, finish_reason: 'stop' }] })}\n\n`);
      push(`data: ${JSON.stringify({ choices: [], usage: { prompt_tokens: 9, completion_tokens: 3 } })}\n\n`);
      push('data: [DONE]\n\n');
      end();
    },
  };
}

describe('PlaygroundPage', () => {
  it('offers auto and every catalogue model', async () => {
    mockFetch({ 'GET /v1/models': catalogue });
    render(<PlaygroundPage origin="http://127.0.0.1:8000" />);
    await waitFor(() => expect(within(screen.getByTestId('playground-model')).getAllByRole('option')).toHaveLength(3));
    expect(within(screen.getByTestId('playground-model')).getAllByRole('option').map((o) => (o as HTMLOptionElement).value)).toEqual(['auto', 'llama3.2:latest', 'fast']);
  });

  it('streams the answer as it arrives and shows who served it, the fallback and the speed', async () => {
    const user = userEvent.setup();
    const stream = sseResponse({ 'X-Atmosphere-Backend': 'ollama', 'X-Atmosphere-Model': 'llama3.2:latest', 'X-Atmosphere-Attempts': 'llamafarm: connection refused' });
    const answered = deferred<Response>();
    const fetch = mockFetch({ 'GET /v1/models': catalogue, 'POST /v1/chat/completions': () => answered.promise });
    render(<PlaygroundPage origin="http://127.0.0.1:8000" />);
    await waitFor(() => expect(within(screen.getByTestId('playground-model')).getAllByRole('option')).toHaveLength(3));
    await user.selectOptions(screen.getByTestId('playground-model'), 'fast');
    await user.type(screen.getByTestId('playground-input'), 'Say hi');
    await user.click(screen.getByTestId('playground-send'));

    const index = fetchCalls(fetch).indexOf('POST /v1/chat/completions');
    expect(sentBody(fetch, index)).toEqual({ model: 'fast', messages: [{ role: 'user', content: 'Say hi' }], stream: true, stream_options: { include_usage: true } });
    expect(screen.getByTestId('playground-stop')).toBeInTheDocument();

    answered.resolve(stream.response);
    stream.send('Hel');
    await waitFor(() => expect(screen.getAllByTestId('chat-message')[1]).toHaveTextContent('Hel'));
    expect(screen.getByTestId('chat-backend')).toHaveTextContent('ollama');
    stream.send('lo!');
    await waitFor(() => expect(screen.getAllByTestId('chat-message')[1]).toHaveTextContent('Hello!'));
    stream.finish();

    await screen.findByTestId('playground-send');
    expect(screen.getByTestId('chat-model')).toHaveTextContent('llama3.2:latest');
    expect(screen.getByTestId('chat-attempts')).toHaveTextContent('llamafarm: connection refused');
    expect(screen.getByTestId('served-info')).toHaveTextContent('3 tokens');
    expect(screen.getByTestId('chat-tps')).toHaveTextContent(/tokens\/s/);
    expect(screen.getByTestId('snippet-curl')).toHaveTextContent('"model":"fast"');
    expect(screen.getByTestId('snippet-python')).toHaveTextContent('model="fast"');
  });

  it("shows the gateway's error when nothing can serve the model", async () => {
    const user = userEvent.setup();
    mockFetch({
      'GET /v1/models': catalogue,
      'POST /v1/chat/completions': () =>
        jsonResponse({ error: { message: "The model 'fast' is not ready: universal runtime unreachable", type: 'server_error', param: null, code: 'backend_unavailable' } }, 503),
    });
    render(<PlaygroundPage origin="http://h" />);
    await user.type(screen.getByTestId('playground-input'), 'Hi');
    await user.click(screen.getByTestId('playground-send'));
    expect(await screen.findByTestId('chat-error')).toHaveTextContent("The model 'fast' is not ready: universal runtime unreachable");
    expect(screen.getAllByTestId('chat-message')).toHaveLength(1); // no empty answer left behind
  });

  it('shows the code for the request being typed before anything is sent', async () => {
    const user = userEvent.setup();
    mockFetch({ 'GET /v1/models': catalogue });
    render(<PlaygroundPage origin="http://127.0.0.1:8000" />);
    await user.type(screen.getByTestId('playground-input'), 'Why is the sky blue?');
    expect(screen.getByTestId('snippet-curl')).toHaveTextContent('"content":"Why is the sky blue?"');
    expect(screen.getByTestId('snippet-python')).toHaveTextContent('base_url="http://127.0.0.1:8000/v1"');
  });
});
