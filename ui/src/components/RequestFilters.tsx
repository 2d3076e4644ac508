import { useId } from 'react';
import type { RequestFilter } from '../api/types';
import { Options } from './FormParts';
import './RequestFilters.css';

interface Props {
  filter: RequestFilter;
  backends: string[];
  models: string[];
  onChange: (filter: RequestFilter) => void;
}

const OUTCOMES = ['ok', 'fallback', 'error'];

/** Integration, model and outcome choices for the request log (the API calls the first `backend`). */
export default function RequestFilters({ filter, backends, models, onChange }: Props) {
  const ids = { backend: useId(), model: useId(), outcome: useId() };
  const field = (name: keyof RequestFilter, label: string, options: string[], testId: string) => (
    <div className="field">
      <label htmlFor={ids[name]}>{label}</label>
      <select className="input" id={ids[name]} data-testid={testId} value={filter[name] ?? ''} onChange={(event) => onChange({ ...filter, [name]: event.target.value || undefined })}>
        <option value="">any</option>
        <Options options={options.map((option) => ({ id: option, label: option }))} />
      </select>
    </div>
  );
  return (
    <div className="request-filters" role="group" aria-label="Filter requests">
      {field('backend', 'Integration', backends, 'filter-backend')}
      {field('model', 'Model', models, 'filter-model')}
      {field('outcome', 'Outcome', OUTCOMES, 'filter-outcome')}
    </div>
  );
}
