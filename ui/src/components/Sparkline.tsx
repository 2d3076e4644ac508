import './Sparkline.css';

interface Props {
  values: number[];
  width?: number;
  height?: number;
  label: string;
}

/** A small inline-SVG line of `values` (oldest first), scaled to the largest; no chart library. */
export default function Sparkline({ values, width = 120, height = 28, label }: Props) {
  if (values.length < 2) return null;
  const max = Math.max(...values, 1);
  const step = width / (values.length - 1);
  const points = values.map((v, i) => `${(i * step).toFixed(1)},${(height - 1 - (v / max) * (height - 2)).toFixed(1)}`).join(' ');
  return (
    <svg className="sparkline" data-testid="sparkline" viewBox={`0 0 ${width} ${height}`} width={width} height={height} role="img" aria-label={label}>
      <polyline points={`0,${height} ${points} ${width},${height}`} className="sparkline-area" />
      <polyline points={points} className="sparkline-line" />
    </svg>
  );
}
