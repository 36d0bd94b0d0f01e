"""THE PREDECESSOR'S THREE FUNCTIONS, RE-IMPLEMENTED FOR COMPARISON ONLY (see __init__.py).

Python/boto3, one module, clients created at import time as the predecessor did. Each
handler is what one scheduled ("rate(1 minute)") invocation does. The known defects are
kept on purpose: force deregistration, "gone from DescribeLoadBalancers" as drained, no
heartbeat, KeyError on the SQS test message, a crash on an expired token, the first 100
container instances only, DRAINING counted as capacity.

Configuration (environment, assumed names): ECS_CLUSTER, ELB_NAME, LIFECYCLE_QUEUE_URL,
DRAINING_QUEUE_URL.
"""

import json
import os

import boto3

sqs = boto3.client("sqs")
ecs = boto3.client("ecs")
elb = boto3.client("elb")
autoscaling = boto3.client("autoscaling")


def drain_instances(event, context):
    """Every minute: lifecycle queue -> force-deregister from ECS, deregister from the ELB -> draining queue."""
    queue = os.environ["LIFECYCLE_QUEUE_URL"]
    cluster = os.environ["ECS_CLUSTER"]
    elb_name = os.environ["ELB_NAME"]
    messages = sqs.receive_message(QueueUrl=queue, MaxNumberOfMessages=10).get("Messages", [])
    for message in messages:
        body = json.loads(message["Body"])
        instance_id = body["EC2InstanceId"]  # KeyError on the SQS test message (kept)
        arns = ecs.list_container_instances(cluster=cluster)["containerInstanceArns"]  # first page only (kept)
        if arns:
            described = ecs.describe_container_instances(cluster=cluster, containerInstances=arns)["containerInstances"]
            for ci in described:
                if ci["ec2InstanceId"] == instance_id:
                    ecs.deregister_container_instance(
                        cluster=cluster, containerInstance=ci["containerInstanceArn"], force=True
                    )
        elb.deregister_instances_from_load_balancer(LoadBalancerName=elb_name, Instances=[{"InstanceId": instance_id}])
        sqs.send_message(QueueUrl=os.environ["DRAINING_QUEUE_URL"], MessageBody=message["Body"])
        sqs.delete_message(QueueUrl=queue, ReceiptHandle=message["ReceiptHandle"])
    return {"handled": len(messages)}


def check_drained(event, context):
    """Every minute: draining queue -> gone from DescribeLoadBalancers? -> CompleteLifecycleAction."""
    queue = os.environ["DRAINING_QUEUE_URL"]
    elb_name = os.environ["ELB_NAME"]
    messages = sqs.receive_message(QueueUrl=queue, MaxNumberOfMessages=10).get("Messages", [])
    completed = 0
    for message in messages:
        body = json.loads(message["Body"])
        lb = elb.describe_load_balancers(LoadBalancerNames=[elb_name])["LoadBalancerDescriptions"][0]
        registered = {i["InstanceId"] for i in lb["Instances"]}
        if body["EC2InstanceId"] in registered:
            continue  # not "drained" yet: the message comes back after its visibility timeout
        autoscaling.complete_lifecycle_action(  # raises on an expired token (kept)
            LifecycleHookName=body["LifecycleHookName"],
            AutoScalingGroupName=body["AutoScalingGroupName"],
            LifecycleActionToken=body["LifecycleActionToken"],
            LifecycleActionResult="CONTINUE",
        )
        sqs.delete_message(QueueUrl=queue, ReceiptHandle=message["ReceiptHandle"])
        completed += 1
    return {"completed": completed}


def scale_tasks(event, context):
    """Every minute: desired = first page of container instances (DRAINING included) - n_count, at least the minimum."""
    arns = ecs.list_container_instances(cluster=event["cluster_name"])["containerInstanceArns"]
    desired = max(len(arns) - int(event["n_count"]), int(event["min_task_count"]))
    ecs.update_service(
        cluster=event["cluster_name"], service=event["service_name"], desiredCount=desired
    )  # assumed: always
    return {"desired": desired}
