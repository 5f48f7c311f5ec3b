//! The states of the contract as types. Each serialises exactly as the string the API has always
//! sent, so the wire format does not change; the compiler finds every place a new state must be
//! handled.

use serde::{Deserialize, Serialize};

/// Defines a fieldless enum with its wire names and `as_str`.
macro_rules! wire_enum {
    ($(#[$meta:meta])* $name:ident { $($(#[$vmeta:meta])* $variant:ident = $wire:literal,)+ }) => {
        $(#[$meta])*
        #[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
        pub enum $name {
            $($(#[$vmeta])* #[serde(rename = $wire)] $variant,)+
        }

        impl $name {
            /// The wire form.
            pub fn as_str(self) -> &'static str {
                match self {
                    $($name::$variant => $wire,)+
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
