import { useState } from 'react';
import { Ban, Pencil, ShieldAlert } from 'lucide-react';
import type { ClientKey, KeyDraft } from '../api/keys';
import { useAction } from '../hooks/useAction';
import { FormError } from '../components/FormParts';
import RelativeTime from '../components/RelativeTime';
import KeyForm from './KeyForm';
import { fieldsOf } from './draft';
import './KeyCard.css';

export type KeyStatus = 'active' | 'expired' | 'revoked';

const STATUS_TONES: Record<KeyStatus, string> = { active: 'tone-healthy', expired: 'tone-warning', revoked: 'tone-danger' };

export function statusOf(key: ClientKey, now: number = Date.now()): KeyStatus {
  if (key.revoked_at !== null) return 'revoked';
  if (key.expires_at !== null && key.expires_at <= now) return 'expired';
  return 'active';
}

function When({ ms, fallback }: { ms: number | null; fallback: string }) {
  return <RelativeTime seconds={ms === null ? null : ms / 1000} fallback={fallback} />;
}

function limitsText(key: ClientKey): string {
  const { requests_per_minute: rpm, tokens_per_minute: tpm, concurrent } = key.limits;
  const parts: string[] = [];
  if (rpm !== null) parts.push(`${rpm.toLocaleString()} req/min`);
  if (tpm !== null) parts.push(`${tpm.toLocaleString()} tokens/min`);
  if (concurrent !== null) parts.push(`${concurrent} at once`);
  return parts.length ? parts.join(' · ') : 'none';
}

function budgetText(key: ClientKey): string {
  const used = key.tokens_this_month.toLocaleString();
  return key.monthly_token_budget === null ? `${used} tokens this month, no budget` : `${used} of ${key.monthly_token_budget.toLocaleString()} tokens this month`;
}

/** One client key: what it may do, when it was used, and its edit and revoke actions. */
export default function KeyCard({ clientKey: key, onUpdate, onRevoke }: { clientKey: ClientKey; onUpdate: (id: string, draft: KeyDraft) => Promise<unknown>; onRevoke: (id: string) => Promise<unknown> }) {
  const [editing, setEditing] = useState(false);
  const [confirming, setConfirming] = useState(false);
  const { pending, error, run } = useAction();
  const status = statusOf(key);

  async function revoke() {
    if (await run(() => onRevoke(key.id))) setConfirming(false);
  }

  return (
    <li className={`panel key-card ${status}`} data-testid="key-card" data-key-id={key.id} data-name={key.name} data-status={status}>
      <div className="key-card-head">
        <h2>{key.name}</h2>
        <code className="key-card-prefix" title="The start of the secret, to recognise it">
          {key.prefix}…
        </code>
        <span className={`badge key-card-status ${status} ${STATUS_TONES[status]}`} data-testid="key-status">
          {status}
        </span>
        {key.limited_last_hour > 0 ? (
          <span className="badge tone-error key-card-limited" data-testid="key-limited" title="Requests refused (429 or 403) in the last hour">
            <ShieldAlert size={13} /> limited {key.limited_last_hour}× in the last hour
          </span>
        ) : null}
      </div>
      <dl className="key-card-facts">
        <div>
          <dt>Created</dt>
          <dd>
            <When ms={key.created_at} fallback="—" />
          </dd>
        </div>
        <div>
          <dt>Last used</dt>
          <dd data-testid="key-last-used">
            <When ms={key.last_used_at} fallback="never" />
          </dd>
        </div>
        <div>
          <dt>{status === 'revoked' ? 'Revoked' : 'Expires'}</dt>
          <dd>{status === 'revoked' ? <When ms={key.revoked_at} fallback="—" /> : key.expires_at === null ? 'never' : new Date(key.expires_at).toLocaleDateString()}</dd>
        </div>
        <div>
          <dt>Limits</dt>
          <dd data-testid="key-limits">{limitsText(key)}</dd>
        </div>
        <div>
          <dt>Surfaces</dt>
          <dd>{key.surfaces === null ? 'all' : key.surfaces.join(', ') || 'none'}</dd>
        </div>
        <div>
          <dt>Models</dt>
          <dd>{key.models === null ? 'all' : key.models.join(', ') || 'none'}</dd>
        </div>
        <div className="wide">
          <dt>Budget</dt>
          <dd data-testid="key-budget">{budgetText(key)}</dd>
        </div>
      </dl>
      {status !== 'revoked' && !editing ? (
        <div className="key-card-actions">
          {confirming ? (
            <div className="key-card-confirm" role="group" aria-label={`Revoke ${key.name}?`} data-testid="revoke-confirm">
              <span>Revoke {key.name}? Programs using it are refused at once; this cannot be undone.</span>
              <button type="button" className="button outline" onClick={() => setConfirming(false)} disabled={pending}>
                Keep it
              </button>
              <button type="button" className="button solid tone-danger" data-testid="revoke-confirm-button" onClick={() => void revoke()} disabled={pending}>
                Revoke
              </button>
            </div>
          ) : (
            <>
              <button type="button" className="button outline" data-testid="edit-key" onClick={() => setEditing(true)}>
                <Pencil size={14} /> Edit limits
              </button>
              <button type="button" className="button outline tone-danger" data-testid="revoke-key" onClick={() => setConfirming(true)}>
                <Ban size={14} /> Revoke
              </button>
            </>
          )}
        </div>
      ) : null}
      <FormError error={error} />
      {editing ? (
        <KeyForm
          name="edit-key"
          initial={fieldsOf(key)}
          submitLabel="Save"
          onCancel={() => setEditing(false)}
          onSubmit={async (draft) => {
            await onUpdate(key.id, draft);
            setEditing(false);
          }}
        />
      ) : null}
    </li>
  );
}
