//! Reading XML from ChannelOnline safely: strip the stray control characters real payloads
//! carry, refuse DTDs (no entity expansion, no external entities), bound size and depth, then
//! find `<error code>` before handing the text to serde.

use quick_xml::Reader;
use quick_xml::events::Event;
use serde::de::DeserializeOwned;

use crate::channelonline::error::ChannelOnlineError;

/// Deeper nesting than this is hostile: the real documents are about 6 levels deep.
pub const MAX_DEPTH: usize = 64;
/// Default size limit of one response body (the largest observed ones are a few MB).
pub const DEFAULT_MAX_BYTES: usize = 64 * 1024 * 1024;

/// Decodes bytes leniently (invalid UTF-8 becomes U+FFFD) and drops the characters XML 1.0
/// forbids: C0 controls other than tab, LF and CR, and U+FFFE / U+FFFF.
pub fn sanitize(bytes: &[u8]) -> String {
    String::from_utf8_lossy(bytes)
        .chars()
        .filter(|&c| !((c < ' ' && !matches!(c, '\t' | '\n' | '\r')) || c == '\u{FFFE}' || c == '\u{FFFF}'))
        .collect()
}

/// What a first pass over the document found.
#[derive(Debug, PartialEq, Eq)]
pub struct Scan {
    pub root: String,
    /// `(code, message)` of the first `<error code>` element.
    pub error: Option<(u32, String)>,
}

/// Checks well-formedness, refuses DOCTYPE, bounds depth, and finds the root and any error.
pub fn scan(xml: &str) -> Result<Scan, ChannelOnlineError> {
    let mut reader = Reader::from_str(xml);
    reader.config_mut().check_end_names = true;
    let mut depth = 0usize;
    let mut root: Option<String> = None;
    let mut error: Option<(u32, String)> = None;
    let mut in_error: Option<(u32, String)> = None;
    loop {
        let event = reader.read_event().map_err(|e| {
            ChannelOnlineError::malformed(format!("invalid XML at byte {}: {e}", reader.error_position()))
        })?;
        match event {
            Event::DocType(_) => {
                return Err(ChannelOnlineError::malformed("DOCTYPE declarations are refused"));
            }
            Event::Start(ref e) | Event::Empty(ref e) => {
                let is_empty = matches!(event, Event::Empty(_));
                let name = String::from_utf8_lossy(e.name().as_ref()).into_owned();
                if root.is_none() {
                    root = Some(name.clone());
                } else if depth == 0 {
                    return Err(ChannelOnlineError::malformed("more than one root element"));
                }
                if name == "error" && error.is_none() {
                    let code = e
                        .try_get_attribute("code")
                        .ok()
                        .flatten()
                        .and_then(|a| String::from_utf8_lossy(&a.value).trim().parse::<u32>().ok())
                        .unwrap_or(0);
                    if is_empty {
                        error = Some((code, String::new()));
                    } else {
                        in_error = Some((code, String::new()));
                    }
                }
                if !is_empty {
                    depth += 1;
                    if depth > MAX_DEPTH {
                        return Err(ChannelOnlineError::malformed(format!(
                            "nesting deeper than {MAX_DEPTH}"
                        )));
                    }
                }
            }
            Event::Text(t) => {
                if let Some((_, msg)) = in_error.as_mut() {
                    msg.push_str(&String::from_utf8_lossy(t.as_ref()));
                }
            }
            Event::GeneralRef(r) => {
                if let Some((_, msg)) = in_error.as_mut() {
                    let name = String::from_utf8_lossy(r.as_ref()).into_owned();
                    msg.push_str(quick_xml::escape::resolve_predefined_entity(&name).unwrap_or(""));
                }
            }
            Event::CData(t) => {
                if let Some((_, msg)) = in_error.as_mut() {
                    msg.push_str(&String::from_utf8_lossy(t.as_ref()));
                }
            }
            Event::End(e) => {
                if e.name().as_ref() == b"error"
                    && let Some(found) = in_error.take()
                {
                    error.get_or_insert(found);
                }
                depth = depth.saturating_sub(1);
            }
            Event::Eof => break,
            _ => {}
        }
    }
    if depth != 0 {
        return Err(ChannelOnlineError::malformed("truncated XML: unclosed elements"));
    }
    let root = root.ok_or_else(|| ChannelOnlineError::malformed("empty response"))?;
    Ok(Scan {
        root,
        error: error.map(|(code, msg)| (code, msg.trim().to_owned())),
    })
}

/// A checked, sanitized body: either the `<error code>` it carries or the text to deserialize.
pub enum Checked {
    Error { code: u32, message: String },
    Body { root: String, xml: String },
}

/// Sanitizes and scans raw bytes; the size limit is the caller's.
pub fn check(bytes: &[u8], max_bytes: usize) -> Result<Checked, ChannelOnlineError> {
    if bytes.len() > max_bytes {
        return Err(ChannelOnlineError::malformed(format!(
            "response of {} bytes exceeds the {max_bytes}-byte limit",
            bytes.len()
        )));
    }
    let xml = sanitize(bytes);
    let scan = scan(&xml)?;
    Ok(match scan.error {
        Some((code, message)) => Checked::Error { code, message },
        None => Checked::Body { root: scan.root, xml },
    })
}

/// Deserializes a checked body into its serde shape.
pub fn deserialize<T: DeserializeOwned>(xml: &str) -> Result<T, ChannelOnlineError> {
    quick_xml::de::from_str(xml).map_err(|e| ChannelOnlineError::malformed(format!("unexpected content: {e}")))
}
