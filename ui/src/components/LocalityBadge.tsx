import { Cloud, House, Network, type LucideIcon } from 'lucide-react';
import type { Locality } from '../api/types';
import './LocalityBadge.css';

const ICONS: Record<Locality, LucideIcon> = { local: House, lan: Network, cloud: Cloud };
const TITLES: Record<Locality, string> = {
  local: 'Runs on this machine',
  lan: 'Runs on your local network',
  cloud: 'Runs on a hosted service: prompts leave your network',
};

/** Where a model runs, as the API says: local, lan or cloud. Nothing when it does not say. */
export default function LocalityBadge({ locality }: { locality: Locality | null }) {
  if (!locality) return null;
  const Icon = ICONS[locality];
  return (
    <span className={`locality-badge ${locality}`} data-testid="locality-badge" data-locality={locality} title={TITLES[locality]}>
      <Icon size={11} aria-hidden="true" />
      {locality}
    </span>
  );
}
