import { useEffect, useState } from 'react';
import { Button } from '@/components/ui/button';
import { KeyRound, PlugZap, Plus, RefreshCw, Replace, Trash2, Unplug } from 'lucide-react';

// The user's stored keys: masked, with when each was last checked. Every button asks the
// server (callAction); the server answers by sending new props, which end the busy state.
// A connected account (OAuth) says how it was connected and when its token expires, and
// offers Reconnect and Disconnect; one whose renewal failed is badged "Needs reconnect".
export default function KeysPanel() {
  const keys = props.keys || [];
  const missing = props.missing || [];
  const connectable = missing.filter((item) => item.can_connect);
  const [busy, setBusy] = useState(null);
  // Which panel to refresh: the server answers the click by sending this element new props.
  const ids = { panel_id: props.panel_id, message_id: props.message_id };
  const [confirm, setConfirm] = useState(null);

  useEffect(() => {
    setBusy(null);
    setConfirm(null);
  }, [props.version]);

  const run = (op, key) => {
    setBusy(`${op}:${key.provider}:${key.label}`);
    setConfirm(null);
    callAction({ name: 'kt_key', payload: { op, provider: key.provider, label: key.label, ...ids } });
  };

  return (
    <section className="kt-card" aria-label="Your keys">
      <div className="kt-card-head kt-spread">
        <h3 className="kt-title">
          <KeyRound className="kt-icon text-primary" aria-hidden="true" /> Your keys
        </h3>
        <span className="kt-badge">{keys.length} stored</span>
      </div>
      {keys.length === 0 && <p className="kt-why">No keys yet. I ask for one when a step needs it.</p>}
      {keys.length > 0 && (
        <ul className="kt-rows">
          {keys.map((key) => {
            const id = `${key.provider}:${key.label}`;
            return (
              <li key={id} className="kt-row" data-provider={key.provider}>
                <div className="kt-row-main">
                  <span className="kt-row-title">
                    {key.title}
                    {key.label !== 'default' && <span className="kt-muted"> · {key.label}</span>}
                  </span>
                  <code className="kt-mask">{key.masked}</code>
                  <span className={`kt-badge kt-badge-${key.state}`}>{key.status}</span>
                </div>
                {key.via && <p className="kt-row-detail">{key.via}</p>}
                {key.detail && <p className="kt-row-detail">{key.detail}</p>}
                <div className="kt-actions">
                  {confirm === id ? (
                    <>
                      <span className="kt-muted">
                        {key.connected ? `Disconnect ${key.title}? The token is revoked where ${key.title} allows it.` : 'Remove this key?'}
                      </span>
                      <Button size="sm" variant="destructive" onClick={() => run(key.connected ? 'disconnect' : 'remove', key)}>
                        {key.connected ? 'Disconnect' : 'Remove'}
                      </Button>
                      <Button size="sm" variant="outline" onClick={() => setConfirm(null)}>
                        Keep
                      </Button>
                    </>
                  ) : (
                    <>
                      {key.needs_reconnect && (
                        <Button size="sm" disabled={!!busy} onClick={() => run('connect', key)}>
                          <PlugZap className="kt-icon-sm" aria-hidden="true" />
                          Reconnect
                        </Button>
                      )}
                      <Button size="sm" variant="outline" disabled={!!busy} onClick={() => run('revalidate', key)}>
                        <RefreshCw className={`kt-icon-sm ${busy === `revalidate:${id}` ? 'animate-spin' : ''}`} aria-hidden="true" />
                        Re-validate
                      </Button>
                      {key.connected && !key.needs_reconnect && key.can_connect && (
                        <Button size="sm" variant="outline" disabled={!!busy} onClick={() => run('connect', key)}>
                          <PlugZap className="kt-icon-sm" aria-hidden="true" />
                          Reconnect
                        </Button>
                      )}
                      {!key.connected && (
                        <Button size="sm" variant="outline" disabled={!!busy} onClick={() => run('replace', key)}>
                          <Replace className="kt-icon-sm" aria-hidden="true" />
                          Replace
                        </Button>
                      )}
                      <Button size="sm" variant="ghost" disabled={!!busy} onClick={() => setConfirm(id)}>
                        {key.connected ? <Unplug className="kt-icon-sm" aria-hidden="true" /> : <Trash2 className="kt-icon-sm" aria-hidden="true" />}
                        {key.connected ? 'Disconnect' : 'Remove'}
                      </Button>
                    </>
                  )}
                </div>
              </li>
            );
          })}
        </ul>
      )}
      {connectable.length > 0 && (
        <div className="kt-actions">
          <span className="kt-muted">Connect:</span>
          {connectable.map((item) => (
            <Button
              key={item.provider}
              size="sm"
              disabled={!!busy}
              onClick={() => run('connect', { provider: item.provider, label: 'default' })}
            >
              <PlugZap className="kt-icon-sm" aria-hidden="true" />
              {item.title}
            </Button>
          ))}
        </div>
      )}
      {missing.length > 0 && (
        <div className="kt-actions">
          <span className="kt-muted">{connectable.length > 0 ? 'Or paste a key:' : 'Add:'}</span>
          {missing.map((item) => (
            <Button
              key={item.provider}
              size="sm"
              variant="outline"
              disabled={!!busy}
              onClick={() => run('add', { provider: item.provider, label: 'default' })}
            >
              <Plus className="kt-icon-sm" aria-hidden="true" />
              {item.title}
            </Button>
          ))}
        </div>
      )}
      {props.message && (
        <p className="kt-hint" role="status">
          {props.message}
        </p>
      )}
    </section>
  );
}
