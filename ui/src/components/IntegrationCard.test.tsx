import { describe, expect, it, vi, beforeEach } from 'vitest';
import { render, screen, within } from '@testing-library/react';
import userEvent from '@testing-library/user-event';
import IntegrationCard from './IntegrationCard';
import type { Integration } from '../api/types';
import { llamafarm, ollama } from '../test/fixtures';

function renderCard(integration: Integration, onSetEnabled = vi.fn(async (_id: string, _enabled: boolean) => integration)) {
  render(<IntegrationCard integration={integration} onSetEnabled={onSetEnabled} />);
  return { card: screen.getByTestId(`integration-card-${integration.id}`), onSetEnabled };
}

describe('IntegrationCard', () => {
  beforeEach(() => {
    vi.stubGlobal('fetch', vi.fn());
  });

  it('shows a healthy backend with its name, url, version, latency, capabilities and models', () => {
    const { card } = renderCard(ollama());
    expect(card).toHaveAttribute('data-status', 'healthy');
    expect(card).toHaveAttribute('data-enabled', 'true');
    const badge = within(card).getByTestId('status-badge');
    expect(badge).toHaveTextContent(/^healthy$/);
    expect(badge).toHaveClass('integration-status', 'healthy');
    expect(within(card).getByRole('heading', { name: 'Ollama' })).toBeInTheDocument();
    expect(within(card).getByText('http://localhost:11434')).toBeInTheDocument();
    expect(within(card).getByText('0.5.7')).toBeInTheDocument();
    expect(within(card).getByTestId('probe-latency')).toHaveTextContent('12 ms');
    expect(within(card).getByTestId('model-count')).toHaveTextContent('2');
    const capabilities = within(card).getByRole('list', { name: 'Capabilities' });
    expect(within(capabilities).getAllByRole('listitem').map((li) => li.textContent)).toEqual(['chat', 'generate', 'embeddings']);
    expect(within(card).getAllByTestId('model-name').map((tag) => tag.textContent)).toEqual(['llama3.2:latest', 'qwen2.5:0.5b']);
    expect(within(card).queryByTestId('status-reason')).not.toBeInTheDocument();
    expect(within(card).getByText('just now')).toBeInTheDocument();
  });

  it('says which network each host is on', () => {
    const { card } = renderCard(ollama({ id: 'gpu', url: 'http://10.0.0.5:11434', network: 'private' }));
    expect(within(card).getByTestId('network')).toHaveTextContent('private network');
    expect(within(card).getByTestId('network')).toHaveAttribute('data-network', 'private');
  });

  it('says a public host is one, and shows nothing for a service that does not say', () => {
    render(<IntegrationCard integration={ollama({ id: 'far', network: 'public' })} onSetEnabled={vi.fn()} />);
    expect(within(screen.getByTestId('integration-card-far')).getByTestId('network')).toHaveTextContent('public network');
    render(<IntegrationCard integration={ollama({ id: 'old', network: null })} onSetEnabled={vi.fn()} />);
    expect(within(screen.getByTestId('integration-card-old')).queryByTestId('network')).not.toBeInTheDocument();
  });

  it("shows a healthy backend's note (e.g. LlamaFarm degraded) as a note, not a failure", () => {
    const { card } = renderCard({ ...ollama(), error: 'degraded: rag-service=unhealthy' });
    expect(card).toHaveAttribute('data-status', 'healthy');
    expect(within(card).getByTestId('status-reason')).toHaveTextContent('Note: degraded: rag-service=unhealthy');
  });

  it('shows a degraded backend in amber with the reason some models are not ready', () => {
    const { card } = renderCard(llamafarm({ status: 'degraded', error: 'fast: universal runtime unreachable' }));
    expect(card).toHaveAttribute('data-status', 'degraded');
    expect(card).toHaveClass('status-degraded');
    const badge = within(card).getByTestId('status-badge');
    expect(badge).toHaveTextContent(/^degraded$/);
    expect(badge).toHaveClass('degraded');
    expect(within(card).getByTestId('status-reason')).toHaveTextContent('Reason: fast: universal runtime unreachable');
  });

  it('shows an offline backend in words with the reason it is offline', () => {
    const { card } = renderCard(
      ollama({ status: 'offline', error: 'Connection refused on localhost:11434', version: null, models: [], model_count: 0, latency_ms: null }),
    );
    expect(card).toHaveAttribute('data-status', 'offline');
    const badge = within(card).getByTestId('status-badge');
    expect(badge).toHaveTextContent(/^offline$/);
    expect(badge).toHaveClass('offline');
    expect(within(card).getByTestId('status-reason')).toHaveTextContent('Reason: Connection refused on localhost:11434');
    expect(within(card).getByText('unknown')).toBeInTheDocument();
    expect(within(card).getByText('No models listed.')).toBeInTheDocument();
  });

  it('shows an erroring backend in words with the reason', () => {
    const { card } = renderCard(llamafarm({ status: 'error', error: 'HTTP 500 from /v1/projects' }));
    expect(card).toHaveAttribute('data-status', 'error');
    const badge = within(card).getByTestId('status-badge');
    expect(badge).toHaveTextContent(/^error$/);
    expect(badge).toHaveClass('error');
    expect(within(card).getByTestId('status-reason')).toHaveTextContent('HTTP 500 from /v1/projects');
  });

  it('shows a status word it does not know verbatim instead of guessing', () => {
    const { card } = renderCard(ollama({ status: 'starting' }));
    expect(within(card).getByTestId('status-badge')).toHaveTextContent(/^starting$/);
    expect(within(card).getByTestId('status-badge')).toHaveClass('unknown');
  });

  it("lists LlamaFarm's projects with their default model", () => {
    const { card } = renderCard(llamafarm());
    const project = within(card).getByTestId('project');
    expect(project).toHaveTextContent('default/chatbot');
    expect(project).toHaveTextContent('default: fast');
    expect(project).toHaveTextContent('models: fast, smart');
  });

  it('offers Disconnect when enabled and calls back with enabled=false', async () => {
    const user = userEvent.setup();
    const { card, onSetEnabled } = renderCard(ollama());
    expect(within(card).queryByTestId('connect-button')).not.toBeInTheDocument();
    const button = within(card).getByTestId('disconnect-button');
    expect(button).toHaveAccessibleName('Disconnect Ollama');
    await user.click(button);
    expect(onSetEnabled).toHaveBeenCalledWith('ollama', false);
  });

  it('offers Connect when disabled, marks the card, and shows why connecting failed', async () => {
    const user = userEvent.setup();
    const onSetEnabled = vi.fn(async () => {
      throw new Error('Unknown integration: ollama');
    });
    const { card } = renderCard(ollama({ enabled: false }), onSetEnabled);
    expect(card).toHaveAttribute('data-enabled', 'false');
    expect(within(card).getByText('Disconnected')).toBeInTheDocument();
    await user.click(within(card).getByTestId('connect-button'));
    expect(onSetEnabled).toHaveBeenCalledWith('ollama', true);
    expect(await within(card).findByRole('alert')).toHaveTextContent('Unknown integration: ollama');
  });
});
