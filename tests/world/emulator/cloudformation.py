"""CloudFormation stacks that create Step Functions state machines.

On AWS a state machine a stack creates (``AWS::StepFunctions::StateMachine``) is an
ordinary state machine: ListStateMachines shows it, StartExecution runs it, and the
stack's ListStackResources gives its ARN as the physical resource id (CloudFormation
User Guide, "AWS::StepFunctions::StateMachine", Return values: Ref returns the ARN).

moto creates it in its plain Step Functions backend, while its API serves another one
once ``stepfunctions.execute_state_machine`` is on (the world's setting): the state
machine is invisible and cannot run. This module makes CloudFormation create, update
and delete state machines in the backend the API serves, with the definition's
``DefinitionSubstitutions`` applied (moto ignores them).
"""

from __future__ import annotations

import json
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

MAX_NAME = 80  # CreateStateMachine: "name ... Length Constraints: Minimum length of 1. Maximum length of 80."


def _shortened(generated: str) -> str:
    """A generated name (``<stack>-<logical id>-<suffix>``) cut to the state machine's limit, its
    unique suffix kept, as CloudFormation shortens the names it generates to the resource's limit."""
    prefix, _, suffix = generated.rpartition("-")
    return f"{prefix[: MAX_NAME - len(suffix) - 1].rstrip('-')}-{suffix}"


def _in_served_backend(name: str) -> None:
    """Runs moto's own StateMachine.<name> with its backend lookup pointed at the served one."""
    original = getattr(sfn_models.StateMachine, name).__func__

    def patched(cls: type, *args: Any, **kwargs: Any) -> Any:
        if name == "create_from_cloudformation_json" and len(args[0]) > MAX_NAME:
            args = (_shortened(args[0]), *args[1:])
        for arg in args:
            if isinstance(arg, dict) and "Properties" in arg:
                substitute(arg["Properties"])
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


def substitute(props: dict[str, Any]) -> None:
    """``DefinitionSubstitutions``, which moto ignores: each ``${key}`` of the definition is
    replaced by the key's value (User Guide, AWS::StepFunctions::StateMachine:
    "DefinitionSubstitutions: A map (string to string) that specifies the mappings for
    placeholder variables in the state machine definition ... ${key_name}"). A
    ``Definition`` object is the definition too ("Definition: The Amazon States Language
    definition of the state machine ... in JSON or YAML")."""
    if "Definition" in props and "DefinitionString" not in props:
        props["DefinitionString"] = json.dumps(props.pop("Definition"))
    subs = props.pop("DefinitionSubstitutions", None) or {}
    text = props.get("DefinitionString")
    if not isinstance(text, str):
        return
    for key, value in subs.items():
        text = text.replace("${" + key + "}", str(value))
    props["DefinitionString"] = text


def install() -> None:
    for name in (
        "create_from_cloudformation_json",
        "update_from_cloudformation_json",
        "delete_from_cloudformation_json",
    ):
        _in_served_backend(name)
