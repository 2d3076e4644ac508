import { useId, useState } from 'react';
import { ChevronDown, ChevronUp } from 'lucide-react';
import type { Model } from '../api/types';
import { modelDetailParts, modelTitle } from '../format';
import './ModelTags.css';

export const VISIBLE_MODELS = 6;

/** A stable key: ids are unique within one integration's list, projects disambiguate LlamaFarm aliases. */
export function modelKey(model: Model): string {
  return `${model.project ?? ''}/${model.id}`;
}

/**
 * A backend's models as tags: the first `limit` collapsed (details on hover),
 * every model with its size, parameter size, quantization and project once
 * expanded.
 */
export default function ModelTags({ models, limit = VISIBLE_MODELS }: { models: Model[]; limit?: number }) {
  const [expanded, setExpanded] = useState(false);
  const listId = useId();

  if (models.length === 0) {
    return <p className="model-tags-empty">No models listed.</p>;
  }

  const hidden = Math.max(0, models.length - limit);
  const hasDetails = models.some((m) => modelDetailParts(m).length > 0 || m.project || m.family);
  const showToggle = hidden > 0 || hasDetails;

  let toggleText = 'Show details';
  if (expanded) toggleText = hidden > 0 ? 'Show fewer' : 'Hide details';
  else if (hidden > 0) toggleText = `+${hidden} more`;

  return (
    <div className="model-tags-block">
      {expanded ? (
        <ul className="model-list" id={listId}>
          {models.map((model) => {
            const details = modelDetailParts(model);
            return (
              <li key={modelKey(model)} className="model-tag expanded" data-testid="model-tag" title={modelTitle(model)}>
                <span className="model-tag-name">{model.name}</span>
                {model.family ? <span className="model-tag-family">{model.family}</span> : null}
                {details.length ? <span className="model-tag-details">{details.join(' · ')}</span> : null}
                {model.project ? <span className="model-tag-project">project {model.project}</span> : null}
              </li>
            );
          })}
        </ul>
      ) : (
        <ul className="model-tags" id={listId}>
          {models.slice(0, limit).map((model) => (
            <li key={modelKey(model)} className="model-tag" data-testid="model-tag" title={modelTitle(model)}>
              {model.name}
            </li>
          ))}
        </ul>
      )}
      {showToggle ? (
        <button
          type="button"
          className="model-expander"
          data-testid="model-expander"
          aria-expanded={expanded}
          aria-controls={listId}
          aria-label={expanded ? 'Show fewer model details' : hidden > 0 ? `Show all ${models.length} models with details` : 'Show model details'}
          onClick={() => setExpanded((value) => !value)}
        >
          {expanded ? <ChevronUp size={14} /> : <ChevronDown size={14} />}
          {toggleText}
        </button>
      ) : null}
    </div>
  );
}
