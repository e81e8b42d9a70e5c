"""Load: 100 chat sessions over two KripTik instances on PostgreSQL, one killed halfway.

    eval "$(scripts/start-postgres.sh)"   # or let the benchmark run it
    uv run python -m benchmarks.load [--sessions 100] [--messages 6] [--deployments 10]

One run, all on loopback: a fresh database on the throwaway PostgreSQL server, the
providers' fakes and the simulated LLM in a process of their own (`benchmarks._load_fakes`),
and two real `kriptik serve` processes on that database ("A" and "B") with one master key
and one login secret, heartbeats every second and a dead instance presumed after 20 s.

Each session is its own user (the users are made in the database first; the deploying
ones get RunPod and Hugging Face keys), logs in with a password on its instance (half on
A, half on B) and chats over socket.io as the browser does (`benchmarks._client`): every
turn is timed from the send to the end of its own run. The login limit per address is
raised (every session comes from 127.0.0.1, and the limit is shared by the instances now);
the per-user caps hold as they are (one deployment per user). `--deployments` sessions ask
for the model as an API and approve the card; RunPod's fake keeps their workers starting
until the kill, so every deployment is in flight then.

Halfway (half the chat turns done, every deployment waiting for its workers) A is
SIGKILLed. Its sessions notice, log in to B and reopen their thread (Chainlit's resume
through our data layer); the resumed thread must hold their earlier messages. RunPod's
workers are released; B claims A once A has been silent past the timeout and runs A's
deployment workflows to the end. Then every deployment must be ready, with one template
and one endpoint at RunPod, and every deploying session must see it ready on B (its
Progress panel, and /deployments).

Exit status 1 if a deployment was lost or duplicated, a reconnect did not see its
conversation, or a turn failed other than those in flight on A at the kill.
"""

from __future__ import annotations

import argparse
import asyncio
import sys
import tempfile
import time
from collections import Counter
from datetime import UTC, datetime
from pathlib import Path

from benchmarks import _load_report as report
from benchmarks._load_cluster import (
    Fakes,
    Instance,
    add_users,
    deployments,
    executors,
    fresh_database,
    instance_row,
    new_key,
    open_vault,
    postgres_admin_url,
    start_instance,
)
from benchmarks._load_sessions import Player, Timeline
from benchmarks._measure import cpu_note
from vault import Vault
from vault.deployments import DeploymentStore
from vault.instances import InstanceStore

# Shorter than the defaults (15 s, 90 s) so the takeover shows within the run; the timeout
# stays well above the longest silence of a live, busy instance's heartbeat (printed with
# the takeover: about 2 s on 2 cores with 50 sessions an instance, since the heartbeat has
# a connection of its own; up to 16 s before), so that neither presumes the other dead.
HEARTBEAT_S, TIMEOUT_S = 1.0, 20.0
HALFWAY_WITHIN_S = 600.0
TAKEOVER_WITHIN_S = 600.0


def _env(fakes: Fakes, database_url: str) -> dict[str, str]:
    return fakes.env | {
        "KRIPTIK_DATABASE_URL": database_url,
        "KRIPTIK_MASTER_KEY": new_key(),
        "KRIPTIK_AUTH_SECRET": new_key(),
        "KRIPTIK_HEARTBEAT_INTERVAL_S": str(HEARTBEAT_S),
        "KRIPTIK_INSTANCE_TIMEOUT_S": str(TIMEOUT_S),
        # Every session logs in from 127.0.0.1: the per-address window (shared by the
        # instances through the database) would refuse most of them at its default of 20.
        "KRIPTIK_LOGIN_ATTEMPTS_PER_ADDRESS": "100000",
        "HF_HUB_OFFLINE": "0",
    }


async def _watch_takeover(
    vault: Vault, dead: str, victims: list[str], killed_at: float
) -> report.Takeover:
    """Poll the database until the survivor has claimed `dead`, runs its workflows, and
    they are all ready (or the time is up)."""
    taken = report.Takeover(workflows=len(victims))
    store = DeploymentStore(vault.sessions)
    deadline = killed_at + TAKEOVER_WITHIN_S
    while time.perf_counter() < deadline:
        now = time.perf_counter() - killed_at
        row = await instance_row(vault, dead)
        if taken.claimed_s is None and row is not None and row.claimed_by:
            taken.claimed_s = now
        flows = await executors(vault, victims)
        if taken.moved_s is None and all(ex != dead for _, ex in flows.values()):
            taken.moved_s = now
        states = [(await store.get(v, user_id=None)).state for v in victims]
        if taken.ready_s is None and all(s == "ready" for s in states):
            taken.ready_s = now
        if None not in (taken.claimed_s, taken.moved_s, taken.ready_s):
            break
        await asyncio.sleep(0.1)  # a benchmark's poll of the database's own state
    return taken


class Heartbeats:
    """The longest silence of each live instance's heartbeat, seen from the database while
    the sessions run, before and after the kill: the margin against presuming a busy
    instance dead is the timeout minus it."""

    def __init__(self) -> None:
        self.gaps: dict[tuple[str, str], float] = {}  # (instance id, "before"/"after") -> s
        self.dead: set[str] = set()  # killed: no longer watched
        self.when = "before"
        self.done = asyncio.Event()

    async def watch(self, vault: Vault) -> None:
        while not self.done.is_set():
            now = datetime.now(UTC)
            for row in await InstanceStore(vault.sessions).list():
                if row.instance_id not in self.dead:
                    key = (row.instance_id, self.when)
                    gap = (now - row.last_seen).total_seconds()
                    self.gaps[key] = max(self.gaps.get(key, 0.0), gap)
            await asyncio.sleep(0.25)  # a sample of the database's state

    def of(self, instance: Instance) -> tuple[float | None, float | None]:
        key = instance.instance_id
        return self.gaps.get((key, "before")), self.gaps.get((key, "after"))


async def _audit(
    vault: Vault, fakes: Fakes, user_ids: dict[str, str], players: list[Player]
) -> tuple[report.Deployments, list[str]]:
    """Every deployment's record against what RunPod holds: one template and one endpoint
    per deployment id, created once each, and every record ready."""
    views = await deployments(vault, list(user_ids.values()))
    held = await fakes.report()
    d = report.Deployments(
        started=len(views), ready=sum(v.state == "ready" for v in views),
        templates=len(held["templates"]), endpoints=len(held["endpoints"]),
    )  # fmt: skip
    per_user = Counter(v.user_id for v in views)
    for player in players:
        count = per_user[user_ids[player.user]]
        if player.followed is not None and count == 0:
            d.lost.append(f"{player.user} approved a deployment and has no record of it")
        if count > 1:
            d.duplicated.append(f"{player.user} has {count} deployments")
    for v in views:
        if v.state != "ready":
            d.lost.append(f"{v.id} ended {v.state}: {v.message or ''}".strip())
        for kind in ("template", "endpoint"):
            made = sum(v.id in str(name) for name in held[f"{kind}_posts"])
            there = sum(v.id in str(name) for name in held[f"{kind}s"])
            if made > 1 or there > 1:
                d.duplicated.append(f"{v.id}: {kind} created {made} times, {there} at RunPod")
            elif there == 0:
                d.lost.append(f"{v.id}: no {kind} at RunPod")
    ids = [v.id for v in views]
    for name in [*held["templates"], *held["endpoints"]]:
        if not any(i in str(name) for i in ids):
            d.duplicated.append(f"{name} at RunPod belongs to no deployment")
    return d, list(held["problems"])


async def _drive(
    vault: Vault, fakes: Fakes, a: Instance, b: Instance, users: dict[str, str],
    deployers: set[str], messages: int,
) -> report.Run:  # fmt: skip
    rss: dict[str, dict[str, float | None]] = {
        a.name: {"before": a.rss_mib()},
        b.name: {"before": b.rss_mib()},
    }
    chatters = len(users) - len(deployers)
    timeline = Timeline(half=chatters * messages // 2, chatters=chatters, deployers=len(deployers))
    gate = asyncio.Semaphore(10)  # connect ten at a time: a connection storm is not the point
    players = [Player(name, a if i % 2 == 0 else b, b, a.name, name in deployers, messages,
                      timeline, gate) for i, name in enumerate(users)]  # fmt: skip
    beats = Heartbeats()
    beating = asyncio.create_task(beats.watch(vault))
    started_at = time.perf_counter()
    tasks = [asyncio.create_task(p.run()) for p in players]
    try:
        await asyncio.wait_for(timeline.halfway(), HALFWAY_WITHIN_S)
    except TimeoutError:
        print(f"!!! the halfway mark was not reached in {HALFWAY_WITHIN_S:g} s: killing A now")
    deployer_ids = [users[n] for n in deployers]
    flows = await executors(vault, [v.id for v in await deployments(vault, deployer_ids)])
    victims = [
        w for w, (status, ex) in flows.items() if ex == a.instance_id and status == "PENDING"
    ]
    rss[a.name]["at kill"], rss[b.name]["at kill"] = a.rss_mib(), b.rss_mib()
    timeline.killed_at = killed_at = time.perf_counter()
    chat_done = timeline.chat_done
    beats.dead.add(a.instance_id)
    beats.when = "after"
    await a.kill()
    timeline.killed.set()
    await fakes.release()
    watch = asyncio.create_task(_watch_takeover(vault, a.instance_id, victims, killed_at))
    await asyncio.gather(*tasks)
    beats.done.set()
    await beating
    takeover = await watch
    rss[a.name]["at end"], rss[b.name]["at end"] = None, b.rss_mib()
    audited, problems = await _audit(vault, fakes, users, players)
    audited.on_instance = Counter(
        a.name if ex == a.instance_id else b.name for _, ex in flows.values()
    )
    note = f"heartbeat every {HEARTBEAT_S:g} s, presumed dead after {TIMEOUT_S:g} s"
    return report.Run(
        players, a.name, killed_at, rss, takeover, audited, note, problems,
        presumed_dead=sum(i.log_lines("was presumed dead") for i in (a, b)),
        started_at=started_at, chat_done_at_kill=chat_done,
        heartbeat_gaps={i.name: beats.of(i) for i in (a, b)},
    )  # fmt: skip


async def run(sessions: int, messages: int, deploying: int, root: Path) -> report.Run:
    admin = postgres_admin_url()
    (root / "fakes").mkdir(parents=True, exist_ok=True)
    async with fresh_database(admin) as database, Fakes.running(root / "fakes") as fakes:
        env = _env(fakes, database)
        vault = await open_vault(database, env["KRIPTIK_MASTER_KEY"], root / "bench")
        try:
            names = [f"load-{i:03d}" for i in range(sessions)]
            deployers = set(names[:deploying])  # alternate instances: half on each
            users = await add_users(vault, names, deployers)
            a = await start_instance("A", root / "a", env | {"KRIPTIK_INSTANCE_ID": "web-a"})
            try:
                b = await start_instance("B", root / "b", env | {"KRIPTIK_INSTANCE_ID": "web-b"})
                try:
                    return await _drive(vault, fakes, a, b, users, deployers, messages)
                finally:
                    await b.stop()
            finally:
                await a.stop()
        finally:
            await vault.close()


def print_run(run: report.Run, sessions: int, messages: int) -> list[str]:
    """Print the tables; the reasons the run failed (none: it passed)."""
    print(f"Load: {sessions} sessions over two instances on PostgreSQL, instance "
          f"{run.victim} SIGKILLed halfway ({cpu_note()})\n")  # fmt: skip
    print(f"Chat turn latency, from the send to the end of the turn ({messages} messages "
          "a session; turns that ended with a reply are timed)\n")  # fmt: skip
    print(report.latency_table(run))
    print()
    for line in report.summary(run):
        print(line)
    print()
    print(report.memory_table(run))
    print()
    for line in [*report.takeover_lines(run), *report.reconnects(run),
                 *report.deployment_lines(run)]:  # fmt: skip
        print(line)
    if run.presumed_dead:
        print(f"!!! {run.presumed_dead} log lines: an instance was presumed dead while alive")
    for problem in run.contract_problems:
        print(f"!!! {problem}")
    why = report.verdict(run)
    print("\nverdict: " + ("PASSED" if not why else "FAILED: " + "; ".join(why)))
    return why


async def main(
    sessions: int = 100, messages: int = 6, deploying: int = 10, keep: Path | None = None
) -> int:
    """Run the load test and print it; the number of reasons it failed (0: passed).
    `keep`: a folder for the run's files (the instances' logs), kept afterwards."""
    if keep is not None:
        result = await run(sessions, messages, deploying, keep)
    else:
        with tempfile.TemporaryDirectory(prefix="kriptik-load-") as tmp:
            result = await run(sessions, messages, deploying, Path(tmp))
    why = print_run(result, sessions, messages)
    if why:
        print(f"load benchmark: {'; '.join(why)}", file=sys.stderr)
    return len(why)


if __name__ == "__main__":
    parser = argparse.ArgumentParser(description=(__doc__ or "").splitlines()[0])
    parser.add_argument("--sessions", type=int, default=100)
    parser.add_argument("--messages", type=int, default=6, help="chat messages a session")
    parser.add_argument("--deployments", type=int, default=10, help="sessions that deploy")
    parser.add_argument("--keep", type=Path, help="keep the instances' logs in this folder")
    args = parser.parse_args()
    if args.keep is not None:
        args.keep.mkdir(parents=True, exist_ok=True)
    failed = asyncio.run(main(args.sessions, args.messages, args.deployments, args.keep))
    raise SystemExit(1 if failed else 0)
