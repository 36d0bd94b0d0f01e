"""Run the real product end to end in the local AWS world.

    PYTHONPATH=tests .venv/bin/python -m world.run [--scenario FILE] [--no-build]

Builds the Lambdas (``cargo build``, debug, into target/), starts the world
(world.emulator.server, whose Lambda invocations run those binaries, see
world.emulator.lambdas), builds the scenario's cluster (tests/scenarios/README.md) and
deploys infra's standalone template (``make template``) on it through the
world's CloudFormation, the scenario's settings as its parameters (world.stack:
the hook, the rules, the functions and their environments, the state machine,
the schedules and the alarms are the stack's), scales in, prints each
execution state by state and the world's events as they happen until the
instances have terminated, runs the task scaler as its schedule does and prints
its decision.

Exit status 0 only if the invariants held, judged from the world's event log
and APIs (never from the Lambdas' logs):

1. no instance terminates while a task on it is RUNNING (or stopping), or
   while it is registered or draining in any Classic ELB or target group
   (a deleted load balancer or target group ends its registrations; a task
   orphaned by a forced deregistration is judged by its registrations); an
   instance released by someone else (deleting the hook) or terminated
   through EC2 before its release is not ours to judge;
2. every lifecycle action is completed exactly once, by CompleteLifecycleAction,
   unless an execution for it visibly FAILED (then its expiry is the
   completion) or the hook was deleted (DeleteLifecycleHook completes it);
   nothing is completed for an event we cannot identify (an execution the
   sweeper started carries no token: it belongs to its instance's action);
3. the service never has fewer RUNNING tasks than its minimum;
4. no execution is left RUNNING, and the scenario's expectations hold;
5. serving capacity (world.capacity): in each load balancer of the service,
   the healthy serving registrations (healthy / InService, not registering,
   not draining) never drop below ceil(minimumHealthyPercent x desired count)
   because of a drain; a scenario may state a lower bound that applies only
   once a drain visibly reached its deadline (``expect.min_serving_after_deadline``);
6. no call of a function is refused by its execution role (world.emulator.iam: the stack's
   own policies, as AWS would enforce them), and none a service makes with a role or to a
   queue the stack gives it (world.emulator.service_roles), but those a ``deny_role``
   action causes on purpose.

An instance released at its drain deadline (its execution took the deadline
path) is not judged by 1. when the scenario expects it (``expect.drain_timed_out``);
what it still ran is reported as a note. The summary prints the fewest healthy
serving registrations per load balancer while the drains ran.

Everything started is stopped on exit, on failure and on Ctrl-C. The same
code is the library of tests/e2e (``World``, ``run_scenario``).
"""

from __future__ import annotations

import argparse
import json
import signal
import subprocess
import sys
import time
from collections.abc import Callable
from typing import Any

from world import run_actions, scenario_actions
from world.deploy import deploy
from world.harness import REGION, REPO, World, build, ecs_sta, running_tasks, wait_for
from world.invariants import check, check_expectations
from world.observe import Observer, Result
from world.run_scale_in import classic_registrations, prepare, scale_in
from world.run_watch import run_scaler, settle_service, watch
from world.scenario import load_scenario


def run_scenario(world: World, source: Any = None, out: Callable[[str], None] = print) -> Result:
    """Deploy, scale in, watch, check. The world must be running (and is reset first)."""
    sc = load_scenario(source)
    result = Result(sc)
    started = time.monotonic()
    world.reset()
    dep = deploy(world, sc, out)
    result.deployment = dep
    desired = sc["service"]["desired"]
    ready = wait_for(
        lambda: (lambda r: r if len(r) >= min(desired, sc["instances"]) else None)(running_tasks(world, dep)),
        30,
        f"{desired} running tasks of {dep.service}",
    )
    out(f"service {dep.service}: {len(ready)} tasks RUNNING")
    prepared = prepare(world, dep, sc, out)
    obs = Observer(world, dep, out, 0)
    obs.poll()  # everything so far (registrations, placements), printed
    result.min_running = int(sc["scaler"]["min_task_count"])
    classic_regs = classic_registrations(world, dep)

    if sc["faults"]:
        world.configure(faults=sc["faults"], seed=sc["seed"])
        out(f"faults on: {json.dumps(sc['faults'])}")
    actions = scenario_actions.start(run_actions.Context(world, dep, sc, result, obs, out))
    for action in actions:
        action.before_scale_in()
    world.control("POST", "/_world/calls/reset", {})
    kinds = {a["type"] for a in sc["actions"]}
    try:
        result.victims = scale_in(world, dep, sc, prepared, out)
        for action in actions:  # Spot warnings, instance refresh: they take instances out themselves
            result.victims = sorted(set(result.victims) | set(action.scale_in() or []))
        watch(world, dep, sc, result, obs, actions)
        for action in actions:
            action.finish()
    finally:
        if (sc["faults"] or "expire_then_redrive" in kinds) and "keep_faults" not in kinds:
            world.configure(faults={})
    # the drains' API calls (those until the first redrive, when a redrive cleared the faults)
    result.calls = result.calls or world.control("GET", "/_world/calls")
    # calls per API per second against the world's rate limits, and the functions' concurrency
    result.limits = world.control("GET", "/_world/limits")
    result.lambdas = {k: v for k, v in world.control("GET", "/_world/lambdas").items() if k != "sandboxes"}
    run_scaler(world, dep, result, out)
    settle_service(world, dep, obs)

    result.events = obs.events
    result.executions = obs.executions
    check(result, classic_regs)
    check_expectations(result)
    result.wall_seconds = time.monotonic() - started
    return result


def report(result: Result, out: Callable[[str], None] = print) -> None:
    out("")
    for arn, x in result.executions.items():
        extra = f" redriveCount={x.get('redriveCount')}" if x.get("redriveCount") else ""
        err = f" {x.get('error')}" if x.get("error") else ""
        out(f"execution {arn.rsplit(':', 1)[-1]}: {x['status']}{err}{extra}")
    if result.serving:
        out("fewest healthy serving registrations during the drains: " + ", ".join(str(s) for s in result.serving))
    remain = {e["target_group"] for e in result.events if e["type"] == "elbv2.target.connections_remain"}
    for arn in sorted(remain):
        out(
            f"NLB target group {arn.split('/')[-2]}: connection termination off, connections may outlive the deregistration delay"
        )
    for note in result.notes:
        out(f"note: {note}")
    if result.ok:
        out(f"OK: invariants held ({result.wall_seconds:.1f}s)")
    else:
        out(f"FAILED: {len(result.violations)} invariant(s) broken ({result.wall_seconds:.1f}s)")
        for violation in result.violations:
            out(f"  - {violation}")


def run_doctor(world: World, result: Result, out: Callable[[str], None]) -> bool:
    """`ecs-sta doctor` against the world after the scale-in, printed. Its verdict is judged only when the
    scenario says what to expect (``expect.doctor``: ``"ok"`` or ``"fail"``); false when that did not hold."""
    if result.deployment is None:
        return True
    binary = REPO / "target" / "debug" / "ecs-sta"
    out("")
    if not binary.exists():
        out(f"(ecs-sta doctor not run: {binary} is not built)")
        return True
    proc = ecs_sta(binary, world.exports(), "doctor", *result.deployment.cli_args(), out=out)
    expected = result.scenario.get("expect", {}).get("doctor")
    if expected is None:
        return True
    held = (proc.returncode == 0) == (expected == "ok")
    out(f"doctor: expected {expected}, exit code {proc.returncode}" + ("" if held else ": NOT AS EXPECTED"))
    return held


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="world.run", description=__doc__.splitlines()[0])
    parser.add_argument("--scenario", help="scenario JSON (default tests/scenarios/default.json)")
    parser.add_argument("--no-build", action="store_true", help="use the binaries in target/debug as they are")
    parser.add_argument("--port", type=int, help="the world's port (default: a free one)")
    parser.add_argument(
        "--keep",
        action="store_true",
        help="after the scenario, leave the world running, print the exports that point ecs-sta at "
        "it, and stop everything on Ctrl-C (SIGINT or SIGTERM)",
    )
    args = parser.parse_args(argv)
    out = lambda line: print(line, flush=True)  # noqa: E731
    scenario = load_scenario(args.scenario)
    if not args.no_build:
        build(out)
        subprocess.run(["cargo", "build", "-p", "ecs-sta"], cwd=REPO, check=True)  # for the doctor run
    world = World(args.port)
    signal.signal(signal.SIGTERM, lambda *_: (_ for _ in ()).throw(KeyboardInterrupt()))
    try:
        world.start()
        out(f"world on {world.url} (logs: {world.log_dir})")
        result = run_scenario(world, scenario, out)
        report(result, out)
        doctor_held = run_doctor(world, result, out)
        if args.keep and result.deployment is not None:
            import shlex

            # Block the two stop signals first, so that one arriving after the exports are printed is the one
            # sigwait returns (no handler runs, no sleep loop polls).
            signal.pthread_sigmask(signal.SIG_BLOCK, {signal.SIGINT, signal.SIGTERM})
            exports = {
                "AWS_ENDPOINT_URL": world.url,
                "AWS_DEFAULT_REGION": REGION,
                "AWS_ACCESS_KEY_ID": "testing",
                "AWS_SECRET_ACCESS_KEY": "testing",
                "ECS_STA_STACK": result.deployment.stack.name,
            }
            out("")
            out("The world keeps running. Point ecs-sta at it (in another shell):")
            out("")
            for name, value in exports.items():
                out(f"export {name}={shlex.quote(value)}")
            out("")
            out("then: target/debug/ecs-sta executions; target/debug/ecs-sta show NAME; target/debug/ecs-sta replay")
            out("Ctrl-C stops the world and everything it started.")
            received = signal.sigwait({signal.SIGINT, signal.SIGTERM})
            out(f"{signal.Signals(received).name}: stopping the world")
        return 0 if result.ok and doctor_held else 1
    except KeyboardInterrupt:
        out("interrupted")
        return 130
    except Exception as err:
        out(f"FAILED: {type(err).__name__}: {err} (logs: {world.log_dir})")
        return 1
    finally:
        world.stop()


if __name__ == "__main__":
    sys.exit(main())
