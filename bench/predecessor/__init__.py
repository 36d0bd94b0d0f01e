"""THE PREDECESSOR'S DESIGN, RE-IMPLEMENTED FOR COMPARISON ONLY. NOT PART OF THE PRODUCT.

What it did (from README "Why"): three Python
Lambdas polling two SQS queues every minute.

* The terminate lifecycle hook notified an SQS queue.
* Every minute, one function read that queue; for each instance it FORCE-deregistered the
  container instance from ECS (DeregisterContainerInstance force=true: its task is
  orphaned, not moved), deregistered the instance from its Classic ELB (`elb_name`), and
  passed the instance on to a second queue.
* Every minute, a second function read the second queue and took "the instance is gone
  from DescribeLoadBalancers" as "drained" (it is not: connection draining shows only in
  DescribeInstanceHealth), then completed the lifecycle action. It never heartbeated the
  hook.
* Every minute, a third function (the task scaler) set the service's desired count from
  the first page (100) of ListContainerInstances, DRAINING instances included.
* It broke on the SQS test message and on expired tokens.

`functions.py` is a faithful re-implementation of that schedule and those checks, written
for this benchmark from the description above (the original code is not in this
repository). Where the description says nothing, the choices are the plain ones and are
marked "assumed" in the code. `harness.py` runs it in the local world on a
time-compressed schedule; `bootstrap.py` is a minimal Lambda runtime loop for measuring a
Python/boto3 handler's cold start and memory.
"""
