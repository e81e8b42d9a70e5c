import { useEffect, useState } from 'react';
import { Button } from '@/components/ui/button';
import { Check, CircleAlert, CircleCheck, Copy, ExternalLink, Loader2, PlugZap } from 'lucide-react';

// Connecting an account, inside the chat. The device flow shows the code to type at the
// provider, a copy button and the verification link; a redirect flow shows a link that
// opens the provider. Both wait live, then say what was connected (or why not). Props hold
// no token, no device code and no OAuth state: the link points at this app's own
// /connect/<provider>/start, which makes the state when the person opens it.
const remaining = (iso) => {
  if (!iso) return null;
  const left = Math.max(0, Math.floor((Date.parse(iso) - Date.now()) / 1000));
  return `${Math.floor(left / 60)}:${String(left % 60).padStart(2, '0')}`;
};

export default function ConnectFlow() {
  const provider = props.provider_title || 'the provider';
  const [copied, setCopied] = useState(false);
  const [left, setLeft] = useState(remaining(props.expires_at));
  const [busy, setBusy] = useState(false);
  // A card still "waiting" past its expiry (a thread reopened later): the flow is over.
  const expired = props.state === 'waiting' && left === '0:00';
  const waiting = props.state === 'waiting' && !expired;
  const state = expired ? 'failed' : props.state;
  const message = expired ? 'This request expired. Press Connect again from the chat.' : props.message;
  const scopes = props.scopes || [];
  const facts = props.facts || [];
  const heading = {
    connected: `${provider} connected`,
    failed: `${provider} not connected`,
  }[state] || `Connect ${provider}`;

  useEffect(() => {
    setBusy(false);
    if (props.state !== 'waiting' || !props.expires_at) return undefined;
    setLeft(remaining(props.expires_at));
    const timer = setInterval(() => setLeft(remaining(props.expires_at)), 1000);
    return () => clearInterval(timer);
  }, [props.version, props.state, props.expires_at]);

  const copy = () => {
    const done = () => setCopied(true);
    if (navigator.clipboard && window.isSecureContext) {
      navigator.clipboard.writeText(props.user_code).then(done, () => setCopied(false));
    } else {
      const node = document.getElementById(`kt-code-${props.flow_id}`);
      const range = document.createRange();
      range.selectNodeContents(node);
      window.getSelection().removeAllRanges();
      window.getSelection().addRange(range);
      if (document.execCommand('copy')) done();
    }
  };

  const cancel = () => {
    setBusy(true);
    callAction({ name: 'kt_connect', payload: { op: 'cancel', flow_id: props.flow_id } });
  };

  const link = (href, text) => (
    <a className="kt-link" href={href} target="_blank" rel="noopener noreferrer">
      {text}
      <ExternalLink className="kt-icon-sm" aria-hidden="true" />
    </a>
  );

  return (
    <section className="kt-card" aria-label={`Connect ${provider}`} data-state={state}>
      <div className="kt-card-head kt-spread">
        <h3 className="kt-title">
          <PlugZap className="kt-icon text-primary" aria-hidden="true" /> {heading}
        </h3>
        {props.method_label && <span className="kt-badge">{props.method_label}</span>}
      </div>
      {waiting && props.kind === 'device' && (
        <ol className="kt-steps">
          <li>
            {link(props.verification_uri, `Open ${props.verification_uri}`)}
            <span className="kt-step-note">Sign in to {provider} there if it asks.</span>
          </li>
          <li>
            Enter this code:
            <div className="kt-code-row">
              <code id={`kt-code-${props.flow_id}`} className="kt-code" aria-label="Your code">
                {props.user_code}
              </code>
              <Button size="sm" variant="outline" onClick={copy} aria-label="Copy the code">
                {copied ? <Check className="kt-icon-sm" aria-hidden="true" /> : <Copy className="kt-icon-sm" aria-hidden="true" />}
                {copied ? 'Copied' : 'Copy'}
              </Button>
            </div>
          </li>
          <li>Approve KripTik AI. This card updates by itself.</li>
        </ol>
      )}
      {waiting && props.kind === 'redirect' && (
        <ol className="kt-steps">
          <li>
            {link(props.open_url, `Open ${provider}`)}
            <span className="kt-step-note">It opens in a new tab; sign in there if it asks.</span>
          </li>
          <li>Approve KripTik AI, then come back to this tab. This card updates by itself.</li>
        </ol>
      )}
      {state === 'connected' && (
        <p className="kt-done" role="status">
          <CircleCheck className="kt-icon" aria-hidden="true" />
          <span>{message}</span>
        </p>
      )}
      {facts.length > 0 && (
        <dl className="kt-facts">
          {facts.map((fact) => (
            <div key={fact.label} className="kt-fact">
              <dt>{fact.label}</dt>
              <dd>{fact.value}</dd>
            </div>
          ))}
        </dl>
      )}
      {state === 'failed' && (
        <div className="kt-alert" role="alert">
          <CircleAlert className="kt-icon" aria-hidden="true" />
          <span>{message}</span>
        </div>
      )}
      {scopes.length > 0 && state !== 'failed' && (
        <div className="kt-field">
          <span className="kt-muted">{state === 'connected' ? 'Granted' : 'Asks for'}:</span>
          <ul className="kt-scope-list" aria-label="Permissions asked">
            {scopes.map((scope) => (
              <li key={scope.name}>
                <code>{scope.name}</code>
                {scope.meaning && <span className="kt-muted"> {scope.meaning}</span>}
              </li>
            ))}
          </ul>
        </div>
      )}
      {waiting && (
        <p className="kt-hint" role="status">
          <Loader2 className="kt-icon-sm animate-spin" aria-hidden="true" />
          Waiting for your approval on {provider}…
          {left && (
            <span className="kt-muted">
              {' '}
              {props.kind === 'device' ? `The code expires in ${left}.` : `This link works for ${left} more.`}
            </span>
          )}
        </p>
      )}
      {waiting && (
        <div className="kt-actions">
          <Button size="sm" variant="ghost" onClick={cancel} disabled={busy}>
            Cancel
          </Button>
        </div>
      )}
      <p className="kt-hint">Tokens stay encrypted on this server; neither this page nor the assistant sees them.</p>
    </section>
  );
}
