//! Small text helpers of the engine: normalised input, clipped summaries, timestamps, terminal
//! previews.

/// CR/LF and runs of whitespace become single spaces; trimmed (SPEC §Sessions).
pub fn normalize(text: &str) -> String {
    text.split_whitespace().collect::<Vec<_>>().join(" ")
}

/// At most `limit` characters, with an ellipsis when cut.
pub fn clip(text: &str, limit: usize) -> String {
    let text = normalize(text);
    if text.chars().count() <= limit {
        return text;
    }
    let mut out: String = text.chars().take(limit.saturating_sub(1)).collect();
    out.push('…');
    out
}

/// RFC 3339 with the local offset, second precision.
pub fn now_text() -> String {
    chrono::Local::now().to_rfc3339_opts(chrono::SecondsFormat::Secs, false)
}

/// A file-name-safe version of any text (for handoff packet names).
pub fn safe_name(text: &str) -> String {
    let cleaned: String = text
        .chars()
        .map(|c| {
            if c.is_ascii_alphanumeric() || c == '-' || c == '_' {
                c
            } else {
                '_'
            }
        })
        .take(96)
        .collect();
    if cleaned.is_empty() {
        "report".into()
    } else {
        cleaned
    }
}

/// Removes ANSI escape sequences (CSI, OSC, two-byte escapes) from terminal output.
pub fn strip_ansi(text: &str) -> String {
    let mut out = String::with_capacity(text.len());
    let mut chars = text.chars().peekable();
    while let Some(c) = chars.next() {
        if c != '\u{1b}' {
            if c == '\n' || c == '\r' || c == '\t' || !c.is_control() {
                out.push(c);
            }
            continue;
        }
        match chars.next() {
            Some('[') => {
                // CSI: parameters until a final byte in @..~
                for c in chars.by_ref() {
                    if ('@'..='~').contains(&c) {
                        break;
                    }
                }
            }
            Some(']') => {
                // OSC: until BEL or ST (ESC \)
                while let Some(c) = chars.next() {
                    if c == '\u{7}' {
                        break;
                    }
                    if c == '\u{1b}' && chars.peek() == Some(&'\\') {
                        chars.next();
                        break;
                    }
                }
            }
            _ => {}
        }
    }
    out
}

/// The last `max_lines` non-empty lines of terminal output, ANSI stripped, "..." first when
/// cut. A carriage return redraws its line, so only the text after the last one counts.
pub fn transcript_preview(raw: &[u8], max_lines: usize) -> Vec<String> {
    let text = strip_ansi(&String::from_utf8_lossy(raw));
    let lines: Vec<String> = text
        .split('\n')
        .map(|line| {
            let line = line.trim_end_matches('\r');
            line.rsplit('\r')
                .next()
                .unwrap_or(line)
                .trim_end()
                .to_string()
        })
        .filter(|line| !line.trim().is_empty())
        .collect();
    if lines.len() <= max_lines {
        return lines;
    }
    let mut out = vec!["...".to_string()];
    out.extend(lines[lines.len() - max_lines..].iter().cloned());
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn normalizes_whitespace_and_newlines() {
        assert_eq!(normalize("  fix\r\n the\tbug \n\n now "), "fix the bug now");
        assert_eq!(normalize(" \r\n "), "");
    }

    #[test]
    fn preview_strips_ansi_and_keeps_the_last_lines() {
        let raw = b"\x1b[1mone\x1b[0m\r\ntwo\r\n\r\nthree\r\nfour\r\nfive\r\nsix\r\nseven\r\n\x1b]0;title\x07progress 10%\rprogress 99%\r\n";
        let preview = transcript_preview(raw, 6);
        assert_eq!(
            preview,
            vec![
                "...",
                "three",
                "four",
                "five",
                "six",
                "seven",
                "progress 99%"
            ]
        );
        assert_eq!(transcript_preview(b"a\nb", 6), vec!["a", "b"]);
    }

    #[test]
    fn clip_marks_cut_text() {
        assert_eq!(clip("abcdef", 4), "abc…");
        assert_eq!(clip("ab", 4), "ab");
    }
}
