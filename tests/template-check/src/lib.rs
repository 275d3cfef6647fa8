//! Reads the SAM `template.yaml` (CloudFormation short tags such as `!Ref` kept as tagged values)
//! and checks the rules the team relies on: every function crate is deployed and every deployed
//! function has a crate, inline least-privilege policies, and the concurrency limits that keep the
//! stack within Autotask's 3 concurrent calls per endpoint (promises P7 and P10).

pub mod rules;
pub mod template;
pub mod workspace;

pub use rules::{Violation, check_all};
pub use template::Template;
