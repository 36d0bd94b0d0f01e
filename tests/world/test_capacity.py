"""The serving-capacity invariant (world.capacity), on event logs written by hand: no world needed."""

from __future__ import annotations

from world import capacity

TG = "arn:aws:elasticloadbalancing:us-west-2:123456789012:targetgroup/web-tg/0123456789abcdef"
CLB = "web-clb"


class Log:
    def __init__(self) -> None:
        self.events: list[dict] = []

    def add(self, kind: str, **fields) -> Log:
        self.events.append({"seq": len(self.events) + 1, "t": float(len(self.events)), "type": kind, **fields})
        return self

    def service(self, desired: int = 2, percent: int = 100, kind: str = "ecs.service.created") -> Log:
        return self.add(
            kind,
            cluster="c",
            service="web",
            desired=desired,
            minimum_healthy_percent=percent,
            maximum_percent=200,
            target_groups=[TG],
            load_balancers=[CLB],
        )

    def serving(self, *instances: str, service: str = "web") -> Log:
        for i in instances:
            self.add(
                "ecs.task.pending",
                cluster="c",
                service=service,
                task_arn=f"task/{service}-{i}",
                instance_id=i,
                targets=[[TG, 8080]],
                load_balancers=[CLB],
            )
            self.add("elbv2.target.registered", target_group=TG, id=i, port=8080)
            self.add("elbv2.target.healthy", target_group=TG, id=i, port=8080)
            self.add("elb.instance.registered", load_balancer=CLB, instance_id=i)
            self.add("elb.instance.in_service", load_balancer=CLB, instance_id=i)
        return self

    def out(self, instance: str, by: str) -> Log:
        self.add("elb.instance.draining", load_balancer=CLB, instance_id=instance, by=by)
        return self.add("elbv2.target.draining", target_group=TG, id=instance, port=8080, by=by, health="healthy")

    def judge(self, **kwargs):
        return capacity.judge(self.events, "web", "c", **kwargs)


def test_a_drain_that_deregisters_before_the_replacement_is_healthy_breaks_the_floor():
    log = Log().service().serving("i-a", "i-b").add("asg.instance.terminating", instance_id="i-a")
    log.add("ecs.task.pending", cluster="c", service="web", task_arn="t-c", instance_id="i-c", targets=[[TG, 8080]])
    log.add("elbv2.target.registered", target_group=TG, id="i-c", port=8080)  # initial: not serving
    log.out("i-a", "functions")
    violations, summary = log.judge()
    assert len(violations) == 2 and all(
        "1 healthy serving left (floor 2" in v and "by functions" in v for v in violations
    )
    assert {s.label: (s.fewest, s.floor) for s in summary} == {"web-tg": (1, 2), "web-clb": (1, 2)}


def test_ecs_replacing_a_task_once_its_replacement_is_healthy_keeps_the_floor():
    log = Log().service().serving("i-a", "i-b").add("asg.instance.terminating", instance_id="i-a")
    log.serving("i-c").out("i-a", "ecs")
    log.service(desired=1, kind="ecs.service.updated").out("i-c", "ecs")  # the scaler's change: floor 1
    violations, summary = log.judge()
    assert violations == []
    assert {s.label: s.fewest for s in summary} == {"web-tg": 2, "web-clb": 2}  # up to the update


def test_only_the_services_own_registrations_count():
    # The group is shared: another service's task serves in it, and an instance registered by hand.
    log = Log().service().serving("i-a", "i-b").serving("i-x", service="other")
    log.add("elbv2.target.registered", target_group=TG, id="i-h", port=9090)
    log.add("elbv2.target.healthy", target_group=TG, id="i-h", port=9090)
    # web's task on i-b was replaced by one on i-c; registered on i-b by hand since, on its
    # port, it is not web's
    log.serving("i-c")
    log.add("ecs.task.stopped", cluster="c", service="web", task_arn="task/web-i-b", instance_id="i-b")
    log.add("elbv2.target.draining", target_group=TG, id="i-b", port=8080, by="ecs", health="healthy")
    log.add("elb.instance.draining", load_balancer=CLB, instance_id="i-b", by="ecs")
    log.add("elbv2.target.registered", target_group=TG, id="i-b", port=8080)
    log.add("elbv2.target.healthy", target_group=TG, id="i-b", port=8080)
    assert log.judge()[0] == []
    log.add("asg.instance.terminating", instance_id="i-a").out("i-a", "functions")
    violations = log.judge()[0]
    assert len(violations) == 2 and all("i-a" in v and "1 healthy serving left (floor 2" in v for v in violations)


def test_leaving_while_not_serving_is_no_drop():
    log = Log().service().serving("i-b").add("asg.instance.terminating", instance_id="i-a")
    log.add("ecs.task.pending", cluster="c", service="web", task_arn="t-a", instance_id="i-a", targets=[[TG, 8080]])
    log.add("elbv2.target.registered", target_group=TG, id="i-a", port=8080)
    log.add("elbv2.target.unhealthy", target_group=TG, id="i-a", port=8080, reason="Target.FailedHealthChecks")
    log.add("elbv2.target.draining", target_group=TG, id="i-a", port=8080, by="functions", health="unhealthy")
    assert log.judge()[0] == []


def test_someone_elses_doing_is_not_judged():
    forced = Log().service().serving("i-a", "i-b")
    forced.add("ecs.container_instance.deregistered", cluster="c", instance_id="i-a", force=True).out("i-a", "ecs")
    assert forced.judge()[0] == []
    hook_gone = Log().service().serving("i-a", "i-b")
    hook_gone.add("asg.lifecycle.completed", instance_id="i-a", by="DeleteLifecycleHook")
    hook_gone.add("asg.instance.terminated", instance_id="i-a")
    assert hook_gone.judge()[0] == []
    deleted = Log().service().serving("i-a", "i-b").add("elbv2.target_group.deleted", target_group=TG)
    deleted.add("elb.load_balancer.deleted", load_balancer=CLB).out("i-a", "functions")
    assert deleted.judge()[0] == []


def test_released_with_its_task_serving_breaks_the_floor_unless_after_a_stated_deadline():
    log = Log().service().serving("i-a", "i-b")
    log.add("asg.lifecycle.completed", instance_id="i-a", by="CompleteLifecycleAction")
    deadline = log.events[-1]["seq"]
    log.add("asg.instance.terminated", instance_id="i-a")
    assert len(log.judge()[0]) == 2
    assert log.judge(bound=1, deadline_seq=deadline)[0] == []
    assert len(log.judge(bound=1, deadline_seq=deadline + 5)[0]) == 2  # the bound holds only after the deadline


def test_timed_out_executions_are_found_by_their_path_or_output():
    history = [
        {"type": "TaskStateEntered", "stateEnteredEventDetails": {"name": "CompleteLifecycleActionAfterDeadline"}}
    ]
    executions = {
        "arn:1": {"input": '{"detail": {"EC2InstanceId": "i-a"}}', "history": history},
        "arn:2": {
            "input": '{"detail": {"EC2InstanceId": "i-b"}}',
            "history": [],
            "output": '{"status": "deadline_passed"}',
        },
        "arn:3": {
            "input": '{"detail": {"EC2InstanceId": "i-c"}}',
            "history": [],
            "output": '{"status": "drained"}',
        },
    }
    assert capacity.timed_out(executions) == {"i-a": "arn:1", "i-b": "arn:2"}
