//! Governance configuration: departments (file globs, verification commands), risk rules and
//! portability surfaces. Defaults follow SPEC §Report; `governance.yaml` at the repository root
//! replaces them. A malformed file is an error naming the file, line and key — never a silent
//! fallback to the defaults.

use std::path::Path;

use anyhow::{bail, Result};
use app::api::RiskLevel;
use serde::Deserialize;

/// A Shangshu department: who owns which files and how their changes are verified.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Department {
    pub key: String,
    pub title: String,
    pub duty: String,
    pub globs: Vec<String>,
    pub verify: Vec<String>,
}

/// A path pattern that flags a change as risky.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct RiskRule {
    pub name: String,
    pub level: RiskLevel,
    pub pattern: String,
    pub message: String,
    pub allow_pattern: Option<String>,
}

/// How a department's worktree is prepared before its agent starts (`workspace:`).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct WorkspaceSetup {
    /// Globs of untracked or ignored files copied from the repository (`.env`, local configs).
    pub copy: Vec<String>,
    /// Shell commands run in the new worktree, in order.
    pub setup: Vec<String>,
    /// Time allowed for all setup commands together.
    pub setup_timeout_seconds: u64,
}

impl Default for WorkspaceSetup {
    fn default() -> Self {
        WorkspaceSetup {
            copy: Vec::new(),
            setup: Vec::new(),
            setup_timeout_seconds: 600,
        }
    }
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct GovernanceConfig {
    pub departments: Vec<Department>,
    pub risk_rules: Vec<RiskRule>,
    /// Globs (with `**`) of the files the portability scan reads.
    pub portability_surfaces: Vec<String>,
    pub workspace: WorkspaceSetup,
    /// Time allowed for each verification command the launcher runs.
    pub verify_timeout_seconds: u64,
}

pub const CONFIG_FILE: &str = "governance.yaml";

/// Menxia is always a department key, even though no files route to it.
pub const MENXIA_KEY: &str = "menxia";
pub const MENXIA_TITLE: &str = "门下省 Menxia";
pub const MENXIA_DUTY: &str = "Risk review, boundary checks, may reject";

fn strings(items: &[&str]) -> Vec<String> {
    items.iter().map(|s| s.to_string()).collect()
}

pub fn default_surfaces() -> Vec<String> {
    strings(&[
        "AGENTS.md",
        "README.md",
        "API.md",
        "docs/governance/**/*.md",
        "docs/contracts/**/*.md",
    ])
}

impl Default for GovernanceConfig {
    fn default() -> Self {
        let department =
            |key: &str, title: &str, duty: &str, globs: &[&str], verify: &[&str]| Department {
                key: key.into(),
                title: title.into(),
                duty: duty.into(),
                globs: strings(globs),
                verify: strings(verify),
            };
        let risk = |name: &str, level: RiskLevel, pattern: &str, message: &str| RiskRule {
            name: name.into(),
            level,
            pattern: pattern.into(),
            message: message.into(),
            allow_pattern: None,
        };
        GovernanceConfig {
            departments: vec![
                department(
                    "zhilibu",
                    "治理部 Governance",
                    "Task split, agent rules, README, docs, release notes",
                    &[
                        "AGENTS.md", "CLAUDE.md", "README.md", "API.md", "CONTRIBUTING.md", "SECURITY.md",
                        "RELEASING.md", "LICENSE", "docs/**", "**/README.md",
                    ],
                    &["git status --short"],
                ),
                department(
                    "gongchengbu",
                    "工程部 Engineering",
                    "Launcher, frontend, scripts, verification, regression, release",
                    &[
                        "*.py", "*.ps1", "*.html", "*.yaml", ".gitignore", "scripts/**", "tests/**", "**/tests/**",
                        "tools/**", "*.rs", "Cargo.toml",
                    ],
                    &["cargo test"],
                ),
                department(
                    "lingyubu",
                    "领域部 Domain",
                    "Domain implementation, business code, integration",
                    &["src/**", "app/**", "packages/**", "data/**", "models/**"],
                    &["git status --short"],
                ),
            ],
            risk_rules: vec![
                risk("runtime_artifact", RiskLevel::High, "output/", "output/ holds build artifacts; do not commit it as source"),
                risk("secret_file", RiskLevel::High, ".env", "Looks like an environment or secret file; confirm it is scrubbed before committing"),
                risk("vendor_tree", RiskLevel::Medium, "vendor/", "vendor/ is usually imported code; explain the source and boundary before changing it"),
            ],
            portability_surfaces: default_surfaces(),
            workspace: WorkspaceSetup::default(),
            verify_timeout_seconds: 600,
        }
    }
}

// ---- governance.yaml ----

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
struct FileConfig {
    #[serde(default)]
    #[allow(dead_code)]
    version: Option<serde_yaml_ng::Value>,
    #[serde(default)]
    #[allow(dead_code)]
    name: Option<String>,
    #[serde(default)]
    #[allow(dead_code)]
    provinces: Option<serde_yaml_ng::Value>,
    #[serde(default)]
    departments: Option<DepartmentMap>,
    #[serde(default)]
    risk_rules: Option<Vec<FileRisk>>,
    #[serde(default)]
    portability: Option<FilePortability>,
    #[serde(default)]
    workspace: Option<FileWorkspace>,
    #[serde(default)]
    verify_timeout_seconds: Option<u64>,
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
struct FileWorkspace {
    #[serde(default)]
    copy: Vec<String>,
    #[serde(default)]
    setup: Vec<String>,
    #[serde(default)]
    setup_timeout_seconds: Option<u64>,
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
struct FileDepartment {
    #[serde(default)]
    title: Option<String>,
    #[serde(default)]
    duty: String,
    #[serde(default)]
    globs: Vec<String>,
    #[serde(default)]
    verify: Vec<String>,
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
struct FileRisk {
    #[serde(default = "custom_name")]
    name: String,
    #[serde(default = "medium_level")]
    level: String,
    pattern: String,
    #[serde(default)]
    message: String,
    #[serde(default)]
    allow_pattern: Option<String>,
}

fn custom_name() -> String {
    "custom".into()
}

fn medium_level() -> String {
    "medium".into()
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
struct FilePortability {
    surfaces: Vec<String>,
}

/// `departments:` keeps the file's order (a plain map would not).
#[derive(Debug)]
struct DepartmentMap(Vec<(String, FileDepartment)>);

impl<'de> Deserialize<'de> for DepartmentMap {
    fn deserialize<D: serde::Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        struct Visitor;
        impl<'de> serde::de::Visitor<'de> for Visitor {
            type Value = DepartmentMap;
            fn expecting(&self, f: &mut std::fmt::Formatter) -> std::fmt::Result {
                f.write_str("a map of department key to {title, duty, globs, verify}")
            }
            fn visit_map<A: serde::de::MapAccess<'de>>(
                self,
                mut access: A,
            ) -> Result<DepartmentMap, A::Error> {
                let mut out = Vec::new();
                while let Some(entry) = access.next_entry::<String, FileDepartment>()? {
                    out.push(entry);
                }
                Ok(DepartmentMap(out))
            }
        }
        d.deserialize_map(Visitor)
    }
}

const LEVELS: [RiskLevel; 3] = [RiskLevel::Low, RiskLevel::Medium, RiskLevel::High];

impl GovernanceConfig {
    /// `governance.yaml` of the repository, or the defaults when there is none.
    pub fn load(repo: &Path) -> Result<GovernanceConfig> {
        let path = repo.join(CONFIG_FILE);
        match std::fs::read_to_string(&path) {
            Ok(text) => Self::parse(&text, &path.display().to_string()),
            Err(err) if err.kind() == std::io::ErrorKind::NotFound => {
                Ok(GovernanceConfig::default())
            }
            Err(err) => bail!("{}: {err}", path.display()),
        }
    }

    /// Parses the YAML text; `origin` names the file in errors.
    pub fn parse(text: &str, origin: &str) -> Result<GovernanceConfig> {
        let deserializer = serde_yaml_ng::Deserializer::from_str(text);
        let file: FileConfig = serde_path_to_error::deserialize(deserializer).map_err(|err| {
            let key = err.path().to_string();
            let inner = err.into_inner();
            let at = inner
                .location()
                .map(|l| format!(" line {} column {}", l.line(), l.column()))
                .unwrap_or_default();
            anyhow::anyhow!("{origin}{at}: key `{key}`: {inner}")
        })?;
        let defaults = GovernanceConfig::default();
        let departments = match file.departments {
            None => defaults.departments,
            Some(DepartmentMap(list)) => {
                let mut out = Vec::new();
                for (key, d) in list {
                    // Keys name branches and directories too, so they must be plain ids.
                    if key == MENXIA_KEY || !crate::ids::is_valid_id(&key) {
                        bail!("{origin}{}: key `departments.{key}`: department keys must match [A-Za-z0-9][A-Za-z0-9_-]* (they name worktree branches) and not be `menxia`", line_of_key(text, &key));
                    }
                    out.push(Department {
                        title: d.title.unwrap_or_else(|| key.clone()),
                        key,
                        duty: d.duty,
                        globs: d
                            .globs
                            .into_iter()
                            .map(|g| g.trim().replace('\\', "/"))
                            .filter(|g| !g.is_empty())
                            .collect(),
                        verify: d
                            .verify
                            .into_iter()
                            .filter(|v| !v.trim().is_empty())
                            .collect(),
                    });
                }
                if out.is_empty() {
                    bail!("{origin}: key `departments`: at least one department is required");
                }
                out
            }
        };
        let risk_rules = match file.risk_rules {
            None => defaults.risk_rules,
            Some(rules) => rules
                .into_iter()
                .enumerate()
                .map(|(i, r)| {
                    if r.pattern.trim().is_empty() {
                        bail!("{origin}: key `risk_rules[{i}].pattern`: must not be empty");
                    }
                    let Some(level) = LEVELS.into_iter().find(|l| l.as_str() == r.level) else {
                        bail!("{origin}: key `risk_rules[{i}].level`: {:?} is not one of low, medium, high", r.level);
                    };
                    Ok(RiskRule {
                        name: r.name,
                        level,
                        pattern: r.pattern.replace('\\', "/"),
                        message: r.message,
                        allow_pattern: r.allow_pattern.filter(|a| !a.is_empty()),
                    })
                })
                .collect::<Result<Vec<_>>>()?,
        };
        let portability_surfaces = file
            .portability
            .map(|p| p.surfaces)
            .unwrap_or_else(default_surfaces);
        let workspace = match file.workspace {
            None => WorkspaceSetup::default(),
            Some(w) => {
                let clean = |items: Vec<String>| -> Vec<String> {
                    items
                        .into_iter()
                        .map(|item| item.trim().to_string())
                        .filter(|item| !item.is_empty())
                        .collect()
                };
                let copy = clean(w.copy);
                if let Some(bad) = copy
                    .iter()
                    .find(|glob| glob.starts_with('/') || glob.split('/').any(|part| part == ".."))
                {
                    bail!("{origin}: key `workspace.copy`: {bad:?} must be a path inside the repository");
                }
                let timeout = w.setup_timeout_seconds.unwrap_or(600);
                if timeout == 0 {
                    bail!("{origin}: key `workspace.setup_timeout_seconds`: must be at least 1");
                }
                WorkspaceSetup {
                    copy,
                    setup: clean(w.setup),
                    setup_timeout_seconds: timeout,
                }
            }
        };
        let verify_timeout_seconds = file.verify_timeout_seconds.unwrap_or(600);
        if verify_timeout_seconds == 0 {
            bail!("{origin}: key `verify_timeout_seconds`: must be at least 1");
        }
        Ok(GovernanceConfig {
            departments,
            risk_rules,
            portability_surfaces,
            workspace,
            verify_timeout_seconds,
        })
    }

    /// Department keys a plan may name: Menxia plus the configured departments.
    pub fn department_titles(&self) -> Vec<(String, String, String)> {
        std::iter::once((
            MENXIA_KEY.to_string(),
            MENXIA_TITLE.to_string(),
            MENXIA_DUTY.to_string(),
        ))
        .chain(
            self.departments
                .iter()
                .map(|d| (d.key.clone(), d.title.clone(), d.duty.clone())),
        )
        .collect()
    }
}

/// ` line N` of the first line that holds `key:` as a mapping key, for error messages.
fn line_of_key(text: &str, key: &str) -> String {
    text.lines()
        .position(|line| {
            let line = line.trim_start();
            let unquoted = line.trim_start_matches(['"', '\'']);
            unquoted.starts_with(key)
                && unquoted[key.len()..]
                    .trim_start_matches(['"', '\''])
                    .starts_with(':')
        })
        .map(|at| format!(" line {}", at + 1))
        .unwrap_or_default()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn workspace_setup_is_read_and_checked() {
        let config = GovernanceConfig::parse(
            "workspace:\n  copy: [\".env\", \".env.*\", \" \"]\n  setup: [\"npm ci --prefer-offline\"]\n  setup_timeout_seconds: 30\n",
            "governance.yaml",
        )
        .unwrap();
        assert_eq!(config.workspace.copy, [".env", ".env.*"]);
        assert_eq!(config.workspace.setup, ["npm ci --prefer-offline"]);
        assert_eq!(config.workspace.setup_timeout_seconds, 30);
        assert_eq!(
            GovernanceConfig::default().workspace.setup_timeout_seconds,
            600
        );
        let err = GovernanceConfig::parse("workspace:\n  copy: [\"../secrets\"]\n", "g.yaml")
            .unwrap_err()
            .to_string();
        assert!(err.contains("workspace.copy"), "{err}");
        let err = GovernanceConfig::parse("workspace:\n  setup_timeout_seconds: 0\n", "g.yaml")
            .unwrap_err()
            .to_string();
        assert!(err.contains("setup_timeout_seconds"), "{err}");
    }

    #[test]
    fn a_department_key_that_cannot_name_a_branch_is_refused_with_its_line() {
        let err = GovernanceConfig::parse(
            "departments:\n  docs:\n    globs: [a]\n  \"bad..key\":\n    globs: [b]\n",
            "governance.yaml",
        )
        .unwrap_err()
        .to_string();
        assert!(err.contains("governance.yaml line 4"), "{err}");
        assert!(err.contains("departments.bad..key"), "{err}");
    }

    #[test]
    fn a_file_replaces_the_defaults_in_order() {
        let config = GovernanceConfig::parse(
            "version: 1\nname: x\nprovinces: {zhongshu: {title: a}}\n\
             departments:\n  docs:\n    title: 文档\n    globs: [\"docs/**\"]\n  code:\n    duty: code\n    globs: [\"src\\\\**\"]\n    verify: [cargo test]\n\
             risk_rules:\n  - name: sdk\n    level: high\n    pattern: vendor/sdk/\n    allow_pattern: vendor/sdk/demo/\n    message: m\n\
             portability:\n  surfaces: [\"docs/**/*.md\"]\n",
            "governance.yaml",
        )
        .unwrap();
        let keys: Vec<&str> = config.departments.iter().map(|d| d.key.as_str()).collect();
        assert_eq!(keys, ["docs", "code"]);
        assert_eq!(config.departments[1].title, "code");
        assert_eq!(config.departments[1].globs, ["src/**"]);
        assert_eq!(
            config.risk_rules[0].allow_pattern.as_deref(),
            Some("vendor/sdk/demo/")
        );
        assert_eq!(config.portability_surfaces, ["docs/**/*.md"]);
    }

    #[test]
    fn malformed_files_name_the_file_line_and_key() {
        let err =
            GovernanceConfig::parse("departments:\n  docs:\n    globs: 5\n", "governance.yaml")
                .unwrap_err()
                .to_string();
        assert!(err.contains("governance.yaml line 3"), "{err}");
        assert!(err.contains("departments.docs.globs"), "{err}");

        let err =
            GovernanceConfig::parse("departments:\n  docs:\n    glob: [a]\n", "governance.yaml")
                .unwrap_err()
                .to_string();
        assert!(err.contains("unknown field `glob`"), "{err}");

        let err =
            GovernanceConfig::parse("risk_rules:\n  - pattern: x\n    level: severe\n", "g.yaml")
                .unwrap_err()
                .to_string();
        assert!(err.contains("risk_rules[0].level"), "{err}");
        assert!(GovernanceConfig::parse("departments: [\n", "g.yaml").is_err());
    }

    #[test]
    fn a_missing_file_means_the_defaults() {
        let dir = tempfile::tempdir().unwrap();
        assert_eq!(
            GovernanceConfig::load(dir.path()).unwrap(),
            GovernanceConfig::default()
        );
    }
}
