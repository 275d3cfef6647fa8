//! The SQS adapter against moto's SQS (`moto_server` from requirements-dev.txt): batches of
//! 10, receive counts, delete, and the redrive policy moving a poison message to the DLQ.

use std::net::TcpListener;
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

use aws_sdk_sqs::Client;
use aws_sdk_sqs::config::{BehaviorVersion, Credentials, Region};
use aws_sdk_sqs::types::QueueAttributeName;
use shared::queue::sqs::SqsQueue;
use shared::queue::{OutgoingMessage, WorkQueue};

struct Moto {
    child: Child,
    endpoint: String,
}

impl Drop for Moto {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

/// Starts moto on a free port; `None` (test skipped) only outside CI when it is not installed.
fn start_moto() -> Option<Moto> {
    let port = TcpListener::bind("127.0.0.1:0").unwrap().local_addr().unwrap().port();
    let child = match Command::new("moto_server")
        .args(["-H", "127.0.0.1", "-p", &port.to_string()])
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .spawn()
    {
        Ok(c) => c,
        Err(e) if std::env::var_os("CI").is_none() => {
            eprintln!("skipped: moto_server not on PATH ({e}); install requirements-dev.txt");
            return None;
        }
        Err(e) => panic!("moto_server is required in CI: {e}"),
    };
    let deadline = Instant::now() + Duration::from_secs(20);
    while std::net::TcpStream::connect(("127.0.0.1", port)).is_err() {
        assert!(Instant::now() < deadline, "moto_server did not start");
        std::thread::sleep(Duration::from_millis(100));
    }
    Some(Moto {
        child,
        endpoint: format!("http://127.0.0.1:{port}"),
    })
}

fn client(endpoint: &str) -> Client {
    let conf = aws_sdk_sqs::Config::builder()
        .behavior_version(BehaviorVersion::latest())
        .region(Region::new("us-east-1"))
        .endpoint_url(endpoint)
        .credentials_provider(Credentials::new("test", "test", None, None, "static"))
        .build();
    Client::from_conf(conf)
}

async fn queue_url(c: &Client, name: &str, attrs: &[(QueueAttributeName, String)]) -> String {
    let mut req = c.create_queue().queue_name(name);
    for (k, v) in attrs {
        req = req.attributes(k.clone(), v.clone());
    }
    req.send().await.unwrap().queue_url().unwrap().to_owned()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn sqs_adapter_sends_receives_deletes_and_dead_letters() {
    let Some(moto) = start_moto() else { return };
    let c = client(&moto.endpoint);
    // GIVEN a work queue with a DLQ after 2 receives and a 1 s visibility timeout
    let dlq_url = queue_url(&c, "sync-dlq", &[]).await;
    let dlq_arn = c
        .get_queue_attributes()
        .queue_url(&dlq_url)
        .attribute_names(QueueAttributeName::QueueArn)
        .send()
        .await
        .unwrap()
        .attributes()
        .unwrap()[&QueueAttributeName::QueueArn]
        .clone();
    let redrive = format!(r#"{{"deadLetterTargetArn":"{dlq_arn}","maxReceiveCount":"2"}}"#);
    let url = queue_url(
        &c,
        "sync",
        &[
            (QueueAttributeName::RedrivePolicy, redrive),
            (QueueAttributeName::VisibilityTimeout, "1".into()),
        ],
    )
    .await;
    let q = SqsQueue::new(c.clone(), url);

    // WHEN 12 messages are sent
    let msgs: Vec<OutgoingMessage> = (0..12)
        .map(|i| OutgoingMessage {
            id: format!("e{i}"),
            body: format!("item-{i}"),
        })
        .collect();
    let out = q.send(msgs).await.unwrap();
    // THEN all are accepted (two batch calls under the hood)
    assert_eq!(out.sent.len(), 12);
    assert!(out.failed.is_empty());

    // AND they can be received and deleted, except one poison message left undeleted
    let mut seen = 0;
    let mut poison = None;
    while seen < 12 {
        let got = q.receive(10).await.unwrap();
        assert!(!got.is_empty(), "messages should be visible");
        for m in got {
            assert_eq!(m.receive_count, 1);
            seen += 1;
            if m.body == "item-7" {
                poison = Some(m.body);
            } else {
                q.delete(&m.receipt_handle).await.unwrap();
            }
        }
    }
    assert_eq!(poison.as_deref(), Some("item-7"));

    // WHEN the poison message keeps failing: delivered again with a growing receive count
    tokio::time::sleep(Duration::from_millis(1200)).await;
    let again = q.receive(10).await.unwrap();
    assert_eq!(again.len(), 1);
    assert_eq!((again[0].body.as_str(), again[0].receive_count), ("item-7", 2));
    tokio::time::sleep(Duration::from_millis(1200)).await;
    // THEN after maxReceiveCount it is moved to the DLQ instead of delivered
    assert!(q.receive(10).await.unwrap().is_empty());
    let dead = SqsQueue::new(c, dlq_url).receive(10).await.unwrap();
    assert_eq!(dead.len(), 1);
    assert_eq!(dead[0].body, "item-7");
}
