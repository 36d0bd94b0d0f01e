//! Least privilege, held from both ends: the AWS calls each Lambda's code makes must be
//! exactly the IAM actions infra grants its role (`infra/lib/permissions.ts`, printed by
//! `npm run permissions`). A call added without its permission, or a permission left
//! behind, fails here.

use std::collections::{BTreeMap, BTreeSet};
use std::path::Path;
use std::process::Command;

use integration_tests::repo_root;

/// Client field or variable names in our code, and the IAM service prefix of each.
const CLIENTS: [(&str, &str); 6] = [
    ("ecs", "ecs"),
    ("ec2", "ec2"),
    ("autoscaling", "autoscaling"),
    ("elb", "elasticloadbalancing"),
    ("elbv2", "elasticloadbalancing"),
    ("sfn", "states"),
];

fn pascal(snake: &str) -> String {
    snake
        .split('_')
        .map(|word| {
            let mut chars = word.chars();
            chars
                .next()
                .map(|first| first.to_ascii_uppercase().to_string() + chars.as_str())
                .unwrap_or_default()
        })
        .collect()
}

/// The non-test sources of a crate, one string per file, method chains joined.
fn sources(crate_dir: &Path) -> Vec<String> {
    let mut sources = Vec::new();
    for entry in std::fs::read_dir(crate_dir.join("src")).expect("src/") {
        let path = entry.expect("an entry").path();
        let name = path.file_name().unwrap().to_string_lossy().to_string();
        if !name.ends_with(".rs") || name == "tests.rs" || name == "testing.rs" {
            continue;
        }
        let source: String = std::fs::read_to_string(&path)
            .unwrap()
            .lines()
            .take_while(|line| !line.starts_with("#[cfg(test)]"))
            .collect::<Vec<_>>()
            .join("\n");
        sources.push(join_method_chains(&source));
    }
    sources
}

/// `service:Action` for every `<client>.<operation>()` in the crate's non-test sources,
/// and in the shared crate's modules whose public functions the crate calls, directly or
/// through another shared module it uses.
fn calls_in(crate_dir: &Path) -> BTreeSet<String> {
    let mut used = sources(crate_dir);
    let mut shared = sources(&repo_root().join("lambdas/shared"));
    loop {
        let (reached, rest): (Vec<String>, Vec<String>) = shared.into_iter().partition(|module| {
            public_functions(module)
                .iter()
                .any(|name| used.iter().any(|source| calls_function(source, name)))
        });
        shared = rest;
        if reached.is_empty() {
            break;
        }
        used.extend(reached);
    }
    used.iter()
        .flat_map(|source| direct_calls(source))
        .collect()
}

/// Whether `source` calls a function `name`: `name(` not as the end of a longer name
/// (`record_lifecycle_action_heartbeat(` is no call of `heartbeat`).
fn calls_function(source: &str, name: &str) -> bool {
    let needle = format!("{name}(");
    source.match_indices(&needle).any(|(at, _)| {
        !source[..at]
            .chars()
            .last()
            .is_some_and(|c| c.is_ascii_alphanumeric() || c == '_')
    })
}

/// Names of the `pub fn` / `pub async fn` of a source file.
fn public_functions(source: &str) -> Vec<String> {
    source
        .split("pub ")
        .skip(1)
        .filter_map(|rest| {
            rest.strip_prefix("async ")
                .unwrap_or(rest)
                .strip_prefix("fn ")
        })
        .map(|rest| {
            rest.chars()
                .take_while(|c| c.is_ascii_alphanumeric() || *c == '_')
                .collect()
        })
        .collect()
}

fn direct_calls(source: &str) -> BTreeSet<String> {
    let mut calls = BTreeSet::new();
    for (client, service) in CLIENTS {
        let needle = format!("{client}.");
        for (at, _) in source.match_indices(&needle) {
            let before = source[..at].chars().last();
            if before.is_some_and(|c| c.is_ascii_alphanumeric() || c == '_') {
                continue;
            }
            let rest = &source[at + needle.len()..];
            let operation: String = rest
                .chars()
                .take_while(|c| c.is_ascii_lowercase() || *c == '_')
                .collect();
            if !operation.is_empty()
                && rest[operation.len()..].starts_with("()")
                && operation != "clone"
            {
                calls.insert(format!("{service}:{}", pascal(&operation)));
            }
        }
    }
    calls
}

/// Removes the whitespace around every `.`, so that `deps\n    .ecs\n    .list_tasks()`
/// reads `deps.ecs.list_tasks()`; other whitespace stays (`match ecs.x()`).
fn join_method_chains(source: &str) -> String {
    let chars: Vec<char> = source.chars().collect();
    let mut out = String::with_capacity(source.len());
    for (index, c) in chars.iter().enumerate() {
        if c.is_whitespace() {
            let next = chars[index..].iter().find(|c| !c.is_whitespace());
            let previous = out.chars().last();
            if next == Some(&'.') || previous == Some('.') {
                continue;
            }
        }
        out.push(*c);
    }
    out
}

fn granted() -> BTreeMap<String, BTreeSet<String>> {
    let infra = repo_root().join("infra");
    assert!(
        infra.join("node_modules").exists(),
        "infra/node_modules is missing: run `make deps-npm` (npm ci in infra/)"
    );
    let output = Command::new("npm")
        .args(["run", "permissions", "--silent"])
        .current_dir(&infra)
        .output()
        .expect("npm runs (Node.js 20 and npm must be installed)");
    assert!(
        output.status.success(),
        "{}",
        String::from_utf8_lossy(&output.stderr)
    );
    serde_json::from_slice(&output.stdout).expect("npm run permissions prints JSON")
}

#[test]
fn each_role_grants_exactly_the_calls_its_code_makes() {
    let granted = granted();
    let lambdas = repo_root().join("lambdas");
    let mut functions = BTreeSet::new();
    let mut mismatches = Vec::new();
    for entry in std::fs::read_dir(&lambdas).unwrap() {
        let dir = entry.unwrap().path();
        if !dir.join("src/main.rs").exists() {
            continue;
        }
        let function = dir.file_name().unwrap().to_string_lossy().to_string();
        let calls = calls_in(&dir);
        assert!(
            !calls.is_empty(),
            "{function}: no AWS calls found; is the scan broken?"
        );
        let allowed = granted.get(&function).cloned().unwrap_or_default();
        let missing: Vec<_> = calls.difference(&allowed).collect();
        let unused: Vec<_> = allowed.difference(&calls).collect();
        if !missing.is_empty() || !unused.is_empty() {
            mismatches.push(format!(
                "{function}: called but not granted {missing:?}; granted but not called {unused:?}"
            ));
        }
        functions.insert(function);
    }
    assert!(mismatches.is_empty(), "{}", mismatches.join("\n"));
    let granted_functions: BTreeSet<String> = granted.keys().cloned().collect();
    assert_eq!(
        functions, granted_functions,
        "a role for every function and nothing else"
    );
}

#[test]
fn the_scan_finds_calls_split_over_lines() {
    assert_eq!(pascal("list_container_instances"), "ListContainerInstances");
    assert_eq!(
        join_method_chains("match deps\n    .ecs\n    .list_tasks()"),
        "match deps.ecs.list_tasks()"
    );
    let calls = calls_in(&repo_root().join("lambdas/drain-ecs"));
    assert!(
        calls.contains("ecs:UpdateContainerInstancesState"),
        "{calls:?}"
    );
    assert!(calls_function("x = heartbeat(a)", "heartbeat"));
    assert!(calls_function("hook::heartbeat(a)", "heartbeat"));
    assert!(!calls_function(
        ".record_lifecycle_action_heartbeat()",
        "heartbeat"
    ));
}
