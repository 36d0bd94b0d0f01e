"""Step Functions' execution history quota, which moto does not enforce.

"Maximum execution history size: 25,000 events in a single state machine execution
history. If the execution history reaches this quota, the execution will fail." (Step
Functions Developer Guide, "Step Functions service quotas"). Here an execution whose history
reaches ``stepfunctions.history_limit`` events (the world's config, default 25,000, which
world.emulator.redrive reads too) fails once the state it is in returns: AWS names no error
for it, the world says ``States.Runtime`` (Step Functions' error of an execution that cannot
go on), with a cause that names the quota. Such an execution is not redrivable either
(world.emulator.redrive: "Execution history event limit exceeded.").

Event log: ``stepfunctions.execution.history_limit`` (execution_arn, events).
"""

from __future__ import annotations

import threading
from typing import Any

from moto.stepfunctions.parser.api import ExecutionFailedEventDetails
from moto.stepfunctions.parser.asl.eval import environment as env_mod
from moto.stepfunctions.parser.asl.eval.event import event_manager as em
from world.emulator import core

DEFAULT_HISTORY_LIMIT = 25_000


def history_limit() -> int:
    return int((core.CONFIG.get("stepfunctions") or {}).get("history_limit", DEFAULT_HISTORY_LIMIT))


_orig_env_init = env_mod.Environment.__init__
_orig_add_event = em.EventManager.add_event


def _env_init(self: Any, *args: Any, **kwargs: Any) -> None:
    _orig_env_init(self, *args, **kwargs)
    # the execution's own event manager knows its execution (a frame's is replaced by its parent's)
    self.event_manager._world_env = self


def _add_event(self: Any, *args: Any, **kwargs: Any) -> int:
    event_id: int = _orig_add_event(self, *args, **kwargs)
    env = getattr(self, "_world_env", None)
    if env is not None and event_id >= history_limit() and not getattr(self, "_world_over", False):
        self._world_over = True
        execution = env.states.context_object.context_object_data.get("Execution") or {}
        core.record("stepfunctions.execution.history_limit", execution_arn=execution.get("Id"), events=event_id)
        details = ExecutionFailedEventDetails(
            error="States.Runtime",
            cause=f"The execution history reached the quota of {history_limit()} events.",
        )
        # not under the event manager's lock, which the program's own state changes take
        threading.Thread(target=env.set_error, args=(details,), daemon=True, name="history-limit").start()
    return event_id


def install() -> None:
    env_mod.Environment.__init__ = _env_init
    em.EventManager.add_event = _add_event
