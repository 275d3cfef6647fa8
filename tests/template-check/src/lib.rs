//! Reads the SAM `template.yaml` (CloudFormation short tags such as `!Ref` kept as tagged values)
//! and checks the rules the team relies on: every function crate is deployed and every deployed
//! function has a crate, inline least-privilege policies (secrets of the stack's stage only, no
//! DynamoDB action the store code does not make), the concurrency limits that keep the stack
//! within Autotask's 3 concurrent calls per endpoint (promises P7 and P10), failure queues for the
//! planner, and the origins allowed to frame the HTML pages.

pub mod rules;
pub mod template;
pub mod workspace;

pub use rules::{Violation, check_all};
pub use template::Template;
