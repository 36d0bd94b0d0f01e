"""Custom attributes of container instances (world.emulator.ecs_drain.attributes)."""

from __future__ import annotations

import aws_setup as aws
import pytest
from botocore.exceptions import ClientError

CLUSTER = "test-cluster"


def _container_instance(world):
    ecs = world.client("ecs")
    ecs.create_cluster(clusterName=CLUSTER)
    aws.asg(world, desired=1, cluster=CLUSTER)
    [arn] = ecs.list_container_instances(cluster=CLUSTER)["containerInstanceArns"]
    return ecs, arn


def _attributes(ecs, arn):
    [ci] = ecs.describe_container_instances(cluster=CLUSTER, containerInstances=[arn])["containerInstances"]
    return {a["name"]: a.get("value") for a in ci["attributes"] if not a["name"].startswith("ecs.")}


def _code(call):
    with pytest.raises(ClientError) as raised:
        call()
    return raised.value.response["Error"]["Code"]


def test_an_attribute_put_is_described_filtered_on_and_deleted_by_name(world):
    ecs, arn = _container_instance(world)
    mark = {"name": "team.mark", "value": "set-active", "targetId": arn}
    ecs.put_attributes(cluster=CLUSTER, attributes=[mark])
    assert _attributes(ecs, arn) == {"team.mark": "set-active"}
    listed = ecs.list_container_instances(cluster=CLUSTER, filter="attribute:team.mark == set-active")
    assert listed["containerInstanceArns"] == [arn]
    # "For custom attributes, specify the attribute name and target ID, but don't specify the value"
    assert _code(lambda: ecs.delete_attributes(cluster=CLUSTER, attributes=[mark])) == "InvalidParameterException"
    deleted = ecs.delete_attributes(cluster=CLUSTER, attributes=[{"name": "team.mark", "targetId": arn}])
    assert [a["name"] for a in deleted["attributes"]] == ["team.mark"]
    assert _attributes(ecs, arn) == {}
    assert not ecs.list_container_instances(cluster=CLUSTER, filter="attribute:team.mark == set-active")[
        "containerInstanceArns"
    ]
    again = ecs.delete_attributes(cluster=CLUSTER, attributes=[{"name": "team.mark", "targetId": arn}])
    assert again["attributes"] == []  # nothing deleted, no error
    assert [e["name"] for e in world.events("ecs.attribute.put")] == ["team.mark"]
    assert [e["name"] for e in world.events("ecs.attribute.deleted")] == ["team.mark"]


def test_at_most_ten_custom_attributes_a_resource_and_a_call(world):
    ecs, arn = _container_instance(world)
    ten = [{"name": f"a{i}", "value": "v", "targetId": arn} for i in range(10)]
    ecs.put_attributes(cluster=CLUSTER, attributes=ten)
    eleventh = [{"name": "a10", "value": "v", "targetId": arn}]
    assert _code(lambda: ecs.put_attributes(cluster=CLUSTER, attributes=eleventh)) == "AttributeLimitExceededException"
    ecs.put_attributes(cluster=CLUSTER, attributes=[{"name": "a0", "value": "w", "targetId": arn}])  # replaced
    assert _attributes(ecs, arn)["a0"] == "w" and len(_attributes(ecs, arn)) == 10
    many = [{"name": f"b{i}", "targetId": arn} for i in range(11)]
    assert _code(lambda: ecs.delete_attributes(cluster=CLUSTER, attributes=many)) == "InvalidParameterException"


def test_names_values_and_targets_are_checked(world):
    ecs, arn = _container_instance(world)
    for bad in ({"name": "no spaces", "value": "v"}, {"name": "n", "value": " padded"}, {"name": "n", "value": "a|b"}):
        attribute = {**bad, "targetId": arn}
        assert _code(lambda a=attribute: ecs.put_attributes(cluster=CLUSTER, attributes=[a])) == (
            "InvalidParameterException"
        ), bad
    gone = arn.rsplit("/", 1)[0] + "/00000000-0000-0000-0000-000000000000"
    assert _code(
        lambda: ecs.put_attributes(cluster=CLUSTER, attributes=[{"name": "n", "value": "v", "targetId": gone}])
    ) == ("TargetNotFoundException")
    ecs.deregister_container_instance(cluster=CLUSTER, containerInstance=arn, force=True)
    assert _code(lambda: ecs.delete_attributes(cluster=CLUSTER, attributes=[{"name": "n", "targetId": arn}])) == (
        "TargetNotFoundException"
    )
