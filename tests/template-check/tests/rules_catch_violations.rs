//! Each rule reports the mistake it exists for (so the repository test can fail).

use template_check::{Template, rules};

const GOOD: &str = r#"
Parameters:
  AllowedOrigins: { Type: CommaDelimitedList }
  ButtonReservedConcurrency: { Type: Number, MinValue: 1, MaxValue: 3 }
Globals:
  Function:
    Timeout: 30
    Environment:
      Variables:
        SECRETS_PREFIX: !Sub ${SecretNamePrefix}${Stage}/
        ALLOWED_ORIGINS: !Join [",", !Ref AllowedOrigins]
Resources:
  IdempotencyTable: { Type: AWS::DynamoDB::Table }
  Table: { Type: AWS::DynamoDB::Table }
  Dlq: { Type: AWS::SQS::Queue }
  PlannerFailures: { Type: AWS::SQS::Queue }
  Queue:
    Type: AWS::SQS::Queue
    Properties:
      VisibilityTimeout: 360
      RedrivePolicy: { deadLetterTargetArn: !GetAtt Dlq.Arn, maxReceiveCount: 5 }
  ButtonFunction:
    Type: AWS::Serverless::Function
    Metadata: { BuildMethod: rust-cargolambda, BuildProperties: { Binary: button } }
    Properties:
      CodeUri: .
      ReservedConcurrentExecutions: !Ref ButtonReservedConcurrency
      FunctionUrlConfig:
        AuthType: NONE
        Cors:
          AllowOrigins: !Ref AllowedOrigins
          AllowMethods: [POST]
          AllowHeaders: [content-type, x-col-tenant, x-col-timestamp, x-col-signature, idempotency-key, x-col-user]
      Policies:
        - Statement:
            - Effect: Allow
              Action: [dynamodb:GetItem]
              Resource: !GetAtt Table.Arn
            - Effect: Allow
              Action: secretsmanager:GetSecretValue
              Resource: !Sub arn:${AWS::Partition}:secretsmanager:${AWS::Region}:${AWS::AccountId}:secret:${SecretNamePrefix}${Stage}/*
  WorkerFunction:
    Type: AWS::Serverless::Function
    Metadata: { BuildMethod: rust-cargolambda, BuildProperties: { Binary: worker } }
    Properties:
      CodeUri: .
      Timeout: 60
      EventInvokeConfig:
        DestinationConfig:
          OnFailure: { Type: SQS, Destination: !GetAtt PlannerFailures.Arn }
      Events:
        Items:
          Type: SQS
          Properties:
            Queue: !GetAtt Queue.Arn
            FunctionResponseTypes: [ReportBatchItemFailures]
            ScalingConfig: { MaximumConcurrency: 2 }
        Hourly:
          Type: ScheduleV2
          Properties:
            ScheduleExpression: rate(1 hour)
            Input: '{"dispatch":"enabled_tenants"}'
            DeadLetterConfig: { Arn: !GetAtt PlannerFailures.Arn }
      Policies:
        - Statement:
            - { Effect: Allow, Action: [sqs:SendMessage], Resource: !GetAtt Queue.Arn }
            - { Effect: Allow, Action: [sqs:SendMessage], Resource: !GetAtt PlannerFailures.Arn }
"#;

fn crates() -> Vec<String> {
    vec!["button".into(), "worker".into()]
}

fn check(yaml: &str) -> Vec<String> {
    let t = Template::parse(yaml).expect("test YAML parses");
    rules::check_all(&t, &crates()).into_iter().map(|v| v.0).collect()
}

/// Applies one textual change to the good template and returns the violations.
fn with(from: &str, to: &str) -> Vec<String> {
    assert!(GOOD.contains(from), "test edit target {from:?} not in GOOD");
    check(&GOOD.replacen(from, to, 1))
}

fn assert_reports(violations: &[String], needle: &str) {
    assert!(
        violations.iter().any(|v| v.contains(needle)),
        "expected a violation containing {needle:?}, got {violations:#?}"
    );
}

#[test]
fn the_good_template_passes() {
    assert_eq!(check(GOOD), Vec::<String>::new());
}

#[test]
fn crates_and_functions_must_match_both_ways() {
    // GIVEN a crate with no function
    let t = Template::parse(GOOD).unwrap();
    let v = rules::functions_match_crates(&t, &["button".into(), "worker".into(), "orphan".into()], &[]);
    assert!(v.iter().any(|v| v.0.contains("functions/orphan has no")), "{v:?}");
    // GIVEN a function with no crate and not planned
    let v = rules::functions_match_crates(&t, &["button".into()], &[]);
    assert!(v.iter().any(|v| v.0.contains("no crate functions/worker")), "{v:?}");
    // GIVEN the same function planned THEN it is accepted; once the crate exists the plan must go
    assert!(rules::functions_match_crates(&t, &["button".into()], &["worker"]).is_empty());
    let v = rules::functions_match_crates(&t, &crates(), &["worker"]);
    assert!(
        v.iter()
            .any(|v| v.0.contains("remove \"worker\" from PLANNED_FUNCTIONS")),
        "{v:?}"
    );
}

#[test]
fn wrong_build_settings_are_reported() {
    assert_reports(
        &with(
            "CodeUri: .\n      Reserved",
            "CodeUri: functions/button\n      Reserved",
        ),
        "CodeUri",
    );
    assert_reports(
        &with(
            "BuildMethod: rust-cargolambda, BuildProperties: { Binary: button }",
            "BuildMethod: go1.x, BuildProperties: { Binary: button }",
        ),
        "BuildMethod",
    );
}

#[test]
fn broad_policies_are_reported() {
    assert_reports(
        &with("[dynamodb:GetItem]", "[dynamodb:GetItem, dynamodb:Scan]"),
        "dynamodb:Scan is not allowed",
    );
    assert_reports(
        &with("[dynamodb:GetItem]", "[dynamodb:*]"),
        "wildcard action dynamodb:*",
    );
    assert_reports(
        &with("Resource: !GetAtt Table.Arn", "Resource: '*'"),
        "wildcard resource *",
    );
    assert_reports(
        &with("Resource: !GetAtt Table.Arn", "Resource: !Sub '${Table.Arn}/index/*'"),
        "wildcard resource ${Table.Arn}/index/*",
    );
    // the tenant-secret prefix wildcard is allowed only for secretsmanager actions
    assert_reports(
        &with("Action: secretsmanager:GetSecretValue", "Action: dynamodb:GetItem"),
        "wildcard resource arn:",
    );
    assert_reports(
        &with(
            "        - Statement:\n            - Effect: Allow\n              Action: [dynamodb:GetItem]",
            "        - DynamoDBCrudPolicy: { TableName: !Ref Table }\n        - Statement:\n            - Effect: Allow\n              Action: [dynamodb:GetItem]",
        ),
        "SAM policy template DynamoDBCrudPolicy",
    );
    assert_reports(
        &with(
            "      Policies:\n        - Statement:\n            - Effect: Allow\n              Action: [dynamodb:GetItem]",
            "      Policies:\n        - AmazonDynamoDBFullAccess\n        - Statement:\n            - Effect: Allow\n              Action: [dynamodb:GetItem]",
        ),
        "managed policy",
    );
}

#[test]
fn unbounded_worker_is_reported() {
    assert_reports(
        &with("MaximumConcurrency: 2", "MaximumConcurrency: 5"),
        "MaximumConcurrency: 2",
    );
    assert_reports(
        &with("FunctionResponseTypes: [ReportBatchItemFailures]", "BatchSize: 10"),
        "ReportBatchItemFailures",
    );
}

#[test]
fn short_visibility_timeout_is_reported() {
    // GIVEN a 60 s worker WHEN the queue hides messages for 359 s THEN 6x is not met
    assert_reports(
        &with("VisibilityTimeout: 360", "VisibilityTimeout: 359"),
        "VisibilityTimeout 359 < 6 x WorkerFunction Timeout 60",
    );
    // the worker inherits Globals.Timeout (30 s) when it sets none: 180 s is then enough
    assert!(with("      Timeout: 60\n", "").is_empty());
}

#[test]
fn missing_dead_letter_queue_is_reported() {
    assert_reports(
        &with(
            "RedrivePolicy: { deadLetterTargetArn: !GetAtt Dlq.Arn, maxReceiveCount: 5 }",
            "DelaySeconds: 0",
        ),
        "RedrivePolicy",
    );
    assert_reports(
        &with(
            "deadLetterTargetArn: !GetAtt Dlq.Arn",
            "deadLetterTargetArn: !GetAtt Table.Arn",
        ),
        "RedrivePolicy",
    );
}

#[test]
fn button_without_reserved_concurrency_is_reported() {
    assert_reports(
        &with(
            "      ReservedConcurrentExecutions: !Ref ButtonReservedConcurrency\n",
            "",
        ),
        "ButtonFunction: button function needs ReservedConcurrentExecutions",
    );
}

#[test]
fn open_function_urls_are_reported() {
    assert_reports(
        &with("AllowOrigins: !Ref AllowedOrigins", "AllowOrigins: ['*']"),
        "AllowOrigins",
    );
    assert_reports(
        &with("AllowMethods: [POST]", "AllowMethods: [GET, POST]"),
        "AllowMethods",
    );
    assert_reports(&with(", idempotency-key, x-col-user]", "]"), "idempotency-key");
    assert_reports(&with("AuthType: NONE", "AuthType: AWS_IAM"), "AuthType");
}

#[test]
fn schedule_without_input_is_reported() {
    assert_reports(
        &with("            Input: '{\"dispatch\":\"enabled_tenants\"}'\n", ""),
        "ScheduleV2 needs an explicit Input",
    );
    assert_reports(&with("Type: ScheduleV2", "Type: Schedule"), "use ScheduleV2");
}

#[test]
fn per_tenant_or_missing_schedules_are_reported() {
    assert_reports(
        &with(r#"'{"dispatch":"enabled_tenants"}'"#, r#"'{"tenant":"demo"}'"#),
        "Input must be the literal",
    );
    let second = concat!(
        "        Again:\n",
        "          Type: ScheduleV2\n",
        "          Properties: { ScheduleExpression: rate(1 hour), Input: '{\"dispatch\":\"enabled_tenants\"}' }\n",
        "        Hourly:\n",
    );
    assert_reports(&with("        Hourly:\n", second), "exactly one ScheduleV2");
}

#[test]
fn planner_without_failure_destination_is_reported() {
    assert_reports(
        &with(
            "Destination: !GetAtt PlannerFailures.Arn",
            "Destination: !GetAtt Table.Arn",
        ),
        "OnFailure to an SQS queue",
    );
    assert_reports(
        &with("Resource: !GetAtt PlannerFailures.Arn", "Resource: !GetAtt Queue.Arn"),
        "sqs:SendMessage on its failure destination PlannerFailures",
    );
}

#[test]
fn secrets_without_the_stage_are_reported() {
    assert_reports(
        &with(
            "SECRETS_PREFIX: !Sub ${SecretNamePrefix}${Stage}/",
            "SECRETS_PREFIX: !Ref SecretNamePrefix",
        ),
        "SECRETS_PREFIX must be !Sub",
    );
    let v = with("secret:${SecretNamePrefix}${Stage}/*", "secret:${SecretNamePrefix}*");
    assert_reports(&v, "secretsmanager resources must end with");
    assert_reports(&v, "wildcard resource arn:");
}

#[test]
fn pages_framed_by_other_origins_are_reported() {
    assert_reports(
        &with(
            "ALLOWED_ORIGINS: !Join [\",\", !Ref AllowedOrigins]",
            "ALLOWED_ORIGINS: \"*\"",
        ),
        "ALLOWED_ORIGINS must be",
    );
    assert_reports(
        &with("        ALLOWED_ORIGINS: !Join [\",\", !Ref AllowedOrigins]\n", ""),
        "ALLOWED_ORIGINS must be",
    );
}

#[test]
fn unbounded_button_concurrency_is_reported() {
    assert_reports(
        &with("MinValue: 1, MaxValue: 3", "MinValue: 1, MaxValue: 50"),
        "ButtonFunction: ReservedConcurrentExecutions must be 1 to 3",
    );
    assert_reports(
        &with("MinValue: 1, MaxValue: 3", "MaxValue: 3"),
        "ReservedConcurrentExecutions must be 1 to 3",
    );
    assert_reports(
        &with(
            "ReservedConcurrentExecutions: !Ref ButtonReservedConcurrency",
            "ReservedConcurrentExecutions: 10",
        ),
        "ReservedConcurrentExecutions must be 1 to 3",
    );
    assert!(
        with(
            "ReservedConcurrentExecutions: !Ref ButtonReservedConcurrency",
            "ReservedConcurrentExecutions: 2"
        )
        .is_empty()
    );
}

#[test]
fn schedule_without_dead_letter_queue_is_reported() {
    assert_reports(
        &with(
            "            DeadLetterConfig: { Arn: !GetAtt PlannerFailures.Arn }\n",
            "",
        ),
        "ScheduleV2 needs DeadLetterConfig.Arn",
    );
    assert_reports(
        &with(
            "DeadLetterConfig: { Arn: !GetAtt PlannerFailures.Arn }",
            "DeadLetterConfig: { Arn: !GetAtt Table.Arn }",
        ),
        "ScheduleV2 needs DeadLetterConfig.Arn",
    );
}

#[test]
fn idempotency_grants_to_functions_that_never_use_it_are_reported() {
    // GIVEN the button's policy also grants the idempotency table
    let granted = GOOD.replacen(
        "              Resource: !GetAtt Table.Arn\n",
        "              Resource: [!GetAtt Table.Arn, !GetAtt IdempotencyTable.Arn]\n",
        1,
    );
    let t = Template::parse(&granted).unwrap();
    // WHEN the button is one that never uses it THEN that is reported; the worker may have it
    let v = rules::idempotency_table_only_where_used(&t, &["button"]);
    assert!(
        v.iter()
            .any(|v| v.0.contains("ButtonFunction: never uses the idempotency table")),
        "{v:?}"
    );
    assert!(rules::idempotency_table_only_where_used(&t, &["worker"]).is_empty());
    assert!(rules::idempotency_table_only_where_used(&Template::parse(GOOD).unwrap(), &["button"]).is_empty());
}

#[test]
fn dynamodb_actions_no_code_makes_are_reported() {
    let t = Template::parse(&GOOD.replacen(
        "[dynamodb:GetItem]",
        "[dynamodb:GetItem, dynamodb:ConditionCheckItem]",
        1,
    ))
    .unwrap();
    let used: std::collections::BTreeSet<String> = ["GetItem".to_owned()].into();
    let v = rules::dynamodb_actions_are_used(&t, &used);
    assert!(
        v.iter().any(|v| v
            .0
            .contains("dynamodb:ConditionCheckItem is granted but no store code makes it")),
        "{v:?}"
    );
    assert!(rules::dynamodb_actions_are_used(&Template::parse(GOOD).unwrap(), &used).is_empty());
}
