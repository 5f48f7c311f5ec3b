//! A terminal's screen kept on the server. Every output byte also runs through a terminal
//! emulator (`vt100`), so a viewer that attaches after the retained output lost its beginning,
//! or falls behind it, gets a snapshot that reproduces the terminal as it is now (its history,
//! its screen, colours, cursor and input modes) instead of a stream cut in the middle of an
//! escape sequence or a full-screen program drawn from a partial replay.
//!
//! History: the emulator keeps no scrollback of its own. Rows that scroll off the top of the
//! normal screen are kept as text with their colours (`vt100`'s "basic formatted" rows), capped
//! at [`HISTORY_BYTES`]: cheaper than cells, and all a snapshot replays of them.

use std::num::NonZeroU16;

/// Most history text kept per terminal; the oldest rows go first.
pub const HISTORY_BYTES: usize = 256 * 1024;

/// Rows scrolled off the normal screen, as text with SGR colours and `\n` between rows.
#[derive(Default)]
struct History {
    text: String,
    capture: vt100::capture::BasicFormattedCaptureState,
}

impl vt100::Callbacks for History {
    fn on_scroll(&mut self, row: vt100::capture::RowContents<'_>, alternate_screen: bool) {
        // A full-screen program's rows are its own business: only the shell-like screen has a
        // history.
        if alternate_screen {
            return;
        }
        let _ = row.write_formatted_basic(&mut self.text, &mut self.capture);
        if self.text.len() > HISTORY_BYTES {
            // Cut whole rows; colours open across the cut are reset by the snapshot.
            let excess = self.text.len() - HISTORY_BYTES / 2;
            let cut = self.text[excess..]
                .find('\n')
                .map_or(self.text.len(), |i| excess + i + 1);
            self.text.drain(..cut);
        }
    }
}

/// The emulated terminal of one PTY.
pub struct Screen {
    parser: vt100::Parser<History>,
}

fn cells(n: u16) -> NonZeroU16 {
    NonZeroU16::new(n.max(1)).unwrap_or(NonZeroU16::MIN)
}

impl Screen {
    pub fn new(cols: u16, rows: u16) -> Screen {
        Screen {
            parser: vt100::Parser::new_with_callbacks(
                cells(rows),
                cells(cols),
                0,
                History::default(),
            ),
        }
    }

    /// Starts over from `snapshot` (another emulator's [`Screen::snapshot`]), history and all.
    pub fn restore(&mut self, snapshot: &str) {
        let (rows, cols) = self.parser.screen().size();
        self.parser = vt100::Parser::new_with_callbacks(rows, cols, 0, History::default());
        self.parser.process(snapshot.as_bytes());
    }

    pub fn process(&mut self, bytes: &[u8]) {
        self.parser.process(bytes);
    }

    pub fn resize(&mut self, cols: u16, rows: u16) {
        self.parser.set_size(cells(rows), cells(cols));
    }

    /// Escape sequences that turn any terminal of the same size into this one: a reset, the
    /// history rows (scrolled into the viewer's scrollback), then the current screen (the
    /// alternate one when a full-screen program is drawing), cursor and input modes.
    pub fn snapshot(&self) -> String {
        let screen = self.parser.screen();
        let history = &self.parser.callbacks().text;
        let (rows, _) = screen.size();
        let mut out = String::with_capacity(history.len() + 16 * 1024);
        // RIS: whatever the viewer showed before goes (a viewer that fell behind).
        out.push_str("\x1bc");
        if !history.is_empty() {
            out.push_str(&history.replace('\n', "\r\n"));
            out.push_str("\x1b[0m");
            // Push the history off the screen, into the viewer's scrollback.
            for _ in 0..rows.get() {
                out.push_str("\r\n");
            }
        }
        if screen.alternate_screen() {
            out.push_str("\x1b[?1049h");
        }
        out.push_str(&screen.state_formatted());
        out
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// What a viewer shows after `bytes`: its text, cursor, and which screen is active.
    fn view(cols: u16, rows: u16, bytes: &[u8]) -> (String, (u16, u16), bool, String) {
        let mut parser = vt100::Parser::new(cells(rows), cells(cols), 1000);
        parser.process(bytes);
        let screen = parser.screen();
        (
            screen.contents(),
            screen.cursor_position(),
            screen.alternate_screen(),
            screen.contents_formatted(),
        )
    }

    #[test]
    fn a_snapshot_reproduces_a_full_screen_program_exactly() {
        let mut screen = Screen::new(40, 10);
        let mut stream = Vec::new();
        for i in 0..30 {
            stream.extend_from_slice(format!("shell line {i}\r\n").as_bytes());
        }
        // A full-screen program: alternate screen, colours, cursor moves, a hidden cursor.
        stream.extend_from_slice(b"\x1b[?1049h\x1b[2J\x1b[H\x1b[1;31mTITLE\x1b[0m");
        stream.extend_from_slice(b"\x1b[5;10H\x1b[44mbox\x1b[0m\x1b[10;1Hstatus: ok\x1b[3;3H");
        stream.extend_from_slice(b"\x1b[?2004h\x1b[?1h");
        screen.process(&stream);
        let snapshot = screen.snapshot();
        // A viewer that saw something else before gets the same screen from the snapshot.
        let mut viewer = b"garbage \x1b[7m half".to_vec();
        viewer.extend_from_slice(snapshot.as_bytes());
        assert_eq!(view(40, 10, &viewer), view(40, 10, &stream));
        // The program leaves the alternate screen: the viewer is back on the normal screen.
        let exit = b"\x1b[?1049l";
        viewer.extend_from_slice(exit);
        let mut after = stream.clone();
        after.extend_from_slice(exit);
        assert!(!view(40, 10, &viewer).2);
        assert_eq!(view(40, 10, &viewer).1, view(40, 10, &after).1);
    }

    #[test]
    fn a_snapshot_carries_the_history_and_the_screen_of_a_shell() {
        let mut screen = Screen::new(30, 5);
        let mut stream = Vec::new();
        for i in 0..20 {
            stream.extend_from_slice(format!("\x1b[32mrow {i}\x1b[0m\r\n").as_bytes());
        }
        stream.extend_from_slice(b"$ prompt");
        screen.process(&stream);
        let snapshot = screen.snapshot();
        let mut parser = vt100::Parser::new(cells(5), cells(30), 1000);
        parser.process(snapshot.as_bytes());
        // The visible screen and cursor are the same...
        let expected = view(30, 5, &stream);
        assert_eq!(parser.screen().contents(), expected.0);
        assert_eq!(parser.screen().cursor_position(), expected.1);
        // ...and the rows above it are in the viewer's scrollback, in order.
        parser.screen_mut().set_scrollback(1000);
        let top = parser.screen().contents();
        assert!(top.starts_with("row 0\nrow 1\n"), "{top:?}");
    }

    #[test]
    fn history_is_capped_by_whole_rows() {
        let mut screen = Screen::new(80, 4);
        for i in 0..40_000 {
            screen.process(format!("line {i:06} with some padding text\r\n").as_bytes());
        }
        let history = &screen.parser.callbacks().text;
        assert!(history.len() <= HISTORY_BYTES, "{}", history.len());
        assert!(history.starts_with("line "), "{:?}", &history[..40]);
        assert!(screen.snapshot().contains("line 039999"));
    }
}
