//! SQS `SendMessageBatch` limits: at most 10 entries and 256 KiB of bodies per call.

use super::{OutgoingMessage, QueueError};

pub const MAX_BATCH_ENTRIES: usize = 10;
pub const MAX_BATCH_BYTES: usize = 256 * 1024;

/// Groups messages, in order, into batches that respect both limits. A single message over
/// the byte limit is an error: no batch could carry it.
pub fn send_batches(messages: Vec<OutgoingMessage>) -> Result<Vec<Vec<OutgoingMessage>>, QueueError> {
    let mut batches: Vec<Vec<OutgoingMessage>> = Vec::new();
    let mut current: Vec<OutgoingMessage> = Vec::new();
    let mut bytes = 0;
    for m in messages {
        let size = m.body.len();
        if size > MAX_BATCH_BYTES {
            return Err(QueueError::MessageTooLarge {
                id: m.id,
                bytes: size,
                max: MAX_BATCH_BYTES,
            });
        }
        if current.len() == MAX_BATCH_ENTRIES || bytes + size > MAX_BATCH_BYTES {
            batches.push(std::mem::take(&mut current));
            bytes = 0;
        }
        bytes += size;
        current.push(m);
    }
    if !current.is_empty() {
        batches.push(current);
    }
    Ok(batches)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn msg(i: usize, bytes: usize) -> OutgoingMessage {
        OutgoingMessage {
            id: format!("m{i}"),
            body: "x".repeat(bytes),
        }
    }

    #[test]
    fn at_most_ten_entries_per_batch_in_order() {
        let batches = send_batches((0..25).map(|i| msg(i, 100)).collect()).unwrap();
        assert_eq!(batches.iter().map(Vec::len).collect::<Vec<_>>(), vec![10, 10, 5]);
        assert_eq!(batches[2][4].id, "m24");
    }

    #[test]
    fn splits_on_bytes_before_entries() {
        // 4 messages of 100 KiB: two fit in 256 KiB, the third would not
        let batches = send_batches((0..4).map(|i| msg(i, 100 * 1024)).collect()).unwrap();
        assert_eq!(batches.iter().map(Vec::len).collect::<Vec<_>>(), vec![2, 2]);
        assert!(
            batches
                .iter()
                .all(|b| b.iter().map(|m| m.body.len()).sum::<usize>() <= MAX_BATCH_BYTES)
        );
        // exactly at the limit is allowed
        assert_eq!(send_batches(vec![msg(0, MAX_BATCH_BYTES)]).unwrap().len(), 1);
    }

    #[test]
    fn refuses_a_message_no_batch_can_carry() {
        let err = send_batches(vec![msg(0, 10), msg(1, MAX_BATCH_BYTES + 1)]).unwrap_err();
        assert!(matches!(err, QueueError::MessageTooLarge { ref id, .. } if id == "m1"));
        assert!(send_batches(vec![]).unwrap().is_empty());
    }
}
