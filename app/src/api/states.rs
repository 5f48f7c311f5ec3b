//! The states of the contract as types. Each serialises exactly as the string the API has always
//! sent, so the wire format does not change; the compiler finds every place a new state must be
//! handled.

use serde::{Deserialize, Serialize};

/// Defines a fieldless enum with its wire names, `as_str`, and serde as that string. Hand-written
/// (de)serializers: a string and a match, much less wasm than serde's derived enum visitors.
macro_rules! wire_enum {
    ($(#[$meta:meta])* $name:ident { $($(#[$vmeta:meta])* $variant:ident = $wire:literal,)+ }) => {
        $(#[$meta])*
        #[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
        #[cfg_attr(feature = "ssr", derive(schemars::JsonSchema))]
        pub enum $name {
            $($(#[$vmeta])* #[cfg_attr(feature = "ssr", schemars(rename = $wire))] $variant,)+
        }

        impl $name {
            /// The wire form.
            pub fn as_str(self) -> &'static str {
                match self {
                    $($name::$variant => $wire,)+
                }
            }
        }

        impl Serialize for $name {
            fn serialize<S: serde::Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
                serializer.serialize_str(self.as_str())
            }
        }

        impl<'de> Deserialize<'de> for $name {
            fn deserialize<D: serde::Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
                let text = std::borrow::Cow::<'de, str>::deserialize(deserializer)?;
                match text.as_ref() {
                    $($wire => Ok($name::$variant),)+
                    other => Err(serde::de::Error::unknown_variant(other, &[$($wire),+])),
                }
            }
        }

        impl std::fmt::Display for $name {
            fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
                f.write_str(self.as_str())
            }
        }
    };
}

wire_enum! {
    /// `session_kind` and `role` of a session.
    SessionKind {
        Zhongshu = "zhongshu",
        Department = "department",
    }
}

wire_enum! {
    /// Whether a session's process runs.
    SessionStatus {
        Running = "running",
        Exited = "exited",
        /// The process died with a previous server run.
        Interrupted = "interrupted",
    }
}

wire_enum! {
    /// Whether a department has reported.
    ReportStatus {
        Pending = "pending",
        Reported = "reported",
    }
}

wire_enum! {
    /// A department's liveness from its output (SPEC §Heartbeat).
    Heartbeat {
        Active = "active",
        Stalled = "stalled",
        Exited = "exited",
        /// No output yet.
        Unknown = "unknown",
        /// Zhongshu sessions have no heartbeat.
        NotApplicable = "n/a",
    }
}

wire_enum! {
    /// Where a Zhongshu's plan stands.
    PlanStatus {
        Waiting = "waiting",
        AwaitingConfirmation = "awaiting_confirmation",
        Confirmed = "confirmed",
    }
}

wire_enum! {
    /// Who reported a plan.
    PlanSource {
        /// The launcher itself: the empty plan before the Zhongshu reports one.
        Launcher = "launcher",
        /// A plan file in the Zhongshu's mailbox.
        Mailbox = "mailbox",
        /// `POST /api/report_zhongshu_plan`.
        Http = "http",
    }
}

wire_enum! {
    /// Who reported a result.
    ResultSource {
        /// A report file in the mailbox.
        Mailbox = "mailbox",
        /// An HTTP call to the API.
        Http = "http",
        /// The launcher, for a department that ended without a report.
        LauncherFallback = "launcher_fallback",
    }
}

wire_enum! {
    /// Whether a terminal's process runs.
    TerminalStatus {
        Running = "running",
        Exited = "exited",
    }
}

wire_enum! {
    /// What a browser terminal shows.
    TerminalKind {
        /// The user's own shell.
        Interactive = "interactive",
        /// A read-only view of a session.
        SessionPreview = "session_preview",
        /// A session's terminal that takes keystrokes from the viewer holding control.
        CodexSession = "codex_session",
        /// The launcher's verification commands for a department's result (read-only).
        Verification = "verification",
    }
}

wire_enum! {
    /// Whether a terminal belongs to a session.
    TerminalScope {
        Global = "global",
        Session = "session",
    }
}

wire_enum! {
    /// How serious a risk rule's hit is.
    RiskLevel {
        Low = "low",
        Medium = "medium",
        High = "high",
    }
}

wire_enum! {
    /// The portability check's verdict.
    Decision {
        Pass = "PASS",
        Review = "REVIEW",
    }
}

wire_enum! {
    /// A portability match inside an example (allowed) or in live text.
    Classification {
        Example = "example",
        Violation = "violation",
    }
}

wire_enum! {
    /// Where a worktree report came from.
    ReportSource {
        /// The server's change index, kept current by file events.
        Index = "index",
        /// A scan of the repository.
        Scan = "scan",
    }
}

wire_enum! {
    /// How the server learns of changes in the repository.
    ReportWatch {
        /// File events.
        Events = "events",
        /// Periodic scans (no events could be had).
        Polling = "polling",
    }
}

wire_enum! {
    /// What an agent says it is doing, from the signals it prints on its terminal (Codex and
    /// Claude Code: OSC 7501).
    #[derive(Default)]
    AgentState {
        /// In a turn: thinking or running a tool.
        Working = "working",
        /// At its prompt, waiting for the user (or the launcher) to type.
        WaitingForInput = "waiting_for_input",
        /// Finished its turn.
        Done = "done",
        /// The agent announces nothing (or has not yet).
        #[default]
        Unknown = "unknown",
    }
}

impl AgentState {
    /// The state a Codex-style `state=` value announces; `None` for values it does not know.
    pub fn from_announced(value: &str) -> Option<AgentState> {
        match value {
            "working" | "busy" => Some(AgentState::Working),
            // Claude Code: `blocked` at a permission prompt.
            "idle" | "waiting" | "blocked" => Some(AgentState::WaitingForInput),
            "done" => Some(AgentState::Done),
            _ => None,
        }
    }

    /// Not in the middle of a turn.
    pub fn is_at_rest(self) -> bool {
        matches!(self, AgentState::WaitingForInput | AgentState::Done)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn states_keep_their_wire_names() {
        assert_eq!(
            serde_json::to_string(&Heartbeat::NotApplicable).unwrap(),
            r#""n/a""#
        );
        assert_eq!(
            serde_json::from_str::<ResultSource>(r#""launcher_fallback""#).unwrap(),
            ResultSource::LauncherFallback
        );
        assert_eq!(
            serde_json::to_string(&PlanStatus::AwaitingConfirmation).unwrap(),
            r#""awaiting_confirmation""#
        );
        assert_eq!(Decision::Review.as_str(), "REVIEW");
        assert_eq!(SessionStatus::Interrupted.to_string(), "interrupted");
        assert!(serde_json::from_str::<RiskLevel>(r#""severe""#).is_err());
    }
}

wire_enum! {
    /// Whether department sessions get a worktree of their own.
    WorkspaceMode {
        Worktree = "worktree",
        /// Every session works in the repository itself.
        Shared = "shared",
    }
}

wire_enum! {
    /// Where a department's workspace is in its life.
    WorkspaceStatus {
        /// The worktree is being created and set up; the agent has not started.
        Preparing = "preparing",
        Ready = "ready",
        /// Creating or setting up the worktree failed; the agent never started.
        Failed = "failed",
        /// The session ended; the worktree and its work stay.
        Closed = "closed",
        /// Merged into the base branch; the worktree was removed (the branch stays unless asked).
        Merged = "merged",
        /// Removed on request; its branch stays.
        Removed = "removed",
    }
}

wire_enum! {
    /// What a workspace warning is about.
    WorkspaceWarningKind {
        /// The department changed a file the rules route to another department.
        Boundary = "boundary",
        /// Two live workspaces changed the same path.
        Collision = "collision",
    }
}

wire_enum! {
    /// What an ownership warning on a plan is about.
    OwnershipKind {
        OwnedByOther = "owned_by_other",
        Overlap = "overlap",
    }
}

wire_enum! {
    /// How a file of a workspace differs from its base.
    FileChangeStatus {
        Added = "added",
        Modified = "modified",
        Deleted = "deleted",
        Renamed = "renamed",
        Untracked = "untracked",
    }
}

wire_enum! {
    /// Where the launcher's verification of a result stands.
    VerificationStatus {
        Running = "running",
        Passed = "passed",
        Failed = "failed",
        /// No verification command applies to the changed paths.
        Skipped = "skipped",
    }
}

wire_enum! {
    /// How a department's branch reaches its base branch.
    MergeStrategy {
        /// One new commit with the department's changes.
        Squash = "squash",
        /// A merge commit with both histories.
        Merge = "merge",
    }
}
