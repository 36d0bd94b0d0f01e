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
            "lowering to 2, the usable instances, not to 1",
        ),
        (
            1,
            1,
            None,
            5,
            15,
            19,
            5,
            "lowering to 5, the usable instances",
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

proptest! {
    #[test]
    fn the_count_stays_within_bounds_and_drops_during_a_drain_only_to_the_usable_instances(
        min in 0u64..50,
        n in 0u64..5,
        max in proptest::option::of(0u64..80),
        usable in 0u64..300,
        draining in 0u64..5,
        current in 0i32..300,
    ) {
        let decision = decide(&input(min, n, max), counts(usable, draining), current);
        let new = u64::try_from(decision.new_desired_count).unwrap();
        let target = decision.target_desired_count;
        // The target is N+1 clamped to [min, max] (max below min counts as min).
        prop_assert!(target >= min);
        prop_assert!(target <= max.unwrap_or(u64::MAX).max(min));
        // Either the target, or, while an instance drains, held at the current count, but
        // never above the usable instances (nor below the target).
        let current_u64 = u64::try_from(current).unwrap();
        if draining > 0 && target < current_u64 {
            prop_assert_eq!(new, current_u64.min(usable.max(target)));
        } else {
            prop_assert_eq!(new, target);
        }
        prop_assert_eq!(decision.changed, decision.new_desired_count != current);
    }
}
