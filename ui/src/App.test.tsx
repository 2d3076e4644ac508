import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { act, render, screen } from '@testing-library/react';
import App from './App';
import { MockWebSocket, mockFetch, ollama } from './test/fixtures';

describe('App', () => {
  beforeEach(() => {
    MockWebSocket.install();
    mockFetch({ 'GET /v1/integrations': { integrations: [ollama()], timestamp: Date.now() / 1000 } });
  });

  afterEach(() => {
    window.location.hash = '';
  });

  it('opens on the Integrations page, marked current in the navigation', async () => {
    render(<App />);
    expect(screen.getByRole('link', { name: 'Integrations' })).toHaveAttribute('aria-current', 'page');
    expect(screen.getByRole('heading', { level: 1, name: 'Integrations' })).toBeInTheDocument();
    expect(await screen.findByTestId('integration-card-ollama')).toBeInTheDocument();
  });

  it('switches to the API page with the OpenAI base URL', async () => {
    render(<App />);
    await screen.findByTestId('integration-card-ollama');
    await act(async () => {
      window.location.hash = '#/api';
      window.dispatchEvent(new HashChangeEvent('hashchange'));
    });
    expect(screen.getByRole('link', { name: 'API' })).toHaveAttribute('aria-current', 'page');
    expect(screen.getByTestId('api-base-url')).toHaveTextContent(`${window.location.origin}/v1`);
  });
});
