import { CircleCheck, CircleX, Clock, ShieldAlert } from 'lucide-react';

// What an approval will create and what it costs. The Approve and Deny buttons are the
// question's own (Chainlit's ask); this card only shows the facts and, once answered,
// the decision.
const STATUS = {
  pending: ['Waiting for you', 'running', ShieldAlert],
  approved: ['Approved', 'ok', CircleCheck],
  denied: ['Denied', 'bad', CircleX],
  expired: ['Not answered', '', Clock],
};

export default function ApprovalCard() {
  const [label, tone, Icon] = STATUS[props.status] || STATUS.pending;
  const rows = props.rows || [];
  return (
    <section className="kt-card" aria-label={`Approval: ${props.title}`}>
      <div className="kt-card-head kt-spread">
        <h3 className="kt-title">{props.title}</h3>
        <span className={`kt-badge kt-badge-${tone}`}>
          <Icon className="kt-icon-sm" aria-hidden="true" />
          {label}
          {props.decided_by ? ` · ${props.decided_by}` : ''}
        </span>
      </div>
      <dl className="kt-facts">
        {rows.map((row) => (
          <div key={row.name} className={`kt-fact ${row.emphasis ? 'kt-fact-strong' : ''}`}>
            <dt>{row.name}</dt>
            <dd>{row.value}</dd>
          </div>
        ))}
      </dl>
      {props.note && <p className="kt-hint">{props.note}</p>}
    </section>
  );
}
