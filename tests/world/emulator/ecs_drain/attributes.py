"""Custom attributes of container instances: PutAttributes and DeleteAttributes.

moto stores attributes but checks nothing, and deletes one only when the request repeats its value.
This follows the ECS API reference:

* ``Attribute``: a name "must contain between 1 and 128 characters" of letters, numbers, hyphens,
  underscores, forward slashes, back slashes or periods; a value "between 1 and 128 characters"
  of those, at signs, colons and spaces, not starting or ending with a space. Otherwise
  InvalidParameterException (its wording is the world's).
* PutAttributes: "You can specify up to 10 custom attributes for each resource. You can specify
  up to 10 attributes in a single call"; a resource that would carry more is refused with
  ``AttributeLimitExceededException`` ("You can apply up to 10 custom attributes for each
  resource"); a target that is not a registered container instance of the cluster with
  ``TargetNotFoundException``. The ``ecs.`` attributes the agent reports are not custom ones.
* DeleteAttributes: "For custom attributes, specify the attribute name and target ID, but don't
  specify the value": the world refuses a request that gives one (InvalidParameterException; AWS
  does not say what it does with one: the harsher reading). It answers "A list of attribute
  objects that were successfully deleted": an attribute the target does not carry is not in it,
  and is no error (AWS does not say). A target not registered: ``TargetNotFoundException``.

Event log: ``ecs.attribute.put`` / ``ecs.attribute.deleted`` (cluster, instance_id, container_instance,
name, value).
"""

from __future__ import annotations

import re
from typing import Any

from moto.core.responses import ActionResult
from moto.ecs.exceptions import ECSException, InvalidParameterException
from world.emulator import core

PER_RESOURCE = 10
PER_CALL = 10
_NAME = re.compile(r"^[A-Za-z0-9_\-/\\.]{1,128}$")
_VALUE = re.compile(r"^[A-Za-z0-9_\-/\\.@: ]{1,128}$")


class TargetNotFoundException(ECSException):
    code = "TargetNotFoundException"


class AttributeLimitExceededException(ECSException):
    code = "AttributeLimitExceededException"


def _custom(name: str) -> bool:
    return not name.startswith("ecs.")


def _targets(backend: Any, cluster: str, attributes: list[dict[str, Any]]) -> list[tuple[dict[str, Any], Any]]:
    """Each attribute with the ACTIVE or DRAINING container instance it names (a full ARN, or an ID
    with ``targetType`` container-instance)."""
    if not attributes:
        raise InvalidParameterException("attributes can not be empty")
    if len(attributes) > PER_CALL:
        raise InvalidParameterException(f"You can specify up to {PER_CALL} attributes in a single call.")
    found = []
    for attribute in attributes:
        name, target = str(attribute.get("name") or ""), str(attribute.get("targetId") or "")
        if not _NAME.match(name):
            raise InvalidParameterException(f"Attribute name {name!r} is not valid.")
        if not target.startswith("arn:") and attribute.get("targetType") != "container-instance":
            raise InvalidParameterException("targetType must be container-instance when targetId is not an ARN.")
        ci = backend.container_instances.get(cluster, {}).get(target.rsplit("/", 1)[-1])
        if ci is None or ci.status == "INACTIVE":
            raise TargetNotFoundException(f"Could not find {target}.")
        found.append((attribute, ci))
    return found


def put_attributes(self: Any) -> ActionResult:
    backend = self.ecs_backend
    cluster = backend._get_cluster(self._get_param("cluster", "default")).name
    attributes = self._get_param("attributes", [])
    targets = _targets(backend, cluster, attributes)
    for attribute, ci in targets:
        value = attribute.get("value")
        if value is not None and (not _VALUE.match(str(value)) or str(value) != str(value).strip(" ")):
            raise InvalidParameterException(f"Attribute value {value!r} is not valid.")
        custom = {n for n in ci.attributes if _custom(n)} | {
            a["name"] for a, c in targets if c is ci and _custom(a["name"])
        }
        if len(custom) > PER_RESOURCE:
            raise AttributeLimitExceededException(
                f"You can apply up to {PER_RESOURCE} custom attributes for each resource."
            )
    for attribute, ci in targets:
        ci.attributes[attribute["name"]] = attribute.get("value")
        core.record(
            "ecs.attribute.put",
            cluster=cluster,
            instance_id=ci.ec2_instance_id,
            container_instance=ci.container_instance_arn,
            name=attribute["name"],
            value=attribute.get("value"),
        )
    return ActionResult({"attributes": attributes})


def delete_attributes(self: Any) -> ActionResult:
    backend = self.ecs_backend
    cluster = backend._get_cluster(self._get_param("cluster", "default")).name
    attributes = self._get_param("attributes", [])
    targets = _targets(backend, cluster, attributes)
    if any(_custom(a["name"]) and a.get("value") is not None for a, _ in targets):
        raise InvalidParameterException(
            "For custom attributes, specify the attribute name and target ID, but don't specify the value."
        )
    deleted = []
    for attribute, ci in targets:
        name = attribute["name"]
        if name in ci.attributes:
            value = ci.attributes.pop(name)
            deleted.append({k: v for k, v in attribute.items() if k != "value"})
            core.record(
                "ecs.attribute.deleted",
                cluster=cluster,
                instance_id=ci.ec2_instance_id,
                container_instance=ci.container_instance_arn,
                name=name,
                value=value,
            )
    return ActionResult({"attributes": deleted})
