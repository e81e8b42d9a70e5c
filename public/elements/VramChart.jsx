// Where the VRAM goes, against the GPU pools that could hold it. One stacked bar for the
// model (weights, KV cache, activations, overhead), one bar per candidate pool, all on
// the same scale, with a line where the model's need ends and the chosen pool marked.
const PARTS = [
  ['weights', 'Weights', 'kt-seg-weights'],
  ['kv_cache', 'KV cache', 'kt-seg-kv'],
  ['activations', 'Activations', 'kt-seg-act'],
  ['overhead', 'Overhead', 'kt-seg-over'],
];

function gib(value) {
  const unit = props.unit || 'GB';
  return `${value >= 10 ? value.toFixed(0) : value.toFixed(1)} ${unit}`;
}

export default function VramChart() {
  const parts = props.parts || {};
  const total = props.total_gb || 0;
  const pools = props.pools || [];
  const scale = Math.max(total, ...pools.map((p) => p.capacity_gb || 0)) * 1.04 || 1;
  const pct = (value) => `${Math.max(0, (100 * value) / scale)}%`;
  const summary =
    `${props.model || 'The model'} needs about ${gib(total)}: ` +
    PARTS.map(([key, name]) => `${name.toLowerCase()} ${gib(parts[key] || 0)}`).join(', ') +
    (props.chosen ? `. Chosen: ${props.chosen}.` : '.');

  return (
    <figure className="kt-card" aria-label={summary}>
      <div className="kt-card-head kt-spread">
        <h3 className="kt-title">VRAM for {props.model}</h3>
        <span className="kt-badge">{gib(total)} needed</span>
      </div>
      {props.subtitle && <p className="kt-why">{props.subtitle}</p>}
      <div className="kt-chart">
        <div className="kt-chart-row">
          <span className="kt-chart-label">Model</span>
          <div className="kt-track">
            {PARTS.map(([key, name, tone]) =>
              parts[key] > 0 ? (
                <div
                  key={key}
                  className={`kt-seg ${tone}`}
                  style={{ width: pct(parts[key]) }}
                  title={`${name}: ${gib(parts[key])}`}
                />
              ) : null,
            )}
          </div>
          <span className="kt-chart-value tabular-nums">{gib(total)}</span>
        </div>
        {pools.map((pool) => (
          <div
            key={pool.id}
            className={`kt-chart-row ${pool.chosen ? 'kt-chosen' : ''} ${pool.fits ? '' : 'kt-nofit'}`}
          >
            <span className="kt-chart-label" title={`${pool.label} (${pool.id})`}>
              {pool.label}
            </span>
            <div className="kt-track">
              <div className="kt-pool" style={{ width: pct(pool.capacity_gb) }} />
              <div className="kt-need" style={{ left: pct(total) }} aria-hidden="true" />
            </div>
            <span className="kt-chart-value tabular-nums">
              {pool.chosen ? '✓ ' : ''}
              {pool.price}
            </span>
          </div>
        ))}
      </div>
      <ul className="kt-legend" aria-hidden="true">
        {PARTS.map(([key, name, tone]) => (
          <li key={key}>
            <span className={`kt-swatch ${tone}`} />
            {name} {gib(parts[key] || 0)}
          </li>
        ))}
      </ul>
      {props.note && <p className="kt-hint">{props.note}</p>}
    </figure>
  );
}
