import { describe, expect, it } from 'vitest';
import { render, screen } from '@testing-library/react';
import userEvent from '@testing-library/user-event';
import ModelTags from './ModelTags';
import { model, ollamaModel } from '../test/fixtures';

const models = Array.from({ length: 9 }, (_, i) =>
  ollamaModel({ id: `model-${i}:latest`, name: `model-${i}:latest`, parameter_size: `${i + 1}B`, size: (i + 1) * 1e9 }),
);

describe('ModelTags', () => {
  it('shows the first six models and says how many more there are', () => {
    render(<ModelTags models={models} />);
    const tags = screen.getAllByTestId('model-tag');
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
});
