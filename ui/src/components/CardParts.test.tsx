import { describe, expect, it, vi } from 'vitest';
import { render, screen, within } from '@testing-library/react';
import userEvent from '@testing-library/user-event';
import BreakerState from './BreakerState';
import CardStats from './CardStats';
import QueueState from './QueueState';
import ProjectList from './ProjectList';
import WarmUp from './WarmUp';
import CardActions from './CardActions';
import { llamafarm, model, ollama, project } from '../test/fixtures';

describe('BreakerState', () => {
  it('shows nothing when the service reports no breaker', () => {
    const { container } = render(<BreakerState breaker={null} />);
    expect(container).toBeEmptyDOMElement();
  });

  it('shows a closed breaker without its old failure', () => {
    render(<BreakerState breaker={{ state: 'closed', open_until: null, last_failure: 'HTTP 503', failures: 0 }} />);
    expect(screen.getByTestId('breaker')).toHaveAttribute('data-state', 'closed');
    expect(screen.getByTestId('breaker')).toHaveTextContent('Breaker closed');
    expect(screen.queryByTestId('breaker-last-failure')).not.toBeInTheDocument();
  });

  it('shows an open breaker with the time it reopens and the last failure', () => {
    const until = Date.now() / 1000 + 40;
    render(<BreakerState breaker={{ state: 'open', open_until: until, last_failure: 'HTTP 503 server busy', failures: 3 }} />);
    const breaker = screen.getByTestId('breaker');
    expect(breaker).toHaveAttribute('data-state', 'open');
    expect(breaker).toHaveTextContent('Breaker open until');
    expect(screen.getByTestId('breaker-until')).toHaveTextContent(new Date(until * 1000).toLocaleTimeString());
    expect(breaker).toHaveTextContent(/in (39|40) s/);
    expect(breaker).toHaveTextContent('3 failures in a row');
    expect(screen.getByTestId('breaker-last-failure')).toHaveTextContent('Last failure: HTTP 503 server busy');
  });

  it('shows a half-open breaker as letting one trial through', () => {
    render(<BreakerState breaker={{ state: 'half_open', open_until: null, last_failure: 'stream cut', failures: 1 }} />);
    expect(screen.getByTestId('breaker')).toHaveTextContent('Breaker half-open: one trial request goes through');
    expect(screen.getByTestId('breaker-last-failure')).toHaveTextContent('stream cut');
  });
});

describe('CardStats and QueueState', () => {
  it('shows p50, p95, requests per minute, error rate and a sparkline of the last minutes', () => {
    const sparkline = [0, 1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11, 12, 13, 14];
    render(<CardStats stats={{ p50_ms: 212.4, p95_ms: 1480, requests_per_minute: 4.25, error_rate: 0.034, sparkline }} />);
    expect(screen.getByTestId('stats-p50')).toHaveTextContent('212 ms');
    expect(screen.getByTestId('stats-p95')).toHaveTextContent('1.48 s');
    expect(screen.getByTestId('stats-rpm')).toHaveTextContent('4.3');
    expect(screen.getByTestId('stats-error-rate')).toHaveTextContent('3.4%');
    const svg = screen.getByTestId('sparkline');
    expect(svg.tagName.toLowerCase()).toBe('svg');
    expect(svg.querySelector('.sparkline-line')?.getAttribute('points')?.split(' ')).toHaveLength(15);
  });

  it('shows a dash for figures with no traffic yet', () => {
    render(<CardStats stats={{ p50_ms: null, p95_ms: null, requests_per_minute: 0, error_rate: null, sparkline: [] }} />);
    expect(screen.getByTestId('stats-p50')).toHaveTextContent('—');
    expect(screen.getByTestId('stats-rpm')).toHaveTextContent('0');
    expect(screen.queryByTestId('sparkline')).not.toBeInTheDocument();
  });

  it('shows in-flight requests against the limit and the queue', () => {
    render(<QueueState integration={ollama({ inflight: 4, max_inflight: 4, queue_depth: 2 })} />);
    expect(screen.getByTestId('queue-inflight')).toHaveTextContent('4/4');
    expect(screen.getByTestId('queue-depth')).toHaveTextContent('2');
    expect(screen.getByTestId('queue-state')).toHaveClass('full');
  });

  it('shows no queue when the service does not report one', () => {
    const { container } = render(<QueueState integration={ollama()} />);
    expect(container).toBeEmptyDOMElement();
  });
});

describe('ProjectList', () => {
  it('shows a project with a validation error with that error, and marks it as not routed', () => {
    render(<ProjectList projects={[project(), project({ name: 'broken', default_model: null, models: [], validation_error: "runtime.models[0]: 'provider' is required" })]} />);
    const [good, bad] = screen.getAllByTestId('project');
    expect(good).toHaveAttribute('data-valid', 'true');
    expect(within(good).queryByTestId('project-error')).not.toBeInTheDocument();
    expect(bad).toHaveAttribute('data-valid', 'false');
    expect(within(bad).getByTestId('project-error')).toHaveTextContent("Not routed: runtime.models[0]: 'provider' is required");
  });
});

describe('WarmUp', () => {
  const host = ollama({
    warmup_supported: true,
    models: [model({ id: 'llama3.2:latest', loaded: true }), model({ id: 'qwen3:4b', loaded: false }), model({ id: 'nomic-embed-text', capabilities: ['embeddings'], loaded: false })],
  });

  it('lists the loaded models and warms the chosen one, showing how long it took', async () => {
    const user = userEvent.setup();
    const onWarm = vi.fn(async (_id: string, name: string) => ({ success: true, integration_id: 'ollama', model: name, latency_ms: 1830, error: null }));
    render(<WarmUp integration={host} onWarm={onWarm} />);
    expect(screen.getByTestId('loaded-models')).toHaveTextContent('Loaded now: llama3.2:latest');
    const options = within(screen.getByTestId('warmup-select')).getAllByRole('option').map((o) => o.textContent);
    expect(options).toEqual(['llama3.2:latest (loaded)', 'qwen3:4b']); // embedding-only models are not offered
    await user.selectOptions(screen.getByTestId('warmup-select'), 'qwen3:4b');
    await user.click(screen.getByTestId('warmup-button'));
    expect(onWarm).toHaveBeenCalledWith('ollama', 'qwen3:4b');
    const result = await screen.findByTestId('warmup-result');
    expect(result).toHaveAttribute('data-success', 'true');
    expect(result).toHaveTextContent('qwen3:4b is loaded (1.83 s)');
  });

  it('shows why a warm-up failed', async () => {
    const user = userEvent.setup();
    render(<WarmUp integration={host} onWarm={async () => ({ success: false, integration_id: 'ollama', model: 'llama3.2:latest', latency_ms: 3, error: 'model not found' })} />);
    await user.click(screen.getByTestId('warmup-button'));
    expect(await screen.findByTestId('warmup-result')).toHaveTextContent('Could not warm up llama3.2:latest: model not found');
  });

  it('offers no warm-up where the service says the host cannot, but still lists what is loaded', () => {
    render(<WarmUp integration={{ ...host, warmup_supported: false }} onWarm={vi.fn()} />);
    expect(screen.queryByTestId('warmup-button')).not.toBeInTheDocument();
    expect(screen.getByTestId('loaded-models')).toBeInTheDocument();
  });

  it('shows nothing for a service that reports neither residency nor warm-up', () => {
    const { container } = render(<WarmUp integration={llamafarm({ models: [model({ id: 'fast', loaded: null })] })} onWarm={vi.fn()} />);
    expect(container).toBeEmptyDOMElement();
  });
});

describe('CardActions', () => {
  it('asks before removing a host added from the dashboard, and can be cancelled', async () => {
    const user = userEvent.setup();
    const onRemove = vi.fn(async () => undefined);
    render(<CardActions integration={ollama({ id: 'gpu', name: 'GPU box', removable: true })} onSetEnabled={vi.fn()} onRemove={onRemove} />);
    await user.click(screen.getByTestId('remove-button'));
    expect(screen.getByTestId('remove-confirm')).toHaveTextContent('Remove GPU box?');
    expect(onRemove).not.toHaveBeenCalled();
    await user.click(screen.getByRole('button', { name: 'Cancel' }));
    expect(screen.queryByTestId('remove-confirm')).not.toBeInTheDocument();

    await user.click(screen.getByTestId('remove-button'));
    await user.click(screen.getByTestId('remove-confirm-button'));
    expect(onRemove).toHaveBeenCalledWith('gpu');
  });

  it('offers no remove for hosts from the configuration', () => {
    render(<CardActions integration={ollama({ removable: false })} onSetEnabled={vi.fn()} onRemove={vi.fn()} />);
    expect(screen.queryByTestId('remove-button')).not.toBeInTheDocument();
  });

  it('moves up and down when a move is possible, and shows why one failed', async () => {
    const user = userEvent.setup();
    const onMoveDown = vi.fn(async () => {
      throw new Error('order must list every integration');
    });
    render(<CardActions integration={ollama()} onSetEnabled={vi.fn()} onMoveDown={onMoveDown} />);
    expect(screen.getByTestId('move-up')).toBeDisabled();
    await user.click(screen.getByTestId('move-down'));
    expect(onMoveDown).toHaveBeenCalled();
    expect(await screen.findByRole('alert')).toHaveTextContent('order must list every integration');
  });
});
