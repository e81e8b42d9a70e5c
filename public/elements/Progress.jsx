import { useEffect, useState } from 'react';
import { Ban, CircleCheck, CircleDashed, CircleX, LoaderCircle } from 'lucide-react';

// Live deployment stages. The server updates the props as stages change; the elapsed
// time of the running stage ticks here, so it stays live between updates and after a
// reload (the last props are stored with the thread).
const ICONS = {
  pending: [CircleDashed, 'kt-stage-pending'],
  running: [LoaderCircle, 'kt-stage-running'],
  done: [CircleCheck, 'kt-stage-done'],
  failed: [CircleX, 'kt-stage-failed'],
  skipped: [Ban, 'kt-stage-skipped'],
};

function seconds(from, to) {
  if (!from) return null;
  const start = Date.parse(from);
  const end = to ? Date.parse(to) : Date.now();
  return Math.max(0, Math.round((end - start) / 1000));
}

function clock(total) {
  if (total === null || Number.isNaN(total)) return '';
  const h = Math.floor(total / 3600);
  const m = Math.floor((total % 3600) / 60);
  const s = total % 60;
  if (h) return `${h}h ${String(m).padStart(2, '0')}m`;
  return m ? `${m}m ${String(s).padStart(2, '0')}s` : `${s}s`;
}

export default function Progress() {
  const stages = props.stages || [];
  const live = props.status === 'running';
  const [, setNow] = useState(Date.now());

  useEffect(() => {
    if (!live) return undefined;
    const timer = setInterval(() => setNow(Date.now()), 1000);
    return () => clearInterval(timer);
  }, [live]);

  const doneCount = stages.filter((s) => s.state === 'done' || s.state === 'skipped').length;
  const label = { running: 'In progress', done: 'Done', failed: 'Failed', cancelled: 'Cancelled' };
  return (
    <section className="kt-card" aria-label={props.title || 'Deployment progress'}>
      <div className="kt-card-head kt-spread">
        <h3 className="kt-title">{props.title || 'Deployment'}</h3>
        <span className={`kt-badge kt-badge-${props.status || 'running'}`}>
          {label[props.status] || props.status}
          {' · '}
          <span className="tabular-nums">{clock(seconds(props.started_at, live ? null : props.finished_at))}</span>
        </span>
      </div>
      <div
        className="kt-meter"
        role="progressbar"
        aria-valuemin={0}
        aria-valuemax={stages.length}
        aria-valuenow={doneCount}
        aria-label={`${doneCount} of ${stages.length} stages finished`}
      >
        <div className="kt-meter-fill" style={{ width: `${stages.length ? (100 * doneCount) / stages.length : 0}%` }} />
      </div>
      <ol className="kt-stages">
        {stages.map((stage) => {
          const [Icon, tone] = ICONS[stage.state] || ICONS.pending;
          const spent = stage.state === 'pending' ? null : seconds(stage.started_at, stage.finished_at);
          return (
            <li key={stage.key} className={`kt-stage ${tone}`} data-state={stage.state} aria-label={`${stage.label}: ${stage.state}`}>
              <Icon className={`kt-icon ${stage.state === 'running' ? 'animate-spin' : ''}`} aria-hidden="true" />
              <div className="kt-stage-text">
                <span className="kt-stage-label">{stage.label}</span>
                {stage.detail && <span className="kt-stage-detail">{stage.detail}</span>}
              </div>
              <span className="kt-stage-time tabular-nums">
                {stage.state === 'skipped' ? 'not needed' : spent === null ? '' : clock(spent)}
              </span>
            </li>
          );
        })}
      </ol>
      {props.message && (
        <p
          className={`kt-progress-message ${props.status === 'failed' ? 'kt-alert' : 'kt-hint'}`}
          role={props.status === 'failed' ? 'alert' : undefined}
        >
          {props.message}
        </p>
      )}
    </section>
  );
}
