//! A Server-Sent Events parser (WHATWG HTML §9.2.6) over a byte stream, just enough for the
//! revocation feed: `id`, `event` and `data` fields, comments, any of the three line endings.

/// Lines longer than this are dropped: the feed's events are a few hundred bytes.
const MAX_LINE_BYTES: usize = 64 * 1024;

/// One dispatched event.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct SseEvent {
    /// The `id` field of this event, if it had one.
    pub id: Option<String>,
    /// The `event` field; `message` when absent.
    pub event: String,
    /// The `data` lines, joined by `\n`.
    pub data: String,
}

/// Turns chunks of a `text/event-stream` body into events.
#[derive(Debug, Default)]
pub(crate) struct SseParser {
    line: Vec<u8>,
    overlong: bool,
    // A `\r` ended the last line; a `\n` right after it belongs to the same line ending.
    after_cr: bool,
    id: Option<String>,
    event: Option<String>,
    // Every `data` value followed by `\n`, as the standard's data buffer.
    data: String,
}

impl SseParser {
    /// Feeds the next chunk; returns the events it completed.
    pub fn push(&mut self, chunk: &[u8]) -> Vec<SseEvent> {
        let mut events = Vec::new();
        for &byte in chunk {
            let after_cr = std::mem::take(&mut self.after_cr);
            match byte {
                b'\n' if after_cr => {}
                b'\n' | b'\r' => {
                    self.after_cr = byte == b'\r';
                    let line = std::mem::take(&mut self.line);
                    if !std::mem::take(&mut self.overlong) {
                        events.extend(self.process_line(&line));
                    }
                }
                _ if self.line.len() >= MAX_LINE_BYTES => self.overlong = true,
                _ => self.line.push(byte),
            }
        }
        events
    }

    fn process_line(&mut self, line: &[u8]) -> Option<SseEvent> {
        if line.is_empty() {
            return self.dispatch();
        }
        let line = String::from_utf8_lossy(line);
        if line.starts_with(':') {
            return None;
        }
        let (field, value) = match line.split_once(':') {
            Some((field, value)) => (field, value.strip_prefix(' ').unwrap_or(value)),
            None => (line.as_ref(), ""),
        };
        match field {
            "id" if !value.contains('\0') => self.id = Some(value.to_owned()),
            "event" => self.event = Some(value.to_owned()),
            "data" => {
                self.data.push_str(value);
                self.data.push('\n');
            }
            _ => {}
        }
        None
    }

    fn dispatch(&mut self) -> Option<SseEvent> {
        let event = self.event.take();
        let id = self.id.take();
        let mut data = std::mem::take(&mut self.data);
        // Drop the last `\n`; an empty buffer means no `data` line, and no event.
        data.pop()?;
        Some(SseEvent {
            id,
            event: event.unwrap_or_else(|| "message".to_owned()),
            data,
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn event(id: Option<&str>, event: &str, data: &str) -> SseEvent {
        SseEvent {
            id: id.map(Into::into),
            event: event.into(),
            data: data.into(),
        }
    }

    #[test]
    fn fields_make_an_event_at_the_blank_line() {
        let mut parser = SseParser::default();

        let events = parser.push(b"id: 7\nevent: revocation\ndata: {\"a\":1}\n\n");

        assert_eq!(events, vec![event(Some("7"), "revocation", "{\"a\":1}")]);
    }

    #[test]
    fn an_event_split_across_chunks_at_any_byte_is_parsed_the_same() {
        let stream = b"id: 1\r\nevent: revocation\r\ndata: one\r\n\r\n: keep-alive\r\n\r\nid: 2\rdata: two\r\r";
        for split in 0..stream.len() {
            let mut parser = SseParser::default();
            let mut events = parser.push(&stream[..split]);
            events.extend(parser.push(&stream[split..]));

            assert_eq!(
                events,
                vec![
                    event(Some("1"), "revocation", "one"),
                    event(Some("2"), "message", "two"),
                ],
                "split at {split}"
            );
        }
    }

    #[test]
    fn data_lines_join_with_newlines_and_comments_and_unknown_fields_are_ignored() {
        let mut parser = SseParser::default();

        let events = parser.push(b": hello\nretry: 10\ndata:a\ndata\ndata: b\nfoo: bar\n\n");

        assert_eq!(events, vec![event(None, "message", "a\n\nb")]);
    }

    #[test]
    fn a_blank_line_without_data_dispatches_nothing() {
        let mut parser = SseParser::default();

        assert!(parser.push(b"id: 3\nevent: revocation\n\n").is_empty());
        assert_eq!(
            parser.push(b"data: x\n\n"),
            vec![event(None, "message", "x")]
        );
    }

    #[test]
    fn an_overlong_line_is_dropped() {
        let mut parser = SseParser::default();
        let mut stream = b"data: ".to_vec();
        stream.extend(std::iter::repeat_n(b'x', MAX_LINE_BYTES + 10));
        stream.extend(b"\ndata: ok\n\n");

        assert_eq!(parser.push(&stream), vec![event(None, "message", "ok")]);
    }
}
