//! The launcher engine: sessions, plans, queue, mailbox, heartbeat and audit. No Leptos types
//! beyond the API contract it implements.

pub mod agent;

use std::sync::Arc;

use app::api::{AgentInfo, ApiResult, DepartmentInfo, EngineApi, StatusPayload, API_VERSION};

use crate::config::Config;
use crate::report::config::GovernanceConfig;
use agent::AgentProfile;

/// The engine behind the API.
pub struct Engine {
    config: Arc<Config>,
    governance: GovernanceConfig,
    agent: AgentProfile,
}

impl Engine {
    pub fn new(config: Arc<Config>, governance: GovernanceConfig) -> anyhow::Result<Engine> {
        let agent = AgentProfile::select(config.agent.as_deref()).map_err(anyhow::Error::msg)?;
        Ok(Engine {
            config,
            governance,
            agent,
        })
    }

    fn departments(&self) -> Vec<DepartmentInfo> {
        self.governance
            .department_titles()
            .into_iter()
            .map(|(key, title, duty)| DepartmentInfo { key, title, duty })
            .collect()
    }
}

impl EngineApi for Engine {
    fn status(&self) -> ApiResult<StatusPayload> {
        let config = &self.config;
        Ok(StatusPayload {
            ok: true,
            api_version: API_VERSION,
            repo: config.repo.display().to_string(),
            project_name: config.project_name.clone(),
            workflow_doc: config.workflow_doc.clone(),
            departments: self.departments(),
            active_terminals: 0,
            active_department_sessions: 0,
            active_zhongshu_sessions: 0,
            active_sessions_total: 0,
            max_terminals: config.max_departments,
            max_department_sessions: config.max_departments,
            model_choices: config.models.clone(),
            zhongshu_model: config.zhongshu_model.clone(),
            department_model: config.department_model.clone(),
            agent: AgentInfo {
                name: self.agent.name.clone(),
                available: self.agent.available(),
                command: self.agent.command_line(),
            },
            dispatch: config.dispatch.as_str().to_string(),
            browser_terminals: Vec::new(),
            queue: Vec::new(),
            department_queue: Vec::new(),
            sessions: Vec::new(),
            zhongshu_sessions: Vec::new(),
            department_sessions: Vec::new(),
        })
    }
}
