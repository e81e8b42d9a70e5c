import { useEffect, useState } from 'react';
import { Button } from '@/components/ui/button';
import { Clock, Server, Trash2 } from 'lucide-react';

// Running resources and what they cost while idle. Teardown asks for a second click here,
// then the server deletes the resources and sends new props.
export default function DeploymentsPanel() {
  const rows = props.deployments || [];
  const [busy, setBusy] = useState(null);
  // Which panel to refresh: the server answers the click by sending this element new props.
  const ids = { panel_id: props.panel_id, message_id: props.message_id };
  const [confirm, setConfirm] = useState(null);

  useEffect(() => {
    setBusy(null);
    setConfirm(null);
  }, [props.version]);

  const teardown = (row) => {
    setBusy(row.id);
    setConfirm(null);
    callAction({ name: 'kt_deployment', payload: { op: 'teardown', id: row.id, ...ids } });
  };

  // Extend: the endpoint gets its full time-to-live again; the server answers with new props.
  const extend = (row) => {
    setBusy(`extend:${row.id}`);
    callAction({ name: 'kt_deployment', payload: { op: 'extend', id: row.id, ...ids } });
  };

  return (
    <section className="kt-card" aria-label="Your deployments">
      <div className="kt-card-head kt-spread">
        <h3 className="kt-title">
          <Server className="kt-icon text-primary" aria-hidden="true" /> Your deployments
        </h3>
        <span className="kt-badge">{props.idle_total || '$0.00/h idle'}</span>
      </div>
      {rows.length === 0 && <p className="kt-why">{props.empty || 'Nothing is running.'}</p>}
      {rows.length > 0 && (
        <ul className="kt-rows">
          {rows.map((row) => (
            <li key={row.id} className="kt-row" data-deployment={row.id}>
              <div className="kt-row-main">
                <span className="kt-row-title">{row.name}</span>
                <span className={`kt-badge kt-badge-${row.state}`}>{row.status}</span>
              </div>
              <p className="kt-row-detail">{row.detail}</p>
              <p className="kt-row-detail tabular-nums">
                Idle: <strong>{row.idle}</strong> · Running: {row.running}
              </p>
              {row.stops && !row.warning && <p className="kt-row-detail">{row.stops}</p>}
              {row.warning && (
                <p className="kt-hint kt-warning" role="alert" data-expiry-warning={row.id}>
                  {row.warning}
                </p>
              )}
              <div className="kt-actions">
                {confirm === row.id ? (
                  <>
                    <span className="kt-muted">Delete {row.resources}?</span>
                    <Button size="sm" variant="destructive" onClick={() => teardown(row)}>
                      Tear down
                    </Button>
                    <Button size="sm" variant="outline" onClick={() => setConfirm(null)}>
                      Keep
                    </Button>
                  </>
                ) : (
                  <>
                  {row.can_extend && (
                    <Button size="sm" variant="outline" disabled={!!busy} onClick={() => extend(row)}>
                      <Clock className={`kt-icon-sm ${busy === `extend:${row.id}` ? 'animate-pulse' : ''}`} aria-hidden="true" />
                      Extend
                    </Button>
                  )}
                  <Button size="sm" variant="outline" disabled={!!busy || !row.can_teardown} onClick={() => setConfirm(row.id)}>
                    <Trash2 className={`kt-icon-sm ${busy === row.id ? 'animate-pulse' : ''}`} aria-hidden="true" />
                    {busy === row.id ? 'Tearing down…' : 'Tear down'}
                  </Button>
                  </>
                )}
              </div>
            </li>
          ))}
        </ul>
      )}
      {props.message && (
        <p className="kt-hint" role="status">
          {props.message}
        </p>
      )}
    </section>
  );
}
