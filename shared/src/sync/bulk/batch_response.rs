//! The SQS partial batch response (`ReportBatchItemFailures`): only the ids of messages that
//! failed go back, so Lambda deletes the rest and redelivers just those.

use aws_lambda_events::sqs::{BatchItemFailure, SqsBatchResponse};

#[derive(Debug, Default)]
pub struct BatchFailures {
    ids: Vec<String>,
}

impl BatchFailures {
    pub fn new() -> Self {
        Self::default()
    }

    /// Marks a message as failed (retried after the visibility timeout). Duplicates ignored.
    pub fn fail(&mut self, message_id: impl Into<String>) {
        let id = message_id.into();
        if !self.ids.contains(&id) {
            self.ids.push(id);
        }
    }

    pub fn failed_ids(&self) -> &[String] {
        &self.ids
    }

    pub fn into_response(self) -> SqsBatchResponse {
        let mut resp = SqsBatchResponse::default();
        resp.batch_item_failures = self
            .ids
            .into_iter()
            .map(|id| {
                let mut f = BatchItemFailure::default();
                f.item_identifier = id;
                f
            })
            .collect();
        resp
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn lists_only_failed_ids_in_the_lambda_shape() {
        let mut f = BatchFailures::new();
        f.fail("m-2");
        f.fail("m-2");
        f.fail("m-5");
        let v = serde_json::to_value(f.into_response()).unwrap();
        assert_eq!(
            v,
            serde_json::json!({"batchItemFailures": [{"itemIdentifier": "m-2"}, {"itemIdentifier": "m-5"}]})
        );
        let empty = serde_json::to_value(BatchFailures::new().into_response()).unwrap();
        assert_eq!(empty, serde_json::json!({"batchItemFailures": []}));
    }
}
