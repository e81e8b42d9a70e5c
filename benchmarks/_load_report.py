"""The load test's tables and verdict: turn latency per instance before and after the
kill, the turns that failed (apart from those lost with the killed instance), memory, the
takeover, the reconnects and the deployments."""

from __future__ import annotations

import statistics
from collections import Counter
from dataclasses import dataclass, field

from benchmarks._load_sessions import Move, Player, Turn
from benchmarks._measure import percentile, table


@dataclass
class Takeover:
    """Seconds from the SIGKILL until the survivor had claimed the dead instance, was
    running all of its workflows, and until all were ready."""

    claimed_s: float | None = None
    moved_s: float | None = None
    ready_s: float | None = None
    workflows: int = 0  # the dead instance's deployment workflows at the kill


@dataclass
class Deployments:
    started: int = 0  # deployment records
    ready: int = 0
    lost: list[str] = field(default_factory=list[str])  # why, one line each
    duplicated: list[str] = field(default_factory=list[str])
    on_instance: Counter[str] = field(default_factory=Counter[str])  # executor at the kill
    templates: int = 0
    endpoints: int = 0


@dataclass
class Run:
    players: list[Player]
    victim: str
    killed_at: float
    rss: dict[str, dict[str, float | None]]
    takeover: Takeover
    deployments: Deployments
    settings_note: str
    contract_problems: list[str] = field(default_factory=list[str])
    presumed_dead: int = 0  # log lines of an instance presumed dead while alive
    started_at: float = 0.0  # perf_counter when the sessions began
    chat_done_at_kill: int = 0
    # instance -> its heartbeat's longest silence before and after the kill
    heartbeat_gaps: dict[str, tuple[float | None, float | None]] = field(
        default_factory=dict[str, tuple[float | None, float | None]]
    )

    @property
    def turns(self) -> list[Turn]:
        return [t for p in self.players for t in p.turns]

    @property
    def moves(self) -> list[Move]:
        return [m for p in self.players for m in p.moves]

    def lost_at_kill(self) -> list[Turn]:
        return [t for t in self.turns if t.lost and t.instance == self.victim]

    def failed(self) -> list[Turn]:
        return [t for t in self.turns if t.problem and not (t.lost and t.instance == self.victim)]


def _ms(values: list[float], p: float) -> str:
    return f"{percentile(values, p) * 1000:.0f}" if values else "-"


def latency_table(run: Run) -> str:
    rows: list[list[str]] = []
    chat = [t for t in run.turns if t.kind == "chat"]
    for name in sorted({t.instance for t in run.turns}):
        for when, before in (("before the kill", True), ("after the kill", False)):
            mine = [t for t in chat if t.instance == name and (t.ended < run.killed_at) == before]
            if not mine:
                continue
            good = [t.seconds for t in mine if t.problem is None]
            lost = sum(1 for t in mine if t.lost and name == run.victim)
            rows.append([name, when, str(len(mine)), str(len(good)), _ms(good, 50),
                         _ms(good, 95), str(len(mine) - len(good) - lost), str(lost)])  # fmt: skip
    head = ["instance", "turn ended", "sent", "replied", "p50 ms", "p95 ms", "failed", "lost"]
    return table(rows, head)


def _mib(value: float | None) -> str:
    return f"{value:.0f}" if value is not None else "(killed)"


def memory_table(run: Run) -> str:
    rows = [[name, *(_mib(v.get(k)) for k in ("before", "at kill", "at end"))]
            for name, v in sorted(run.rss.items())]  # fmt: skip
    return table(rows, ["instance", "RSS MiB before", "at the kill", "at the end"])


def _s(value: float | None) -> str:
    return f"{value:.1f} s" if value is not None else "never"


def _reasons(turns: list[Turn], limit: int = 8) -> list[str]:
    counted = Counter(f"{t.kind} on {t.instance}: {t.problem}" for t in turns)
    return [f"    {n} x {reason}" for reason, n in counted.most_common(limit)]


def summary(run: Run) -> list[str]:
    turns, lost, failed = run.turns, run.lost_at_kill(), run.failed()
    deploy = [t for t in turns if t.kind == "deploy"]
    ended = max((t.ended for t in turns), default=run.killed_at)
    lines = [
        f"{run.victim} was killed {run.killed_at - run.started_at:.0f} s after the sessions "
        f"began, with {run.chat_done_at_kill} chat turns done; the last turn ended "
        f"{ended - run.killed_at:.0f} s after the kill",
        f"turns sent: {len(turns)} ({sum(t.kind == 'chat' for t in turns)} chat, "
        f"{len(deploy)} deploy, {sum(t.kind == 'command' for t in turns)} /deployments)",
        f"lost with instance {run.victim} mid-flight (expected): {len(lost)} "
        f"({sum(t.kind == 'deploy' for t in lost)} of them deploy turns)",
        f"failed otherwise: {len(failed)}",
        *_reasons(failed),
    ]
    done = [t.seconds for t in deploy if t.problem is None]
    if done:
        median = statistics.median(done)
        lines.append(f"deploy turns that ended with a reply: {len(done)}, median {median:.1f} s "
                     "(each lasts until its endpoint is ready)")  # fmt: skip
    stopped = [p for p in run.players if p.problem]
    lines += [f"sessions stopped early: {len(stopped)}"]
    lines += [f"    {p.user}: {p.problem}" for p in stopped[:8]]
    return lines


def reconnects(run: Run) -> list[str]:
    moves = run.moves
    good = [m for m in moves if m.resumed and not m.missing]
    lines = [
        f"sessions moved to the survivor: {len(moves)}; logged in, resumed their thread and "
        f"saw every earlier message: {len(good)}",
    ]
    if moves:
        times = [m.seconds for m in moves]
        lines.append(f"    log in + resume: median {statistics.median(times) * 1000:.0f} ms, "
                     f"p95 {_ms(times, 95)} ms")  # fmt: skip
    for m in [m for m in moves if m not in good][:8]:
        lines.append(f"    {m.user}: {m.problem or 'resumed'}; missing {list(m.missing)}")
    return lines


def takeover_lines(run: Run) -> list[str]:
    t = run.takeover
    gaps = "; ".join(
        f"{name} {_s(before)} before the kill" + (f", {_s(after)} after" if after else "")
        for name, (before, after) in sorted(run.heartbeat_gaps.items())
    )
    return [
        f"longest heartbeat silence of a live instance, as the database saw it: {gaps}",
        f"takeover of {run.victim}'s {t.workflows} deployment workflows ({run.settings_note}):",
        f"    {run.victim} claimed {_s(t.claimed_s)}, its workflows all running on the survivor "
        f"{_s(t.moved_s)}, all ready {_s(t.ready_s)} after the SIGKILL",
    ]


def deployment_lines(run: Run) -> list[str]:
    d = run.deployments
    where = ", ".join(f"{n} on {k}" for k, n in sorted(d.on_instance.items()))
    followers = [p.followed for p in run.players if p.followed and p.followed.home == run.victim]
    lines = [
        f"deployments started {d.started} ({where} at the kill), ready {d.ready}, "
        f"lost {len(d.lost)}, duplicated {len(d.duplicated)}; RunPod holds {d.templates} "
        f"templates and {d.endpoints} endpoints",
        *(f"    lost: {why}" for why in d.lost),
        *(f"    duplicated: {why}" for why in d.duplicated),
    ]
    if followers:
        saw = sum(1 for f in followers if f.panel_done)
        listed = sum(1 for f in followers if f.listed_ready)
        lines.append(f"deploying sessions of {run.victim}: on the survivor, the Progress panel "
                     f"reached done for {saw}/{len(followers)}, /deployments listed it ready "
                     f"for {listed}/{len(followers)}")  # fmt: skip
        knew = sum(1 for f in followers if "don't see a deployment" not in f.status_reply)
        lines.append(f"    asked for the status, the assistant knew of the deployment for "
                     f"{knew}/{len(followers)} (the turn that made it died with "
                     f"{run.victim})")  # fmt: skip
    lines += [f"    {f.user}: {f.problem}" for f in followers if f.problem]
    return lines


def verdict(run: Run) -> list[str]:
    """Why the run failed; empty when it passed."""
    why: list[str] = []
    d = run.deployments
    if d.lost:
        why.append(f"{len(d.lost)} deployments lost")
    if d.duplicated:
        why.append(f"{len(d.duplicated)} deployments duplicated")
    if bad := [m for m in run.moves if not m.resumed or m.missing]:
        why.append(f"{len(bad)} reconnects did not see their conversation")
    if failed := run.failed():
        why.append(f"{len(failed)} turns failed besides those in flight at the kill")
    if stopped := [p for p in run.players if p.problem]:
        why.append(f"{len(stopped)} sessions stopped early")
    followers = [p.followed for p in run.players if p.followed]
    if unseen := [f for f in followers if not (f.panel_done and f.listed_ready)]:
        why.append(f"{len(unseen)} deploying sessions did not see their deployment ready")
    if run.contract_problems:
        why.append("a fake saw requests outside the providers' published APIs")
    return why
