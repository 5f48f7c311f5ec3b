//! Finds the operating-system commands (OSC) that agents use to announce themselves in their
//! output: the window title (OSC 0 / 2) and Codex's state report (OSC 7501,
//! `ESC ] 7501 ; state=working:app=codex ESC \`). The scanner keeps its place across reads, so
//! a sequence split between two reads is still found; everything else passes untouched.

/// Longest OSC payload kept; longer ones (images, clipboard data) are skipped, not buffered.
const MAX_PAYLOAD: usize = 4096;

/// Something an agent announced on its terminal.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum TerminalSignal {
    /// OSC 0 or 2: the window title.
    Title(String),
    /// OSC 7501: the `state=` value (`idle`, `working`, `done` for Codex; also `blocked` for
    /// Claude Code at a permission prompt).
    AgentState(String),
    /// OSC 7501 `?`: the program asks whether the terminal understands state reports (Claude
    /// Code reports its state only when this is answered).
    StateQuery,
    /// OSC 7502: the launcher's own workspace preparation, which runs in the session's terminal
    /// before the agent: `ready`, or `failed;<reason>`.
    Workspace(WorkspaceSignal),
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub enum WorkspaceSignal {
    Ready,
    Failed(String),
}

impl WorkspaceSignal {
    /// The sequence that announces this signal (the reason without control characters).
    pub fn sequence(&self) -> String {
        match self {
            WorkspaceSignal::Ready => "\x1b]7502;ready\x1b\\".to_string(),
            WorkspaceSignal::Failed(reason) => {
                let reason: String = reason.chars().filter(|c| !c.is_control()).collect();
                format!("\x1b]7502;failed;{reason}\x1b\\")
            }
        }
    }
}

#[derive(Debug, Default, Clone, Copy, PartialEq, Eq)]
enum Phase {
    #[default]
    Text,
    /// After ESC.
    Escape,
    /// Inside `ESC ]` ... collecting the payload.
    Payload,
    /// Inside the payload, after an ESC (the start of the `ESC \` terminator).
    PayloadEscape,
    /// A payload too long to keep: wait for its end.
    Skipping,
    SkippingEscape,
}

/// Streaming OSC scanner.
#[derive(Debug, Default)]
pub struct OscScanner {
    phase: Phase,
    payload: Vec<u8>,
}

impl OscScanner {
    /// Scans one chunk of output and returns the signals completed in it.
    pub fn scan(&mut self, bytes: &[u8]) -> Vec<TerminalSignal> {
        let mut found = Vec::new();
        for &byte in bytes {
            self.phase = match (self.phase, byte) {
                (Phase::Text, 0x1b) => Phase::Escape,
                (Phase::Text, _) => Phase::Text,
                (Phase::Escape, b']') => {
                    self.payload.clear();
                    Phase::Payload
                }
                (Phase::Escape, 0x1b) => Phase::Escape,
                (Phase::Escape, _) => Phase::Text,
                // BEL ends an OSC too (xterm accepts both terminators).
                (Phase::Payload, 0x07) => {
                    found.extend(self.finish());
                    Phase::Text
                }
                (Phase::Payload, 0x1b) => Phase::PayloadEscape,
                (Phase::Payload, _) if self.payload.len() >= MAX_PAYLOAD => Phase::Skipping,
                (Phase::Payload, _) => {
                    self.payload.push(byte);
                    Phase::Payload
                }
                (Phase::PayloadEscape, b'\\') => {
                    found.extend(self.finish());
                    Phase::Text
                }
                // Any other ESC cancels the sequence and starts a new escape.
                (Phase::PayloadEscape, b']') => {
                    self.payload.clear();
                    Phase::Payload
                }
                (Phase::PayloadEscape, _) => Phase::Text,
                (Phase::Skipping, 0x07) => Phase::Text,
                (Phase::Skipping, 0x1b) => Phase::SkippingEscape,
                (Phase::Skipping, _) => Phase::Skipping,
                (Phase::SkippingEscape, _) => Phase::Text,
            };
        }
        found
    }

    fn finish(&mut self) -> Option<TerminalSignal> {
        let payload = String::from_utf8_lossy(&self.payload).into_owned();
        self.payload.clear();
        let (code, rest) = payload.split_once(';')?;
        match code {
            "0" | "2" => Some(TerminalSignal::Title(rest.to_string())),
            "7501" if rest == "?" => Some(TerminalSignal::StateQuery),
            "7501" => rest
                .split([':', ';'])
                .find_map(|field| field.strip_prefix("state="))
                .filter(|state| !state.is_empty())
                .map(|state| TerminalSignal::AgentState(state.to_string())),
            "7502" if rest == "ready" => Some(TerminalSignal::Workspace(WorkspaceSignal::Ready)),
            "7502" => rest.strip_prefix("failed;").map(|reason| {
                TerminalSignal::Workspace(WorkspaceSignal::Failed(reason.to_string()))
            }),
            _ => None,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn finds_codex_state_and_titles_with_either_terminator() {
        let mut scanner = OscScanner::default();
        let found = scanner.scan(
            b"\x1b[2Jhello\x1b]7501;state=working:app=codex\x1b\\x\x1b]0;\xe2\xa0\x8b Mock task | repo\x07\x1b]7501;state=idle:app=codex\x1b\\",
        );
        assert_eq!(
            found,
            [
                TerminalSignal::AgentState("working".into()),
                TerminalSignal::Title("⠋ Mock task | repo".into()),
                TerminalSignal::AgentState("idle".into()),
            ]
        );
    }

    #[test]
    fn workspace_signals_read_back_as_written() {
        let mut scanner = OscScanner::default();
        let failed = WorkspaceSignal::Failed("setup `npm ci` exited 1;\x1b] no escape".into());
        let text = format!(
            "out{}more{}",
            failed.sequence(),
            WorkspaceSignal::Ready.sequence()
        );
        assert_eq!(
            scanner.scan(text.as_bytes()),
            [
                TerminalSignal::Workspace(WorkspaceSignal::Failed(
                    "setup `npm ci` exited 1;] no escape".into()
                )),
                TerminalSignal::Workspace(WorkspaceSignal::Ready),
            ]
        );
    }

    #[test]
    fn finds_claude_codes_query_and_states() {
        let mut scanner = OscScanner::default();
        assert_eq!(
            scanner.scan(b"\x1b[>0q\x1b[?u\x1b]7501;?\x07\x1b[c\x1b]7501;state=blocked:app=claude-code:kind=permission:msg=YQ==\x07"),
            [
                TerminalSignal::StateQuery,
                TerminalSignal::AgentState("blocked".into())
            ]
        );
    }

    #[test]
    fn a_sequence_split_across_reads_is_found_once() {
        let bytes = b"ab\x1b]7501;state=done:app=codex\x1b\\cd";
        for split in 0..bytes.len() {
            let mut scanner = OscScanner::default();
            let mut found = scanner.scan(&bytes[..split]);
            found.extend(scanner.scan(&bytes[split..]));
            assert_eq!(
                found,
                [TerminalSignal::AgentState("done".into())],
                "split at {split}"
            );
        }
    }

    #[test]
    fn other_sequences_and_oversized_payloads_are_ignored() {
        let mut scanner = OscScanner::default();
        assert!(scanner
            .scan(b"\x1b]11;?\x1b\\\x1b]8;;http://x\x07")
            .is_empty());
        let mut huge = b"\x1b]52;c;".to_vec();
        huge.extend(std::iter::repeat_n(b'A', 100_000));
        huge.extend(b"\x07\x1b]2;after\x07");
        assert_eq!(scanner.scan(&huge), [TerminalSignal::Title("after".into())]);
        // A cancelled sequence does not swallow the next one.
        assert_eq!(
            scanner.scan(b"\x1b]0;broken\x1b[m\x1b]7501;state=idle\x07"),
            [TerminalSignal::AgentState("idle".into())]
        );
    }
}
