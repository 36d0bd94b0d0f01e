"""AWS page and batch limits: code that ignores pagination fails here as on AWS."""

from __future__ import annotations

import pytest
from botocore.exceptions import ClientError

CLUSTER = "big"


def _many_instances(world, count):
    ec2 = world.client("ec2")
    ecs = world.client("ecs")
    ecs.create_cluster(clusterName=CLUSTER)
    image = ec2.describe_images(Owners=["amazon"])["Images"][0]["ImageId"]
    user_data = f"ECS_CLUSTER={CLUSTER}"  # boto3 base64-encodes RunInstances user data
    ec2.run_instances(ImageId=image, MinCount=count, MaxCount=count, InstanceType="t3.micro", UserData=user_data)


def _error(call, **kwargs):
    with pytest.raises(ClientError) as err:
        call(**kwargs)
    return err.value.response["Error"]


def test_container_instances_and_tasks_come_in_pages_of_100(world):
    _many_instances(world, 120)
    ecs = world.client("ecs")
    first = ecs.list_container_instances(cluster=CLUSTER)
    assert len(first["containerInstanceArns"]) == 100 and first["nextToken"]
    second = ecs.list_container_instances(cluster=CLUSTER, nextToken=first["nextToken"])
    assert len(second["containerInstanceArns"]) == 20 and "nextToken" not in second
    everything = [
        arn
        for page in ecs.get_paginator("list_container_instances").paginate(cluster=CLUSTER)
        for arn in page["containerInstanceArns"]
    ]
    assert len(set(everything)) == 120
    assert len(ecs.list_container_instances(cluster=CLUSTER, maxResults=7)["containerInstanceArns"]) == 7
    assert _error(ecs.list_container_instances, cluster=CLUSTER, maxResults=101)["Code"] == "InvalidParameterException"

    error = _error(ecs.describe_container_instances, cluster=CLUSTER, containerInstances=everything[:101])
    assert error == {"Code": "InvalidParameterException", "Message": "instanceIds can have at most 100 items."}
    assert (
        len(
            ecs.describe_container_instances(cluster=CLUSTER, containerInstances=everything[:100])["containerInstances"]
        )
        == 100
    )

    ecs.register_task_definition(family="batch", containerDefinitions=[{"name": "b", "image": "x", "memory": 64}])
    tasks = []
    for chunk in (everything[:10], everything[10:20], everything[20:110]):
        tasks += [
            t["taskArn"]
            for t in ecs.start_task(cluster=CLUSTER, taskDefinition="batch", containerInstances=chunk)["tasks"]
        ]
    page = ecs.list_tasks(cluster=CLUSTER)
    assert len(page["taskArns"]) == 100 and page["nextToken"]
    assert len(ecs.list_tasks(cluster=CLUSTER, nextToken=page["nextToken"])["taskArns"]) == 10
    error = _error(ecs.describe_tasks, cluster=CLUSTER, tasks=tasks[:101])
    assert error["Message"] == "taskIds can have at most 100 items."


def test_services_come_in_pages_of_10(world):
    ecs = world.client("ecs")
    ecs.create_cluster(clusterName=CLUSTER)
    ecs.register_task_definition(family="web", containerDefinitions=[{"name": "w", "image": "x", "memory": 64}])
    for i in range(12):
        ecs.create_service(cluster=CLUSTER, serviceName=f"svc-{i:02}", taskDefinition="web", desiredCount=0)
    first = ecs.list_services(cluster=CLUSTER)
    assert len(first["serviceArns"]) == 10 and first["nextToken"]
    assert len(ecs.list_services(cluster=CLUSTER, maxResults=100)["serviceArns"]) == 12
    names = [f"svc-{i:02}" for i in range(12)]
    error = _error(ecs.describe_services, cluster=CLUSTER, services=names[:11])
    assert error["Message"] == "service names can have at most 10 items."
    assert len(ecs.describe_services(cluster=CLUSTER, services=names[:10])["services"]) == 10
