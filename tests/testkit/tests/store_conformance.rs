//! The store conformance suite against DynamoStore on a real DynamoDB-protocol server
//! (dynoxide in-process by default; `TEST_DYNAMO=moto` or `DYNAMODB_ENDPOINT` to switch).

shared::store_conformance_tests!(testkit::dynamo::store_fixture());
