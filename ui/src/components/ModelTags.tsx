import { useId, useState } from 'react';
import { ChevronDown, ChevronUp, Zap } from 'lucide-react';
import type { Model } from '../api/types';
import { modelDetailParts, modelTitle } from '../format';
import LocalityBadge from './LocalityBadge';
import './ModelTags.css';

export const VISIBLE_MODELS = 6;

/** A stable key: ids are unique within one integration's list, projects disambiguate LlamaFarm aliases. */
export function modelKey(model: Model): string {
  return `${model.project ?? ''}/${model.id}`;
}

/** Name, where it runs, and whether it is resident now: the part of a tag shown collapsed and expanded. */
function ModelName({ model }: { model: Model }) {
  return (
    <>
      <span className="model-tag-name" data-testid="model-name">
        {model.name}
      </span>
      <LocalityBadge locality={model.locality} />
      {model.loaded ? (
        <span className="model-tag-loaded" data-testid="model-loaded" title="Loaded in memory now">
          <Zap size={11} aria-hidden="true" />
          <span className="sr-only">loaded</span>
        </span>
      ) : null}
      {model.ready === false ? <span className="model-tag-unready">unavailable</span> : null}
    </>
  );
}

function _tagProps(model: Model, expanded: boolean) {
  const readiness = model.ready === null ? undefined : String(model.ready);
  return {
    className: `model-tag${expanded ? ' expanded' : ''}${model.ready === false ? ' not-ready' : ''}`,
    'data-testid': 'model-tag',
    'data-model': model.id,
    'data-ready': readiness,
    title: modelTitle(model),
  };
}

/**
 * A backend's models as tags: the first `limit` collapsed (details on hover),
 * every model with its size, parameter size, quantization, provider and
 * project once expanded. Models the service reports as not ready are marked,
 * and listed with the reason under the tags, whether expanded or not.
 */
export default function ModelTags({ models, limit = VISIBLE_MODELS }: { models: Model[]; limit?: number }) {
  const [expanded, setExpanded] = useState(false);
  const listId = useId();

  if (models.length === 0) {
    return <p className="model-tags-empty">No models listed.</p>;
  }

  const hidden = Math.max(0, models.length - limit);
  const hasDetails = models.some((m) => modelDetailParts(m).length > 0 || m.project || m.family || m.provider);
  const showToggle = hidden > 0 || hasDetails;
  const unready = models.filter((m) => m.ready === false);

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
              <li key={modelKey(model)} {..._tagProps(model, true)}>
                <ModelName model={model} />
                {model.family ? <span className="model-tag-family">{model.family}</span> : null}
                {details.length ? <span className="model-tag-details">{details.join(' · ')}</span> : null}
                {model.provider ? <span className="model-tag-provider">provider {model.provider}</span> : null}
                {model.project ? <span className="model-tag-project">project {model.project}</span> : null}
              </li>
            );
          })}
        </ul>
      ) : (
        <ul className="model-tags" id={listId}>
          {models.slice(0, limit).map((model) => (
            <li key={modelKey(model)} {..._tagProps(model, false)}>
              <ModelName model={model} />
            </li>
          ))}
        </ul>
      )}
      {unready.length ? (
        <ul className="model-unavailable-list" aria-label="Models not ready">
          {unready.map((model) => (
            <li key={modelKey(model)} data-testid="model-unavailable" data-model={model.id}>
              <code>{model.name}</code> unavailable{model.unavailable_reason ? `: ${model.unavailable_reason}` : ''}
            </li>
          ))}
        </ul>
      ) : null}
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
