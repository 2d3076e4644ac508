import type { ReactNode } from 'react';
import type { LucideIcon } from 'lucide-react';
import './Page.css';

interface PageHeaderProps {
  title: string;
  icon: LucideIcon;
  /** One line under the title: what the page is for. */
  subtitle?: ReactNode;
  /** Buttons and indicators at the header's end (they wrap under the title on narrow screens). */
  actions?: ReactNode;
}

/** The top of every page: its icon and title as the page's only h1, what it is for, and its actions. */
export default function PageHeader({ title, icon: Icon, subtitle, actions }: PageHeaderProps) {
  return (
    <header className="page-header">
      <div>
        <h1>
          <Icon size={22} /> {title}
        </h1>
        {subtitle ? <p className="page-subtitle">{subtitle}</p> : null}
      </div>
      {actions ? <div className="page-actions">{actions}</div> : null}
    </header>
  );
}
