//! The six change streams a bulk sync reads, each with its own checkpoint.

use std::fmt;
use std::str::FromStr;

use serde::{Deserialize, Serialize};

#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Stream {
    /// Autotask companies changed (by `lastActivityDate`).
    AtCompanies,
    /// Autotask contacts changed (by `lastModifiedDate`).
    AtContacts,
    /// Autotask opportunities changed (by `lastActivity`): the status written back to the
    /// ChannelOnline document exported to each.
    AtOpportunities,
    /// Autotask quotes changed (by `lastActivityDate`): the approval status written back to
    /// the ChannelOnline document exported as that quote.
    AtQuotes,
    /// ChannelOnline customers modified.
    ColCustomers,
    /// ChannelOnline quotes and sales orders modified.
    ColDocuments,
}

impl Stream {
    pub const ALL: [Stream; 6] = [
        Stream::AtCompanies,
        Stream::AtContacts,
        Stream::AtOpportunities,
        Stream::AtQuotes,
        Stream::ColCustomers,
        Stream::ColDocuments,
    ];

    pub fn as_str(self) -> &'static str {
        match self {
            Stream::AtCompanies => "at_companies",
            Stream::AtContacts => "at_contacts",
            Stream::AtOpportunities => "at_opportunities",
            Stream::AtQuotes => "at_quotes",
            Stream::ColCustomers => "col_customers",
            Stream::ColDocuments => "col_documents",
        }
    }

    /// True for streams read from Autotask (their reads count against the hourly budget).
    pub fn is_autotask(self) -> bool {
        matches!(
            self,
            Stream::AtCompanies | Stream::AtContacts | Stream::AtOpportunities | Stream::AtQuotes
        )
    }
}

impl fmt::Display for Stream {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

#[derive(Debug, thiserror::Error, PartialEq, Eq)]
#[error(
    "unknown sync stream {0:?}: use at_companies, at_contacts, at_opportunities, at_quotes, col_customers or col_documents"
)]
pub struct UnknownStream(pub String);

impl FromStr for Stream {
    type Err = UnknownStream;
    fn from_str(s: &str) -> Result<Self, Self::Err> {
        Stream::ALL
            .into_iter()
            .find(|st| st.as_str() == s)
            .ok_or_else(|| UnknownStream(s.chars().take(40).collect()))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn names_round_trip_through_str_and_json() {
        for s in Stream::ALL {
            assert_eq!(s.as_str().parse::<Stream>().unwrap(), s);
            let json = serde_json::to_string(&s).unwrap();
            assert_eq!(json, format!("\"{}\"", s.as_str()));
        }
        assert!("companies".parse::<Stream>().is_err());
    }
}
