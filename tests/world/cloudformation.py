"""CloudFormation stacks that create Step Functions state machines.

On AWS a state machine a stack creates (``AWS::StepFunctions::StateMachine``) is an
ordinary state machine: ListStateMachines shows it, StartExecution runs it, and the
stack's ListStackResources gives its ARN as the physical resource id (CloudFormation
User Guide, "AWS::StepFunctions::StateMachine", Return values: Ref returns the ARN).

moto creates it in its plain Step Functions backend, while its API serves another one
once ``stepfunctions.execute_state_machine`` is on (the world's setting): the state
machine is invisible and cannot run. This module makes CloudFormation create, update
and delete state machines in the backend the API serves.
"""

from __future__ import annotations

import threading
from typing import Any

from moto.stepfunctions import models as sfn_models
from moto.stepfunctions.responses import get_backend


class _ServedBackends:
    """`stepfunctions_backends[account][region]` resolved as the API resolves it."""

    def __getitem__(self, account_id: str) -> Any:
        return _ServedRegions(account_id)


class _ServedRegions:
    def __init__(self, account_id: str):
        self.account_id = account_id

    def __getitem__(self, region_name: str) -> Any:
        return get_backend(self.account_id, region_name)


_SWAP = threading.Lock()


def _in_served_backend(name: str) -> None:
    """Runs moto's own StateMachine.<name> with its backend lookup pointed at the served one."""
    original = getattr(sfn_models.StateMachine, name).__func__

    def patched(cls: type, *args: Any, **kwargs: Any) -> Any:
        # moto's hooks read the module-level `stepfunctions_backends`; it is swapped only
        # for the length of the call (the API's own lookup in responses.py is unaffected).
        with _SWAP:
            plain = sfn_models.stepfunctions_backends
            sfn_models.stepfunctions_backends = _ServedBackends()
            try:
                return original(cls, *args, **kwargs)
            finally:
                sfn_models.stepfunctions_backends = plain

    setattr(sfn_models.StateMachine, name, classmethod(patched))


def install() -> None:
    for name in (
        "create_from_cloudformation_json",
        "update_from_cloudformation_json",
        "delete_from_cloudformation_json",
    ):
        _in_served_backend(name)
