import { describe, expect, it } from 'vitest';
import { render, screen, within } from '@testing-library/react';
import userEvent from '@testing-library/user-event';
import ModelTags from './ModelTags';
import { model, ollamaModel } from '../test/fixtures';

const models = Array.from({ length: 9 }, (_, i) =>
  ollamaModel({ id: `model-${i}:latest`, name: `model-${i}:latest`, parameter_size: `${i + 1}B`, size: (i + 1) * 1e9 }),
);

describe('ModelTags', () => {
  it('shows the first six models and says how many more there are', () => {
    render(<ModelTags models={models} />);
    const tags = screen.getAllByTestId('model-name');
    expect(tags.map((t) => t.textContent)).toEqual(models.slice(0, 6).map((m) => m.name));
    const expander = screen.getByTestId('model-expander');
    expect(expander).toHaveTextContent('+3 more');
    expect(expander).toHaveAttribute('aria-expanded', 'false');
  });

  it('puts size, parameter size and quantization in the tag tooltip', () => {
    render(<ModelTags models={models} />);
    const title = screen.getAllByTestId('model-tag')[0].getAttribute('title');
    expect(title).toContain('Parameters: 1B');
    expect(title).toContain('Quantization: Q4_K_M');
    expect(title).toContain('Size: 1.0 GB');
  });

  it('expands to every model with its details, and collapses again', async () => {
    const user = userEvent.setup();
    render(<ModelTags models={models} />);
    await user.click(screen.getByTestId('model-expander'));
    const tags = screen.getAllByTestId('model-tag');
    expect(tags).toHaveLength(9);
    expect(tags[8]).toHaveTextContent('model-8:latest');
    expect(tags[8]).toHaveTextContent('9B · Q4_K_M · 9.0 GB');
    expect(tags[8]).toHaveTextContent('llama');
    expect(screen.getByTestId('model-expander')).toHaveAttribute('aria-expanded', 'true');
    expect(screen.getByTestId('model-expander')).toHaveTextContent('Show fewer');

    await user.click(screen.getByTestId('model-expander'));
    expect(screen.getAllByTestId('model-tag')).toHaveLength(6);
  });

  it('shows the owning project of LlamaFarm aliases when expanded', async () => {
    const user = userEvent.setup();
    render(<ModelTags models={[model({ id: 'fast', name: 'fast', project: 'default/chatbot' })]} />);
    expect(screen.getByTestId('model-expander')).toHaveTextContent('Show details');
    await user.click(screen.getByTestId('model-expander'));
    expect(screen.getByTestId('model-tag')).toHaveTextContent('project default/chatbot');
  });

  it('says so when the backend lists no models', () => {
    render(<ModelTags models={[]} />);
    expect(screen.getByText('No models listed.')).toBeInTheDocument();
    expect(screen.queryByTestId('model-tag')).not.toBeInTheDocument();
  });

  it('marks models that are not ready and lists each with its reason, without expanding', () => {
    render(
      <ModelTags
        models={[
          model({ id: 'fast', ready: false, unavailable_reason: 'universal runtime unreachable', provider: 'universal' }),
          model({ id: 'qwen3:4b', ready: true }),
        ]}
      />,
    );
    const [fast, qwen] = screen.getAllByTestId('model-tag');
    expect(fast).toHaveAttribute('data-ready', 'false');
    expect(fast).toHaveClass('not-ready');
    expect(fast).toHaveTextContent('unavailable');
    expect(qwen).toHaveAttribute('data-ready', 'true');
    expect(qwen).not.toHaveTextContent('unavailable');
    const reasons = screen.getAllByTestId('model-unavailable');
    expect(reasons).toHaveLength(1);
    expect(reasons[0]).toHaveTextContent('fast unavailable: universal runtime unreachable');
  });

  it("says nothing about readiness when the service does not report it", () => {
    render(<ModelTags models={[model({ id: 'old', ready: null })]} />);
    expect(screen.getByTestId('model-tag')).not.toHaveAttribute('data-ready');
    expect(screen.queryByTestId('model-unavailable')).not.toBeInTheDocument();
  });

  it('shows a locality badge per model and marks the ones loaded now', () => {
    render(
      <ModelTags
        models={[
          model({ id: 'here', locality: 'local', loaded: true }),
          model({ id: 'box', locality: 'lan' }),
          model({ id: 'gpt-oss:120b-cloud', locality: 'cloud' }),
          model({ id: 'unknown', locality: null }),
        ]}
      />,
    );
    const tags = screen.getAllByTestId('model-tag');
    expect(tags.map((t) => within(t).queryByTestId('locality-badge')?.getAttribute('data-locality') ?? null)).toEqual(['local', 'lan', 'cloud', null]);
    expect(within(tags[2]).getByTestId('locality-badge')).toHaveTextContent('cloud');
    expect(tags.map((t) => within(t).queryByTestId('model-loaded') !== null)).toEqual([true, false, false, false]);
  });

  it('shows the provider of LlamaFarm models once expanded, and nothing of its settings', async () => {
    const user = userEvent.setup();
    render(<ModelTags models={[model({ id: 'fast', provider: 'openai', project: 'default/chatbot', locality: 'cloud' })]} />);
    await user.click(screen.getByTestId('model-expander'));
    expect(screen.getByTestId('model-tag')).toHaveTextContent('provider openai');
    expect(screen.getByTestId('model-tag').getAttribute('title')).toContain('Provider: openai');
  });
});
