//! The PTY host's wire protocol, between a server and the `pty-host` process over the Unix
//! socket `<state>/pty-host.sock`.
//!
//! Every frame: a 4-byte big-endian length of the rest (at most [`MAX_FRAME`]), one kind byte,
//! then the body:
//! - kind 0: a JSON message ([`ToHost`] from a server, [`FromHost`] from the host);
//! - kind 1: terminal bytes: a 1-byte id length, the id, an 8-byte big-endian stream offset,
//!   then the bytes (output from the host; input to the host, offset 0).
//!
//! A connection starts with `hello {version}`; the host answers `welcome` or, for another
//! protocol version, `refused` (and closes). Anything else malformed closes the connection.

use serde::{Deserialize, Serialize};
use std::io::{self, Read, Write};

use crate::pty::SpawnSpec;

/// Bumped whenever a message changes incompatibly.
pub const PROTOCOL_VERSION: u32 = 1;
/// Largest frame either side accepts.
pub const MAX_FRAME: usize = 4 * 1024 * 1024;

const KIND_MESSAGE: u8 = 0;
const KIND_BYTES: u8 = 1;

/// What a server asks of the host.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(tag = "type", rename_all = "snake_case")]
pub enum ToHost {
    Hello {
        version: u32,
    },
    /// Start a process on a new PTY under `id` (a validated id, unique in the host). The
    /// spec's `env` is the process's whole environment (the requesting server's, with the
    /// session's variables): the host never adds its own.
    Spawn {
        req: u64,
        id: String,
        spec: SpawnSpec,
    },
    /// Every terminal the host keeps.
    List {
        req: u64,
    },
    /// Stream `id`'s output to this connection from `since` (else from what is retained; a
    /// snapshot first when the stream would start in the middle), then its exit.
    Attach {
        id: String,
        since: Option<u64>,
    },
    Resize {
        id: String,
        cols: u16,
        rows: u16,
    },
    /// End the process group: SIGHUP + SIGTERM, SIGKILL after a grace period.
    Terminate {
        id: String,
    },
    /// SIGKILL the process group now.
    Kill {
        id: String,
    },
    /// Drop an ended terminal.
    Forget {
        id: String,
    },
    /// End every process group and the host.
    Stop,
}

/// What the host tells a server.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(tag = "type", rename_all = "snake_case")]
pub enum FromHost {
    Welcome {
        version: u32,
        pid: u32,
        started_at: String,
    },
    /// The host speaks another protocol version; it will not be used.
    Refused {
        version: u32,
        pid: u32,
    },
    Spawned {
        req: u64,
        id: String,
        pid: u32,
    },
    Failed {
        req: u64,
        error: String,
    },
    Listing {
        req: u64,
        terminals: Vec<Hosted>,
    },
    /// The terminal as it is after `offset` bytes (see `pty::screen`); output goes on there.
    Snapshot {
        id: String,
        offset: u64,
        data: String,
    },
    /// The process ended (after all its output was sent).
    Exit {
        id: String,
        code: i32,
    },
    Stopping,
}

/// A terminal the host keeps.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Hosted {
    pub id: String,
    pub pid: u32,
    pub exit_code: Option<i32>,
    /// Bytes printed so far.
    pub end: u64,
    pub cols: u16,
    pub rows: u16,
}

/// One frame.
#[derive(Debug, Clone, PartialEq)]
pub enum Frame<M> {
    Message(M),
    Bytes {
        id: String,
        offset: u64,
        data: Vec<u8>,
    },
}

/// Why a frame could not be read.
#[derive(Debug, thiserror::Error)]
pub enum FrameError {
    #[error("{0}")]
    Io(#[from] io::Error),
    #[error("frame of {0} bytes is over the {MAX_FRAME}-byte limit")]
    TooLarge(usize),
    #[error("malformed frame: {0}")]
    Malformed(String),
}

impl FrameError {
    /// The peer closed the connection between frames.
    pub fn is_closed(&self) -> bool {
        matches!(self, FrameError::Io(err) if err.kind() == io::ErrorKind::UnexpectedEof)
    }
}

/// The bytes of a frame, ready to write.
pub fn encode<M: Serialize>(frame: &Frame<M>) -> Vec<u8> {
    let mut body = Vec::new();
    match frame {
        Frame::Message(message) => {
            body.push(KIND_MESSAGE);
            // Serialising our own types into memory cannot fail.
            serde_json::to_writer(&mut body, message).expect("message serialises");
        }
        Frame::Bytes { id, offset, data } => {
            body.push(KIND_BYTES);
            let id = &id.as_bytes()[..id.len().min(255)];
            body.push(id.len() as u8);
            body.extend_from_slice(id);
            body.extend_from_slice(&offset.to_be_bytes());
            body.extend_from_slice(data);
        }
    }
    let mut out = Vec::with_capacity(body.len() + 4);
    out.extend_from_slice(&(body.len() as u32).to_be_bytes());
    out.extend_from_slice(&body);
    out
}

/// Writes one frame.
pub fn write_frame<M: Serialize>(out: &mut impl Write, frame: &Frame<M>) -> io::Result<()> {
    out.write_all(&encode(frame))
}

/// Reads one frame (blocking).
pub fn read_frame<M: for<'de> Deserialize<'de>>(
    input: &mut impl Read,
) -> Result<Frame<M>, FrameError> {
    let mut len = [0u8; 4];
    input.read_exact(&mut len)?;
    let len = u32::from_be_bytes(len) as usize;
    if len > MAX_FRAME {
        return Err(FrameError::TooLarge(len));
    }
    let mut body = vec![0u8; len];
    input.read_exact(&mut body)?;
    decode(&body)
}

/// A frame from its body (the bytes after the length).
pub fn decode<M: for<'de> Deserialize<'de>>(body: &[u8]) -> Result<Frame<M>, FrameError> {
    let malformed = |what: &str| FrameError::Malformed(what.to_string());
    let (&kind, rest) = body.split_first().ok_or_else(|| malformed("empty frame"))?;
    match kind {
        KIND_MESSAGE => serde_json::from_slice(rest)
            .map(Frame::Message)
            .map_err(|err| FrameError::Malformed(err.to_string())),
        KIND_BYTES => {
            let (&id_len, rest) = rest.split_first().ok_or_else(|| malformed("no id"))?;
            let id_len = id_len as usize;
            if rest.len() < id_len + 8 {
                return Err(malformed("truncated bytes frame"));
            }
            let id = std::str::from_utf8(&rest[..id_len])
                .map_err(|_| malformed("id is not UTF-8"))?
                .to_string();
            let mut offset = [0u8; 8];
            offset.copy_from_slice(&rest[id_len..id_len + 8]);
            Ok(Frame::Bytes {
                id,
                offset: u64::from_be_bytes(offset),
                data: rest[id_len + 8..].to_vec(),
            })
        }
        other => Err(FrameError::Malformed(format!("unknown frame kind {other}"))),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn frames_round_trip() {
        let frames: Vec<Frame<ToHost>> = vec![
            Frame::Message(ToHost::Hello { version: 1 }),
            Frame::Message(ToHost::Attach {
                id: "session-1".into(),
                since: Some(42),
            }),
            Frame::Bytes {
                id: "session-1".into(),
                offset: 7,
                data: b"\x1b[1mbold\xff".to_vec(),
            },
        ];
        let mut wire = Vec::new();
        for frame in &frames {
            write_frame(&mut wire, frame).unwrap();
        }
        let mut input = wire.as_slice();
        for frame in &frames {
            assert_eq!(&read_frame::<ToHost>(&mut input).unwrap(), frame);
        }
        assert!(read_frame::<ToHost>(&mut input).unwrap_err().is_closed());
    }

    #[test]
    fn bad_frames_are_refused_without_reading_them() {
        // A length over the cap is refused before anything is allocated or read.
        let mut huge = (MAX_FRAME as u32 + 1).to_be_bytes().to_vec();
        huge.push(0);
        assert!(matches!(
            read_frame::<ToHost>(&mut huge.as_slice()),
            Err(FrameError::TooLarge(_))
        ));
        for body in [
            &b""[..],
            b"\x07junk",
            b"\x00{\"type\":\"launch_missiles\"}",
            b"\x00not json",
            b"\x01\x09short",
        ] {
            let mut wire = (body.len() as u32).to_be_bytes().to_vec();
            wire.extend_from_slice(body);
            assert!(
                matches!(
                    read_frame::<ToHost>(&mut wire.as_slice()),
                    Err(FrameError::Malformed(_))
                ),
                "{body:?}"
            );
        }
    }
}
