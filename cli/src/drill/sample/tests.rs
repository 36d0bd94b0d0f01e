//! The tally of the samples: the fewest serving, and when a replacement first served.

use super::*;

/// The tally of `samples` (what served, and when: `None` for the baseline) of the drain of
/// `i-victim`.
fn tally(kind: WatchedKind, samples: &[(&[&str], Option<f64>)]) -> Watched {
    let mut watched = Watched {
        service: "web".into(),
        label: "web".into(),
        kind,
        minimum: 1,
        baseline: None,
        fewest: None,
        samples: 0,
        replacement_after: None,
        errors: Vec::new(),
    };
    for (serving, after) in samples {
        let serving = serving.iter().map(|id| id.to_string()).collect();
        record(&mut watched, serving, "i-victim", *after);
    }
    watched
}

#[test]
fn a_replacement_is_what_serves_anew_never_the_drained_instance_back_in_service() {
    // A Classic ELB's entries are instances; the drained one was out of service before.
    let classic = WatchedKind::Classic("web".into());
    let back: &[(&[&str], _)] = &[(&["i-a"], None), (&["i-a", "i-victim"], Some(1.0))];
    assert_eq!(tally(classic.clone(), back).replacement_after, None);
    let anew = [
        back,
        &[(&["i-a", "i-new"], Some(2.0)), (&["i-b"], Some(3.0))],
    ]
    .concat();
    let tallied = tally(classic, &anew);
    assert_eq!(tallied.replacement_after, Some(2.0));
    assert_eq!((tallied.fewest, tallied.samples), (Some(1), 4));
    // A target group's are the service's task ARNs: the drained instance's task was serving.
    let group = WatchedKind::TargetGroup("arn".into());
    let replaced: &[(&[&str], _)] = &[
        (&["task-1", "task-2"], None),
        (&["task-2"], Some(1.0)),
        (&["task-2", "task-3"], Some(4.5)),
    ];
    let tallied = tally(group, replaced);
    assert_eq!(
        (tallied.replacement_after, tallied.fewest),
        (Some(4.5), Some(1))
    );
}
