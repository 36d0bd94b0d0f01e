"""The entry point and the control endpoint."""

from __future__ import annotations

import urllib.error

import pytest


def test_config_merges_and_reset_restores_it(world):
    assert world.control("GET", "/_world/config")["timescale"] == 1.0
    config = world.configure(timescale=0.5, ecs={"task_start_seconds": 3})
    assert config["timescale"] == 0.5
    assert config["ecs"] == {
        "task_start_seconds": 3,
        "task_stop_seconds": 0,
        "agent_autoregister": True,
        "agent_register_seconds": 0,
        "list_lag_seconds": 0,
        "describe_lag_seconds": 0,
        "standalone_task_seconds": None,
        "trunk_provision_seconds": 30,
    }
    world.control("POST", "/_world/reset", {})
    assert world.control("GET", "/_world/config")["timescale"] == 1.0


def test_events_since_and_by_type(world):
    world.client("ecs").create_cluster(clusterName="c")
    ec2 = world.client("ec2")
    image = ec2.describe_images(Owners=["amazon"])["Images"][0]["ImageId"]
    ec2.run_instances(ImageId=image, MinCount=2, MaxCount=2, UserData="ECS_CLUSTER=c")
    everything = world.control("GET", "/_world/events")
    registered = world.events("ecs.container_instance")
    assert [e["type"] for e in registered] == ["ecs.container_instance.registered"] * 2
    first = registered[0]["seq"]
    later = world.control("GET", f"/_world/events?since={first}")["events"]
    assert all(e["seq"] > first for e in later) and len(later) < len(everything["events"])


def test_unknown_control_path_is_404(world):
    with pytest.raises(urllib.error.HTTPError) as err:
        world.control("GET", "/_world/nothing")
    assert err.value.code == 404


def test_missing_extensions_are_skipped(capsys):
    from world.emulator import server

    assert "world.does_not_exist" not in server.install_extensions(["world.does_not_exist"])
    assert "extension world.does_not_exist not found, skipped" in capsys.readouterr().err
    assert "world.emulator.lambdas" in server.EXTENSIONS and "world.emulator.redrive" in server.EXTENSIONS
