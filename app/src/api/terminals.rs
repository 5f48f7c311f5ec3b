//! Browser terminal requests and responses (SPEC §Terminals). The terminal record itself is
//! [`super::BrowserTerminal`].

use serde::{Deserialize, Deserializer, Serialize};

use super::{BrowserTerminal, Session};

/// `shell_args` as a list, or as one string split at whitespace (as the reference sent it).
#[derive(Deserialize)]
#[cfg_attr(feature = "ssr", derive(schemars::JsonSchema))]
#[serde(untagged)]
enum ShellArgs {
    List(Vec<String>),
    Line(String),
}

fn shell_args<'de, D: Deserializer<'de>>(d: D) -> Result<Option<Vec<String>>, D::Error> {
    Ok(match Option::<ShellArgs>::deserialize(d)? {
        None => None,
        Some(ShellArgs::List(list)) => Some(list),
        Some(ShellArgs::Line(line)) if line.trim().is_empty() => None,
        Some(ShellArgs::Line(line)) => Some(line.split_whitespace().map(str::to_string).collect()),
    })
}

#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "ssr", derive(schemars::JsonSchema))]
pub struct StartTerminalRequest {
    /// The shell to run (`$SHELL` when absent).
    #[serde(default)]
    pub shell: Option<String>,
    /// Its arguments: a list, or one string split at whitespace.
    #[serde(default, deserialize_with = "shell_args")]
    #[cfg_attr(feature = "ssr", schemars(with = "Option<ShellArgs>"))]
    pub shell_args: Option<Vec<String>>,
}

#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "ssr", derive(schemars::JsonSchema))]
pub struct TerminalIdRequest {
    #[serde(default)]
    #[cfg_attr(feature = "ssr", schemars(!default, length(min = 1)))]
    pub id: String,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "ssr", derive(schemars::JsonSchema))]
pub struct TerminalResponse {
    pub ok: bool,
    pub terminal: BrowserTerminal,
    /// An existing terminal was returned instead of starting a new one.
    pub reused: bool,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[cfg_attr(feature = "ssr", derive(schemars::JsonSchema))]
pub struct SessionTerminalResponse {
    pub ok: bool,
    pub terminal: BrowserTerminal,
    pub reused: bool,
    pub session: Session,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "ssr", derive(schemars::JsonSchema))]
pub struct TerminalsResponse {
    pub ok: bool,
    pub terminals: Vec<BrowserTerminal>,
}

/// Control messages a terminal viewer sends as WebSocket text frames. Input bytes travel as
/// binary frames.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(tag = "type", rename_all = "lowercase")]
pub enum ClientControl {
    /// The terminal's size in cells.
    Resize { cols: u16, rows: u16 },
    /// The viewer has processed this many more output bytes (flow control).
    Ack { bytes: u64 },
}

/// Events the server sends as WebSocket text frames. Output bytes travel as binary frames.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(tag = "type", rename_all = "lowercase")]
pub enum ServerEvent {
    /// The process ended; no more output will come.
    Exit { code: Option<i32> },
    /// This viewer missed `bytes` bytes of output (it fell behind the retained output, or asked
    /// for bytes no longer kept); the next output byte has the stream offset `offset`.
    Skipped { bytes: u64, offset: u64 },
    /// Describes the terminal once, before any output: its size is the PTY's, in cells, and
    /// `offset` is the stream offset of the first output byte that follows (every byte a
    /// terminal ever printed has one, from 0; a viewer that reconnects with `?since=N` resumes
    /// after byte N).
    Hello {
        id: String,
        title: String,
        read_only: bool,
        cols: u16,
        rows: u16,
        offset: u64,
    },
    /// The terminal as it is after the first `offset` bytes, as escape sequences for a viewer to
    /// write as they are (a reset, the history rows, the screen, cursor and input modes); the
    /// output that follows starts at `offset`. Sent instead of a replay that would start in the
    /// middle of the stream: to a viewer that attaches after the retained output lost its
    /// beginning, or that falls behind it.
    Snapshot { offset: u64, data: String },
    /// The PTY's size changed; a viewer that does not control it adopts this size.
    Resize { cols: u16, rows: u16 },
    /// The program set its window title (OSC 0 / 2).
    Title { title: String },
    /// Who may type into a session's terminal: `you`, `other` (another viewer) or `none`.
    Control { holder: ControlHolder },
}

/// The holder of a session terminal's control, as one viewer sees it.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum ControlHolder {
    You,
    Other,
    None,
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn control_messages_have_the_documented_shape() {
        let resize: ClientControl =
            serde_json::from_str(r#"{"type":"resize","cols":80,"rows":24}"#).unwrap();
        assert_eq!(resize, ClientControl::Resize { cols: 80, rows: 24 });
        let ack: ClientControl = serde_json::from_str(r#"{"type":"ack","bytes":65536}"#).unwrap();
        assert_eq!(ack, ClientControl::Ack { bytes: 65536 });
        assert_eq!(
            serde_json::to_string(&ServerEvent::Exit { code: Some(0) }).unwrap(),
            r#"{"type":"exit","code":0}"#
        );
    }

    #[test]
    fn shell_args_accept_a_list_or_a_line() {
        let r: StartTerminalRequest = serde_json::from_str(r#"{"shell_args":"-l -i"}"#).unwrap();
        assert_eq!(r.shell_args, Some(vec!["-l".to_string(), "-i".to_string()]));
        let r: StartTerminalRequest =
            serde_json::from_str(r#"{"shell_args":["-c","echo hi"]}"#).unwrap();
        assert_eq!(
            r.shell_args,
            Some(vec!["-c".to_string(), "echo hi".to_string()])
        );
    }
}
