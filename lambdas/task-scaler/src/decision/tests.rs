//! `decide` is pure: its rules, table by table, and its invariants over any input.

use super::*;
use proptest::prelude::*;

fn input(min: u64, n: u64, max: Option<u64>) -> ScalerInput {
    ScalerInput {
        cluster_name: "c".into(),
        service_name: "s".into(),
        min_task_count: min,
        n_count: n,
        max_task_count: max,
        dry_run: false,
        asg_name: None,
    }
}

fn counts(usable: u64, draining: u64) -> InstanceCounts {
    InstanceCounts {
        registered: usable + draining,
        usable,
        draining,
        ..InstanceCounts::default()
    }
}

#[test]
fn the_rules_table() {
    // (min, n, max, usable, draining, current) -> (new, reason contains)
    type Row = (u64, u64, Option<u64>, u64, u64, i32, i32, &'static str);
    let table: [Row; 11] = [
        (1, 1, None, 3, 0, 3, 2, "3 usable - n_count 1"),
        (1, 1, None, 3, 0, 2, 2, "already matches"),
        (2, 1, None, 2, 0, 3, 2, "floor min_task_count 2"),
        (1, 1, Some(4), 10, 0, 2, 4, "ceiling max_task_count 4"),
        (1, 1, None, 3, 1, 3, 3, "holding at 3"),
        // More tasks than usable instances: each task that cannot move holds its drain.
        (
            1,
            1,
            None,
            2,
            1,
            3,
            2,
            "lowering to 2, the instances in service, not to 1",
        ),
        (
            1,
            1,
            None,
            5,
            15,
            19,
            5,
            "lowering to 5, the instances in service",
        ),
        (3, 1, None, 1, 2, 4, 3, "floor min_task_count 3"),
        (1, 1, None, 6, 1, 3, 5, "6 usable - n_count 1"),
        (1, 2, None, 0, 0, 1, 1, "already matches"),
        (3, 1, Some(2), 9, 0, 5, 3, "floor"),
    ];
    for (min, n, max, usable, draining, current, new, why) in table {
        let decision = decide(&input(min, n, max), counts(usable, draining), current);
        assert_eq!(decision.new_desired_count, new, "{decision}");
        assert!(decision.reason.contains(why), "{decision}");
        assert_eq!(decision.changed, new != current);
    }
}

#[test]
fn an_agent_away_while_its_task_serves_never_lowers_the_count() {
    // (usable, draining, serving while away, current) -> (new, reason contains), min 1, n 1
    let table: [(u64, u64, u64, i32, i32, &str); 5] = [
        (
            3,
            0,
            1,
            3,
            3,
            "keeping 3, not 2: 1 instance(s) serving with their agent away",
        ),
        (3, 0, 2, 3, 3, "keeping 3"),
        (2, 0, 1, 5, 2, "lowering to 2, not 1"),
        (1, 1, 1, 2, 2, "holding at 2 instead of lowering to 1"),
        // raised only for instances that take a task
        (4, 0, 2, 2, 3, "4 usable - n_count 1"),
    ];
    for (usable, draining, disconnected, current, new, why) in table {
        let instances = InstanceCounts {
            disconnected,
            serving_while_away: disconnected,
            ..counts(usable, draining)
        };
        let decision = decide(&input(1, 1, None), instances, current);
        assert_eq!(decision.new_desired_count, new, "{decision}");
        assert!(decision.reason.contains(why), "{decision}");
    }
}

proptest! {
    #[test]
    fn the_count_stays_within_bounds_and_drops_during_a_drain_only_to_the_usable_instances(
        min in 0u64..50,
        n in 0u64..5,
        max in proptest::option::of(0u64..80),
        usable in 0u64..300,
        draining in 0u64..5,
        disconnected in 0u64..5,
        current in 0i32..300,
    ) {
        let instances = InstanceCounts {
            disconnected,
            serving_while_away: disconnected,
            ..counts(usable, draining)
        };
        let decision = decide(&input(min, n, max), instances, current);
        let new = u64::try_from(decision.new_desired_count).unwrap();
        let target = decision.target_desired_count;
        // The target is N+1 clamped to [min, max] (max below min counts as min).
        prop_assert!(target >= min);
        prop_assert!(target <= max.unwrap_or(u64::MAX).max(min));
        // Either the target, or, lowering, held at the current count: while an instance
        // drains, never above the instances in service (agents away counted); else never
        // lower than N+1 of them (nor below the target).
        let current_u64 = u64::try_from(current).unwrap();
        let present = usable + disconnected;
        let away = present.saturating_sub(n).clamp(min, max.unwrap_or(u64::MAX).max(min));
        if draining > 0 && target < current_u64 {
            prop_assert_eq!(new, current_u64.min(present.max(target)));
        } else if target < current_u64 {
            prop_assert_eq!(new, current_u64.min(away.max(target)));
        } else {
            prop_assert_eq!(new, target);
        }
        prop_assert_eq!(decision.changed, decision.new_desired_count != current);
    }
}
