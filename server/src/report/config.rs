//! Governance configuration: departments (with their file globs and verification commands)
//! and risk rules. Defaults follow SPEC §Report; `governance.yaml` overrides them.

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
    pub level: String,
    pub pattern: String,
    pub message: String,
    pub allow_pattern: Option<String>,
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct GovernanceConfig {
    pub departments: Vec<Department>,
    pub risk_rules: Vec<RiskRule>,
}

/// Menxia is always a department key, even though no files route to it.
pub const MENXIA_KEY: &str = "menxia";
pub const MENXIA_TITLE: &str = "门下省 Menxia";
pub const MENXIA_DUTY: &str = "Risk review, boundary checks, may reject";

fn strings(items: &[&str]) -> Vec<String> {
    items.iter().map(|s| s.to_string()).collect()
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
        let risk = |name: &str, level: &str, pattern: &str, message: &str| RiskRule {
            name: name.into(),
            level: level.into(),
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
                        "AGENTS.md", "CLAUDE.md", "README.md", "API.md", "CONTRIBUTING.md",
                        "SECURITY.md", "RELEASING.md", "LICENSE", "docs/**", "**/README.md",
                    ],
                    &["git status --short"],
                ),
                department(
                    "gongchengbu",
                    "工程部 Engineering",
                    "Launcher, frontend, scripts, verification, regression, release",
                    &[
                        "*.py", "*.ps1", "*.html", "*.yaml", ".gitignore", "scripts/**", "tests/**",
                        "**/tests/**", "tools/**", "*.rs", "Cargo.toml",
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
                risk("runtime_artifact", "high", "output/", "output/ holds build artifacts; do not commit it as source"),
                risk("secret_file", "high", ".env", "Looks like an environment or secret file; confirm it is scrubbed before committing"),
                risk("vendor_tree", "medium", "vendor/", "vendor/ is usually imported code; explain the source and boundary before changing it"),
            ],
        }
    }
}

impl GovernanceConfig {
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
