//! Governance report from Git state (SPEC §Report): changed paths routed to departments by glob
//! rules, risk rules, verification commands and the portability preflight.

mod git;
mod glob;
pub mod index;
pub mod ownership;
mod portability;

use std::collections::BTreeSet;
use std::fmt::Write as _;
use std::path::Path;

use anyhow::Result;
use app::api::*;

use crate::governance::{GovernanceConfig, RiskRule, MENXIA_DUTY, MENXIA_KEY, MENXIA_TITLE};
pub use git::{changed_paths, Mode, ReportError};
use glob::PatternSet;

pub const TITLE: &str = "Codex 三省三部 Governance Report";

fn provinces() -> Vec<Province> {
    [
        (
            "zhongshu",
            "中书省 Zhongshu",
            "Scope the task, decide the plan",
        ),
        ("menxia", MENXIA_TITLE, MENXIA_DUTY),
        (
            "shangshu",
            "尚书省 Shangshu",
            "Departments execute, verify, deliver",
        ),
    ]
    .into_iter()
    .map(|(key, title, duty)| Province {
        key: key.into(),
        title: title.into(),
        duty: duty.into(),
    })
    .collect()
}

/// Whether a risk rule flags a path: the lowercased pattern occurs in the lowercased path, or
/// the path starts with the pattern — unless the path starts with the rule's allow_pattern.
fn risk_hits(rule: &RiskRule, path: &str, lowered: &str) -> bool {
    if rule
        .allow_pattern
        .as_deref()
        .is_some_and(|allow| path.starts_with(allow))
    {
        return false;
    }
    lowered.contains(&rule.pattern.to_lowercase()) || path.starts_with(rule.pattern.as_str())
}

/// One compiled matcher per department, in configuration order (the report's routing rules,
/// shared with the plan ownership checks so both agree).
fn department_matchers(config: &GovernanceConfig) -> Result<Vec<PatternSet>> {
    config
        .departments
        .iter()
        .map(|d| PatternSet::new(&d.globs))
        .collect()
}

/// The departments a path routes to, as indexes into the configuration: every department whose
/// globs match, in configuration order (a path may belong to several; none = uncategorized).
fn routed_departments<'a>(
    matchers: &'a [PatternSet],
    path: &'a str,
) -> impl Iterator<Item = usize> + 'a {
    matchers
        .iter()
        .enumerate()
        .filter(move |(_, matcher)| matcher.is_match(path))
        .map(|(i, _)| i)
}

/// The verification commands the rules give for these changed paths: those of every department
/// a path routes to, as the report's `verify_commands` lists them (sorted, once each).
pub fn verify_commands_for(config: &GovernanceConfig, paths: &[String]) -> Result<Vec<String>> {
    let matchers = department_matchers(config)?;
    let mut verify = BTreeSet::new();
    for path in paths {
        for i in routed_departments(&matchers, path) {
            verify.extend(config.departments[i].verify.iter().cloned());
        }
    }
    Ok(verify.into_iter().collect())
}

/// Routes already-known changed paths (the pure part of the report).
pub fn route(
    config: &GovernanceConfig,
    mode: &Mode,
    paths: Vec<String>,
    preflight: PortabilityScan,
) -> Result<GovernanceReport> {
    let matchers = department_matchers(config)?;
    let mut files: Vec<Vec<String>> = vec![Vec::new(); config.departments.len()];
    let mut uncategorized = Vec::new();
    let mut risks = Vec::new();
    let mut verify = BTreeSet::new();
    for path in &paths {
        let mut hit = false;
        for i in routed_departments(&matchers, path) {
            hit = true;
            files[i].push(path.clone());
            verify.extend(config.departments[i].verify.iter().cloned());
        }
        if !hit {
            uncategorized.push(path.clone());
        }
        let lowered = path.to_lowercase();
        for rule in &config.risk_rules {
            if risk_hits(rule, path, &lowered) {
                risks.push(RiskHit {
                    path: path.clone(),
                    name: rule.name.clone(),
                    level: rule.level,
                    message: rule.message.clone(),
                });
            }
        }
    }
    let departments = config
        .departments
        .iter()
        .zip(files)
        .filter(|(_, files)| !files.is_empty())
        .map(|(d, files)| ReportDepartment {
            key: d.key.clone(),
            title: d.title.clone(),
            duty: d.duty.clone(),
            files,
            verify: d.verify.clone(),
        })
        .collect();
    Ok(GovernanceReport {
        source: None,
        computed_at: None,
        title: TITLE.into(),
        mode: mode.name().into(),
        base: match mode {
            Mode::Base(base) => Some(base.clone()),
            _ => None,
        },
        changed_count: paths.len() as u32,
        changed_paths: paths,
        provinces: provinces(),
        departments,
        uncategorized,
        risks,
        verify_commands: verify.into_iter().collect(),
        preflight: Preflight {
            checks: PreflightChecks {
                portability_reference_scan: preflight,
            },
        },
    })
}

/// The full report of a repository. Paths under `state_dir` (the launcher's own files, when
/// they live inside the repository) are left out.
pub fn build(
    repo: &Path,
    config: &GovernanceConfig,
    mode: &Mode,
    state_dir: Option<&Path>,
) -> Result<GovernanceReport, ReportError> {
    let mut paths = git::changed_paths(repo, mode)?;
    if let Some(prefix) = own_prefix(repo, state_dir) {
        paths.retain(|p| !p.starts_with(&prefix));
    }
    let preflight = portability::scan(repo, &config.portability_surfaces)?;
    Ok(route(config, mode, paths, preflight)?)
}

/// The launcher's state directory relative to the repository (`.tmp/`), when it lies inside.
pub fn own_prefix(repo: &Path, state_dir: Option<&Path>) -> Option<String> {
    let repo_root = repo.canonicalize().unwrap_or_else(|_| repo.to_path_buf());
    state_dir
        .and_then(|dir| dir.canonicalize().ok())
        .and_then(|dir| {
            dir.strip_prefix(&repo_root)
                .ok()
                .map(|rel| format!("{}/", rel.to_string_lossy()))
        })
        .filter(|prefix| prefix != "/")
}

/// Models a suggested plan may use.
pub struct ModelPolicy<'a> {
    pub zhongshu_model: &'a str,
    pub department_model: &'a str,
}

/// Departments whose mistakes cost most (everything but the docs department).
fn is_implementation(key: &str) -> bool {
    key != "zhilibu" && key != MENXIA_KEY
}

fn recommend(
    key: &str,
    files: usize,
    report: &GovernanceReport,
    models: &ModelPolicy,
) -> (String, String) {
    let high = report.risks.iter().any(|r| r.level == RiskLevel::High);
    let complex = report.changed_count >= 20 || files >= 12;
    let (model, reason) = if key == MENXIA_KEY {
        (
            models.zhongshu_model,
            "Menxia reviews risk: use the strongest model.",
        )
    } else if high {
        (
            models.zhongshu_model,
            "A high risk is hit: lower the cost of a wrong call.",
        )
    } else if complex && is_implementation(key) {
        (
            models.zhongshu_model,
            "Large change in an implementation department: use the strongest model.",
        )
    } else if is_implementation(key) {
        (
            models.department_model,
            "Implementation work: the department model suffices for this size.",
        )
    } else if files >= 8 {
        (
            models.department_model,
            "Many files: the department model with wider context.",
        )
    } else {
        (
            models.department_model,
            "Narrow scope: the department model.",
        )
    };
    (model.to_string(), reason.to_string())
}

/// One assignment per department hit, Menxia first when a medium/high risk is hit.
pub fn suggest_assignments(
    task: &str,
    report: &GovernanceReport,
    models: &ModelPolicy,
) -> (bool, Vec<Assignment>) {
    let mut assignments: Vec<Assignment> = report
        .departments
        .iter()
        .map(|d| {
            let (model, model_reason) = recommend(&d.key, d.files.len(), report, models);
            let first: Vec<&str> = d.files.iter().take(4).map(String::as_str).collect();
            Assignment {
                department: d.key.clone(),
                title: d.title.clone(),
                duty: d.duty.clone(),
                task: format!(
                    "Overall task: {task}. Zhongshu assigns {} ({}). Start with at most these files: {}. \
                     Stay within this department's files; do not revert changes of the user or other sessions. \
                     The report has {} changed files and {} risks.",
                    d.title,
                    d.duty,
                    if first.is_empty() { "none".into() } else { first.join(", ") },
                    report.changed_count,
                    report.risks.len()
                ),
                model,
                files: d.files.clone(),
                paths: Vec::new(),
                verify: d.verify.clone(),
                reason: format!("{} changed file(s) route to {}.", d.files.len(), d.key),
                model_reason,
                selected: true,
            }
        })
        .collect();
    let menxia_required = report
        .risks
        .iter()
        .any(|r| matches!(r.level, RiskLevel::High | RiskLevel::Medium));
    if menxia_required {
        let files: Vec<String> = report.risks.iter().map(|r| r.path.clone()).collect();
        let (model, model_reason) = recommend(MENXIA_KEY, files.len(), report, models);
        let risks: Vec<String> = report
            .risks
            .iter()
            .map(|r| format!("[{}] {}: {}", r.level, r.path, r.message))
            .collect();
        assignments.insert(
            0,
            Assignment {
                department: MENXIA_KEY.into(),
                title: MENXIA_TITLE.into(),
                duty: MENXIA_DUTY.into(),
                task: format!(
                    "Overall task: {task}. Menxia review needed. Focus: {}. Check only the evidence that \
                     changes the verdict; approve or reject; do not edit business files.",
                    risks.join("; ")
                ),
                model,
                files,
                paths: Vec::new(),
                verify: Vec::new(),
                reason: "Medium or high risk rules were hit.".into(),
                model_reason,
                selected: true,
            },
        );
    }
    (menxia_required, assignments)
}

/// The human-readable report of the CLI.
pub fn render_text(report: &GovernanceReport) -> String {
    let mut out = format!("# {}\n", report.title);
    if let Some(base) = &report.base {
        let _ = writeln!(out, "mode: {} (base {base})", report.mode);
    } else {
        let _ = writeln!(out, "mode: {}", report.mode);
    }
    let portability = &report.preflight.checks.portability_reference_scan;
    if report.changed_paths.is_empty() {
        out.push_str("\nNo changes to analyse.\n");
    } else {
        let _ = writeln!(out, "\n## 中书省 Zhongshu\n- changed files: {}\n- route each path to its departments, with verification", report.changed_count);
        out.push_str("\n## 门下省 Menxia\n");
        if report.risks.is_empty() {
            out.push_str("- no risk rule hit\n");
        }
        for risk in &report.risks {
            let _ = writeln!(out, "- [{}] {}: {}", risk.level, risk.path, risk.message);
        }
        out.push_str("\n## 尚书省 Shangshu\n");
        for d in &report.departments {
            let _ = writeln!(out, "- {}: {} ({} files)", d.title, d.duty, d.files.len());
            for path in d.files.iter().take(8) {
                let _ = writeln!(out, "  - {path}");
            }
            if d.files.len() > 8 {
                let _ = writeln!(out, "  - ... {} more", d.files.len() - 8);
            }
        }
        if !report.uncategorized.is_empty() {
            out.push_str("- uncategorized:\n");
            for path in &report.uncategorized {
                let _ = writeln!(out, "  - {path}");
            }
        }
        out.push_str("\n## Verification\n");
        for command in &report.verify_commands {
            let _ = writeln!(out, "- {command}");
        }
    }
    let _ = writeln!(
        out,
        "\n## Preflight\n- portability_reference_scan: {} ({} violations, {} exceptions)",
        portability.decision,
        portability.violations.len(),
        portability.exceptions.len()
    );
    for item in portability.violations.iter().take(8) {
        let _ = writeln!(
            out,
            "  - {}:{} [{}] {}",
            item.path, item.line, item.pattern, item.excerpt
        );
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    fn scan() -> PortabilityScan {
        PortabilityScan {
            decision: Decision::Pass,
            scope: portability::SCOPE.into(),
            scanned_files: vec![],
            violations: vec![],
            exceptions: vec![],
        }
    }

    fn report(paths: &[&str]) -> GovernanceReport {
        let paths = paths.iter().map(|p| p.to_string()).collect();
        route(&GovernanceConfig::default(), &Mode::Worktree, paths, scan()).unwrap()
    }

    #[test]
    fn paths_route_to_every_matching_department() {
        let r = report(&[
            "README.md",
            "docs/x.md",
            "scripts/run.sh",
            "src/main.rs",
            "weird.bin",
            "tools/README.md",
        ]);
        let by_key = |k: &str| {
            r.departments
                .iter()
                .find(|d| d.key == k)
                .map(|d| d.files.clone())
                .unwrap_or_default()
        };
        assert_eq!(
            by_key("zhilibu"),
            ["README.md", "docs/x.md", "tools/README.md"]
        );
        assert_eq!(
            by_key("gongchengbu"),
            ["scripts/run.sh", "src/main.rs", "tools/README.md"]
        );
        assert_eq!(by_key("lingyubu"), ["src/main.rs"]);
        assert_eq!(r.uncategorized, ["weird.bin"]);
        assert_eq!(r.verify_commands, ["cargo test", "git status --short"]);
        assert_eq!(
            r.departments
                .iter()
                .map(|d| d.key.as_str())
                .collect::<Vec<_>>(),
            ["zhilibu", "gongchengbu", "lingyubu"]
        );
    }

    #[test]
    fn risks_match_substrings_case_insensitively_unless_allowed() {
        let mut config = GovernanceConfig::default();
        config.risk_rules[2].allow_pattern = Some("vendor/ok/".into());
        let r = route(
            &config,
            &Mode::Worktree,
            vec![
                "app/.ENV".into(),
                "build/Output/x".into(),
                "vendor/ok/a".into(),
                "vendor/bad/b".into(),
            ],
            scan(),
        )
        .unwrap();
        let hits: Vec<(&str, &str)> = r
            .risks
            .iter()
            .map(|h| (h.path.as_str(), h.name.as_str()))
            .collect();
        assert_eq!(
            hits,
            [
                ("app/.ENV", "secret_file"),
                ("build/Output/x", "runtime_artifact"),
                ("vendor/bad/b", "vendor_tree")
            ]
        );
    }

    #[test]
    fn suggestions_add_menxia_and_pick_models() {
        let models = ModelPolicy {
            zhongshu_model: "big",
            department_model: "small",
        };
        let (menxia, plan) = suggest_assignments("t", &report(&["README.md"]), &models);
        assert!(!menxia);
        assert_eq!(plan.len(), 1);
        assert_eq!(plan[0].model, "small");
        let (menxia, plan) = suggest_assignments("t", &report(&["vendor/x.rs"]), &models);
        assert!(menxia);
        assert_eq!(plan[0].department, "menxia");
        assert_eq!(plan[0].model, "big");
        assert_eq!(plan[1].model, "small");
        let many: Vec<String> = (0..20).map(|i| format!("src/f{i}.rs")).collect();
        let many: Vec<&str> = many.iter().map(String::as_str).collect();
        let (_, plan) = suggest_assignments("t", &report(&many), &models);
        assert!(
            plan.iter().all(|a| a.model == "big"),
            "large implementation changes use the big model"
        );
    }
}
