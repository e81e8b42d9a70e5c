import { ShieldAlert, ShieldCheck } from 'lucide-react';

// This chat's audit transcript: every tool call and model request, in order, with the
// result of checking the hash chain. The downloads sit under the message.
export default function AuditPanel() {
  const rows = props.rows || [];
  const Icon = props.ok ? ShieldCheck : ShieldAlert;
  return (
    <section className="kt-card" aria-label="Audit transcript">
      <div className="kt-card-head kt-spread">
        <h3 className="kt-title">Audit transcript</h3>
        <span className={`kt-badge kt-badge-${props.ok ? 'ok' : 'bad'}`}>
          <Icon className="kt-icon-sm" aria-hidden="true" />
          {props.ok ? 'Chain intact' : 'Chain check failed'}
        </span>
      </div>
      <p className="kt-why">{props.verdict}</p>
      {rows.length === 0 ? (
        <p className="kt-hint">Nothing in this chat has been audited yet.</p>
      ) : (
        <ol className="kt-audit" aria-label="Audited events, oldest first">
          {rows.map((row) => (
            <li key={row.id} className="kt-audit-row">
              <span className="kt-audit-time tabular-nums">{row.time}</span>
              <span className="kt-audit-what">{row.what}</span>
              <span className={`kt-badge kt-badge-${row.tone}`}>{row.outcome}</span>
              <span className="kt-audit-details" title={row.details}>
                {row.details}
              </span>
            </li>
          ))}
        </ol>
      )}
      {props.more > 0 && <p className="kt-hint">{props.more} earlier event(s) are in the downloads below.</p>}
    </section>
  );
}
