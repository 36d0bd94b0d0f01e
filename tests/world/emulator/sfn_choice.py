"""Choice rules on a path that does not resolve, as Step Functions answers them.

moto's ASL interpreter evaluates a Choice rule whose ``Variable`` path does not resolve as false, so
the state goes on to its ``Default``. Step Functions fails the execution instead, with
``States.Runtime`` and the cause "Invalid path '$.status': The choice state's condition path
references an invalid value." (decorated, like every runtime error, with "An error occurred while
executing the state 'X' (entered at the event id #N)."). The Step Functions Developer Guide does not
print that message; it is what users report from AWS, and what AWS's "IsPresent" operator exists to
guard against ("Choice workflow state": `IsPresent` "matches if a field is present"). Only
``IsPresent`` may name a path that does not resolve; ``And`` and ``Or`` evaluate their rules in order
and stop at the first that decides, so an ``IsPresent`` guard before a comparison works as on AWS.
"""

from __future__ import annotations

from typing import Any

from moto.stepfunctions.parser.api import ExecutionFailedEventDetails, HistoryEventType
from moto.stepfunctions.parser.asl.component.common.error_name.failure_event import (
    FailureEvent,
    FailureEventException,
)
from moto.stepfunctions.parser.asl.component.common.error_name.states_error_name import StatesErrorName
from moto.stepfunctions.parser.asl.component.common.error_name.states_error_name_type import StatesErrorNameType
from moto.stepfunctions.parser.asl.component.state.choice.comparison.comparison_operator_type import (
    ComparisonOperatorType,
)
from moto.stepfunctions.parser.asl.component.state.choice.comparison.comparison_variable import ComparisonVariable
from moto.stepfunctions.parser.asl.component.state.choice.comparison.variable import NoSuchVariable
from moto.stepfunctions.parser.asl.eval.event.event_detail import EventDetails


def _eval_body(self: Any, env: Any) -> None:
    self.variable.eval(env)
    if isinstance(env.stack[-1], NoSuchVariable) and self.comparison_function.operator_type != (
        ComparisonOperatorType.IsPresent
    ):
        path = self.variable.string_sampler.literal_value
        runtime = StatesErrorNameType.StatesRuntime
        cause = f"Invalid path '{path}': The choice state's condition path references an invalid value."
        raise FailureEventException(
            failure_event=FailureEvent(
                env=env,
                error_name=StatesErrorName(typ=runtime),
                event_type=HistoryEventType.ExecutionFailed,
                event_details=EventDetails(
                    executionFailedEventDetails=ExecutionFailedEventDetails(error=runtime.to_name(), cause=cause)
                ),
            )
        )
    self.comparison_function.eval(env)


def install() -> None:
    ComparisonVariable._eval_body = _eval_body
