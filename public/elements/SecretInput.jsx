import { useEffect, useRef, useState } from 'react';
import { Button } from '@/components/ui/button';
import { Input } from '@/components/ui/input';
import { Label } from '@/components/ui/label';
import { CircleAlert, ExternalLink, KeyRound, PlugZap, ShieldCheck, SquareCheck } from 'lucide-react';

// Secure key entry. The key lives only in this component's state until "Save securely";
// it then travels in the reply to the server's question (submitElement) and nowhere else.
// Props never hold it, so nothing that is stored or re-rendered can carry it.
// Where the provider can be connected instead (props.connect), "Connect <provider>" sits
// beside the paste steps: it answers the question with { connect: true } and no value, and
// the chat runs the OAuth flow in a card of its own (ConnectFlow).
// AWS (props.aws_role): the role comes first: the user's external id and the CloudFormation
// template that requires it (downloaded from here: nothing secret is in it), then the field
// takes the stack's RoleArn output, or an access key pair.
export default function SecretInput() {
  const [value, setValue] = useState('');
  const [busy, setBusy] = useState(null);
  const field = useRef(null);
  const id = `kt-secret-${props.provider || 'key'}-${props.attempt || 1}`;
  const scopes = props.scopes || [];
  const provider = props.provider_title || 'provider';

  useEffect(() => {
    field.current?.focus();
  }, []);

  const submit = (event) => {
    event.preventDefault();
    const secret = value.trim();
    if (!secret || busy) return;
    setBusy('save');
    setValue('');
    submitElement({ value: secret });
  };

  const connectOption = props.connect;
  const connect = () => {
    if (busy) return;
    setBusy('connect');
    setValue('');
    submitElement({ connect: true });
  };

  const cancel = () => {
    setValue('');
    setBusy('cancel');
    cancelElement();
  };

  const role = props.aws_role;
  const download = () => {
    const blob = new Blob([role.template], { type: 'application/json' });
    const url = URL.createObjectURL(blob);
    const a = document.createElement('a');
    a.href = url;
    a.download = role.filename;
    a.click();
    URL.revokeObjectURL(url);
  };

  const link = (href, text) => (
    <a className="kt-link" href={href} target="_blank" rel="noopener noreferrer">
      {text}
      <ExternalLink className="kt-icon-sm" aria-hidden="true" />
    </a>
  );

  return (
    <form
      className="kt-card"
      onSubmit={submit}
      autoComplete="off"
      aria-labelledby={`${id}-title`}
      aria-describedby={props.why ? `${id}-why` : undefined}
    >
      <div className="kt-card-head">
        <KeyRound className="kt-icon text-primary" aria-hidden="true" />
        <h3 id={`${id}-title`} className="kt-title">
          {props.title || `Add your ${provider} key`}
        </h3>
      </div>
      {props.why && (
        <p id={`${id}-why`} className="kt-why">
          {props.why}
        </p>
      )}
      {connectOption && connectOption.available && (
        <div className="kt-connect">
          <div className="kt-actions">
            <Button type="button" onClick={connect} disabled={!!busy}>
              <PlugZap className="kt-icon-sm" aria-hidden="true" />
              {busy === 'connect' ? 'Connecting…' : `Connect ${provider}`}
            </Button>
            <span className="kt-muted">or paste a key below</span>
          </div>
          <p className="kt-muted">
            You approve KripTik AI on {provider} ({connectOption.method_label}); there is no token to create or
            paste.{(connectOption.scopes || []).length > 0 && ' It asks for:'}
          </p>
          {(connectOption.scopes || []).length > 0 && (
            <ul className="kt-scope-list" aria-label="Permissions Connect asks for">
              {connectOption.scopes.map((scope) => (
                <li key={scope.name}>
                  <code>{scope.name}</code>
                  {scope.meaning && <span className="kt-muted"> {scope.meaning}</span>}
                </li>
              ))}
            </ul>
          )}
        </div>
      )}
      {connectOption && !connectOption.available && connectOption.how_to_enable && (
        <p className="kt-muted">
          Connect {provider} is off on this server. For its operator: {connectOption.how_to_enable}
        </p>
      )}
      {role && (
        <div className="kt-connect" aria-label="Recommended: a role KripTik assumes">
          <p>
            <strong>Recommended: a role.</strong> KripTik assumes it for each piece of work with short-lived
            credentials, and only with your external id <code>{role.external_id}</code>.
          </p>
          <ol className="kt-steps">
            <li>
              <Button type="button" variant="outline" onClick={download}>
                Download the CloudFormation template
              </Button>{' '}
              <span className="kt-muted">({role.filename}: role {role.role_name}, least privilege)</span>
            </li>
            <li>
              {link(role.console_url, 'Create a stack with it')}
              <span className="kt-step-note">Tick "I acknowledge that AWS CloudFormation might create IAM resources with custom names".</span>
            </li>
            <li>Paste the stack's RoleArn output below and press Enter.</li>
          </ol>
          <p className="kt-muted">
            Or, second best: an access key pair
            {props.keys_url && <span> from {link(props.keys_url, `your ${provider} key page`)}</span>}, pasted below as
            ACCESS_KEY_ID SECRET_ACCESS_KEY.
          </p>
          {props.signup_url && (
            <p className="kt-muted">No {provider} account yet? {link(props.signup_url, 'Sign up')}</p>
          )}
        </div>
      )}
      {/* With a role, its own steps above are the whole guide: the generic ones would repeat them. */}
      {!role && (
      <ol className="kt-steps">
        {props.signup_url && <li>No {provider} account yet? {link(props.signup_url, 'Sign up')}</li>}
        {props.keys_url && (
          <li>
            {link(props.keys_url, `Open your ${provider} key page`)}
            {props.instructions && <span className="kt-step-note">{props.instructions}</span>}
            {scopes.length > 0 && (
              <ul className="kt-scopes" aria-label="Permissions to tick">
                {scopes.map((scope) => (
                  <li key={scope}>
                    <SquareCheck className="kt-icon-sm text-primary" aria-hidden="true" />
                    <code>{scope}</code>
                  </li>
                ))}
              </ul>
            )}
          </li>
        )}
        <li>Paste the key below and press Enter.</li>
      </ol>
      )}
      {props.error && (
        <div className="kt-alert" role="alert">
          <CircleAlert className="kt-icon" aria-hidden="true" />
          <span>{props.error}</span>
        </div>
      )}
      <div className="kt-field">
        <Label htmlFor={id}>{props.field_label || `${provider} API key`}</Label>
        <Input
          id={id}
          ref={field}
          type="password"
          name="secret"
          autoComplete="new-password"
          autoCapitalize="off"
          autoCorrect="off"
          spellCheck={false}
          placeholder={props.placeholder || ''}
          value={value}
          disabled={!!busy}
          aria-invalid={props.error ? 'true' : undefined}
          onChange={(event) => setValue(event.target.value)}
        />
      </div>
      <p className="kt-hint">
        <ShieldCheck className="kt-icon-sm" aria-hidden="true" />
        Encrypted on this server and checked with {provider}. The assistant never sees it.
      </p>
      <div className="kt-actions">
        <Button type="submit" disabled={!value.trim() || !!busy}>
          {busy === 'save' ? 'Checking…' : 'Save securely'}
        </Button>
        <Button type="button" variant="outline" onClick={cancel} disabled={!!busy}>
          Cancel
        </Button>
      </div>
    </form>
  );
}
