// Where the VRAM goes, against the GPU pools that could hold it. One stacked bar for the
// model (weights, KV cache, activations, overhead), one bar per candidate pool, all on
// the same scale, with a line where the model's need ends and the chosen pool marked.
// The band (where the real peak is expected to fall) is shaded on every row; its upper
// end, the line GPUs are chosen on, closes it. Charts stored before the band have none:
// their line stands at the estimate. Figures are in `props.unit` (GiB; charts stored
// before it say GB), and a pool with no capacity now says so beside its price.
const PARTS = [
  ['weights', 'Weights', 'kt-seg-weights'],
  ['kv_cache', 'KV cache', 'kt-seg-kv'],
  ['activations', 'Activations', 'kt-seg-act'],
  ['overhead', 'Overhead', 'kt-seg-over'],
];

// One decimal everywhere, as the approval card states the same figures.
function gib(value) {
  return `${value.toFixed(1)} ${props.unit || 'GB'}`;
}

// The band's ends differ by a few percent: always one decimal, or they round together.
function exact(value) {
  return `${value.toFixed(1)} ${props.unit || 'GB'}`;
}

export default function VramChart() {
  const parts = props.parts || {};
  const total = props.total_gb || 0;
  const pools = props.pools || [];
  const band = props.band && props.band.high_gb > 0 ? props.band : null;
  const fit = band ? band.high_gb : total;
  const scale = Math.max(total, fit, ...pools.map((p) => p.capacity_gb || 0)) * 1.04 || 1;
  const pct = (value) => `${Math.max(0, (100 * value) / scale)}%`;
  const range = band ? `expected ${exact(band.low_gb)} to ${exact(band.high_gb)}` : '';
  const summary =
    `${props.model || 'The model'} needs about ${gib(total)}: ` +
    PARTS.map(([key, name]) => `${name.toLowerCase()} ${gib(parts[key] || 0)}`).join(', ') +
    (band ? `; ${range}, GPU chosen for ${exact(fit)}` : '') +
    (props.chosen ? `. Chosen: ${props.chosen}.` : '.');
  const bandMark = band ? (
    <div
      className="kt-band"
      style={{ left: pct(band.low_gb), width: pct(band.high_gb - band.low_gb) }}
      title={`Real peak ${range}; GPU chosen for ${exact(fit)}`}
      aria-hidden="true"
    />
  ) : null;

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
            {bandMark}
          </div>
          <span className="kt-chart-value tabular-nums">{gib(total)}</span>
        </div>
        {pools.map((pool) => (
          <div
            key={pool.id}
            className={`kt-chart-row ${pool.chosen ? 'kt-chosen' : ''} ${pool.fits ? '' : 'kt-nofit'}`}
            aria-label={`${pool.label}: ${pool.fits ? 'holds it' : 'too small'}${
              pool.chosen ? ', chosen' : ''}${pool.note ? `, ${pool.note}` : ''}${
              pool.price ? `, ${pool.price}` : ''}`}
          >
            <span className="kt-chart-label" title={pool.label}>
              {pool.label}
            </span>
            <div className="kt-track">
              <div className="kt-pool" style={{ width: pct(pool.capacity_gb) }} />
              {bandMark || (
                <div className="kt-need" style={{ left: pct(total) }} aria-hidden="true" />
              )}
            </div>
            <span className="kt-chart-value tabular-nums">
              {pool.chosen ? '✓ ' : ''}
              {pool.note ? <span className="kt-nocap">{pool.note}</span> : null}
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
        {band && (
          <li>
            <span className="kt-swatch kt-band-swatch" />
            Real peak expected {exact(band.low_gb)} to {exact(band.high_gb)}; GPU chosen for{' '}
            {exact(fit)}
          </li>
        )}
      </ul>
      {props.note && <p className="kt-hint">{props.note}</p>}
    </figure>
  );
}
