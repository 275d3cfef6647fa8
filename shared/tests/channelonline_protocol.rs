//! The inferred protocol: request shape, fixture parsing, hostile input.

use rust_decimal::Decimal;
use shared::channelonline::protocol::convert::document_from_wire;
use shared::channelonline::protocol::parse::{self, Checked};
use shared::channelonline::protocol::wire::*;
use shared::channelonline::protocol::{self, RequestKind};
use shared::channelonline::window::latest_revisions;
use shared::channelonline::{ChannelOnlineError, DocumentType, ProductType};

/// Modelled on the observed `export_documents_response` (§1.2), with two revisions of one
/// document, a deleted flag, missing optional elements and stray control characters.
const FIXTURE: &str = "<?xml version=\"1.0\" encoding=\"UTF-8\"?>
<export_documents_response version=\"7.0\">
 <documents>
  <document documentId=\"77\" documentNumber=\"S123456\" documentType=\"SalesOrder\" revisionNumber=\"1\">
   <status>Submitted</status><deleted>false</deleted>
   <event type=\"created\" when=\"2026-08-01T09:15:00-05:00\"><user><firstName>Ann</firstName></user></event>
   <customer customerNumber=\"acme01\"><companyName>Acme</companyName></customer>
  </document>
  <document documentId=\"77\" documentNumber=\"S123456\" documentType=\"SalesOrder\" revisionNumber=\"2\">
   <status>Submitted</status> <stage/> <probability/> <deleted>false</deleted> <description>Rack\u{1}s &amp; cables\u{b}</description>
   <event type=\"created\" when=\"2026-08-01T09:15:00-05:00\"><user><firstName>Ann</firstName><lastName/><email/></user></event>
   <event type=\"modified\" when=\"2026-08-03T10:00:00Z\"/>
   <customer customerNumber=\"acme01\"><companyName>Acme</companyName><terms><description>Net 30</description></terms>
     <priceProfile/><tax><rate>Taxable</rate></tax></customer>
   <salesPerson><firstName>Dana</firstName><lastName>Seller</lastName><email>dana@x.example</email></salesPerson>
   <accountManager/>
   <payment><PONumber>PO-1</PONumber></payment>
   <shipTo><companyName>Acme</companyName><addressLine1>1 Main</addressLine1><city>Springfield</city><state abbreviation=\"IL\"/><postalCode>62701</postalCode></shipTo>
   <billTo/>
   <note type=\"Internal\">call first</note>
   <totalItemCost>80.00</totalItemCost><subTotal>100.00</subTotal><tax>8.00</tax><shippingHandling/><miscAmount/><total>108.00</total>
   <itemList>
    <product lineItemId=\"901\" lineItemNumber=\"2\" lineOrder=\"2\" productType=\"Service\">
     <status/><manufacturer/><partNumber>SVC-1</partNumber>
     <descriptionLine1>Setup</descriptionLine1><descriptionLine2/><category>Services</category><subCategory/>
     <taxable>false</taxable><cost/><price>50.00</price><quantity>1</quantity>
    </product>
    <product lineItemId=\"900\" lineItemNumber=\"1\" lineOrder=\"1\" productType=\"Hardware\">
     <status>Open</status> <manufacturer manufacturerId=\"77\">HP</manufacturer> <partNumber>X1</partNumber>
     <descriptionLine1>Notebook</descriptionLine1><descriptionLine2>14 inch</descriptionLine2> <category>Computers</category><subCategory>Notebooks</subCategory> <upc/>
     <dropship/> <taxable>true</taxable> <cost>30.00</cost> <price>50.00</price> <quantity cancelled=\"2\">1</quantity> <weight/> <note/>
     <supplierProduct selected=\"false\"><supplier accountNumber=\"A1\">Other</supplier><SKU>OTH-1</SKU></supplierProduct>
     <supplierProduct selected=\"true\"><supplier accountNumber=\"A2\">Ingram Micro</supplier><SKU>ING-1</SKU></supplierProduct>
     <serialNumber/>
    </product>
   </itemList>
  </document>
  <document documentId=\"78\" documentNumber=\"Q5\" documentType=\"Quote\">
   <deleted>true</deleted>
  </document>
 </documents>
</export_documents_response>";

fn parse_fixture(xml: &str) -> ExportDocumentsResponse {
    match parse::check(xml.as_bytes(), parse::DEFAULT_MAX_BYTES).unwrap() {
        Checked::Body { root, xml } => {
            assert_eq!(root, "export_documents_response");
            parse::deserialize(&xml).unwrap()
        }
        Checked::Error { code, .. } => panic!("unexpected error {code}"),
    }
}

#[test]
fn the_observed_response_shape_parses_into_documents() {
    let wire = parse_fixture(FIXTURE);
    let docs: Vec<_> = wire.documents.document.iter().filter_map(document_from_wire).collect();
    assert_eq!(docs.len(), 3);

    let latest = latest_revisions(docs);
    assert_eq!(latest.len(), 2, "two revisions of documentId 77 collapse into one");
    let order = latest.iter().find(|d| d.number == "S123456").unwrap();
    assert_eq!(order.revision, 2);
    assert_eq!(order.doc_type, DocumentType::SalesOrder);
    assert_eq!(order.description.as_deref(), Some("Racks & cables"));
    assert_eq!(order.payment_terms.as_deref(), Some("Net 30"));
    assert_eq!(order.po_number.as_deref(), Some("PO-1"));
    assert_eq!(order.ship_to.as_ref().unwrap().state.as_deref(), Some("IL"));
    assert_eq!(order.bill_to, None, "an empty <billTo/> is absent");
    assert_eq!(order.totals.total, Some(Decimal::new(10800, 2)));
    assert_eq!(order.totals.shipping_handling, None);
    assert_eq!(order.modified_at.unwrap().to_rfc3339(), "2026-08-03T10:00:00+00:00");
    assert_eq!(order.created_at.unwrap().to_rfc3339(), "2026-08-01T14:15:00+00:00");
    assert_eq!(order.notes[0].text, "call first");
    // Lines are ordered by lineOrder, not document order.
    assert_eq!(order.lines[0].line_id, "900");
    assert_eq!(
        order.lines[0].sku.as_deref(),
        Some("ING-1"),
        "the selected supplier's SKU"
    );
    assert_eq!(order.lines[0].manufacturer.as_deref(), Some("HP"));
    assert!(order.lines[0].taxable);
    assert_eq!(order.lines[1].product_type, ProductType::Service);
    assert_eq!(order.lines[1].cost, None);
    assert_eq!(order.lines[1].manufacturer, None);
    let deleted = latest.iter().find(|d| d.number == "Q5").unwrap();
    assert!(deleted.deleted);
    assert_eq!(deleted.revision, 1, "a missing revisionNumber is revision 1");
    assert!(deleted.lines.is_empty());
}

#[test]
fn the_export_request_has_the_observed_shape() {
    let request = ExportDocumentsRequest {
        schema_version: protocol::SCHEMA_VERSION.into(),
        authentication: Authentication {
            shortcut: "acme".into(),
            email: "a@b.example".into(),
            password: "p<&>".into(),
            user_agent: UserAgent {
                version: "7.0".into(),
                name: "AGENT".into(),
            },
        },
        options: ExportDocumentsOptions {
            document_type: Some("Sales Order".into()),
            event_in_range: Some(EventInRange {
                event_type: "modified".into(),
                after: Some("2026-01-01T00:00:00Z".into()),
                before: None,
            }),
            ..Default::default()
        },
    };

    let xml = protocol::to_xml(RequestKind::ExportDocuments.request_root(), &request).unwrap();

    assert!(xml.starts_with(r#"<export_documents_request schemaVersion="7.0"><authentication><shortcut>acme</shortcut><email>a@b.example</email><password>p&lt;&amp;&gt;</password><userAgent version="7.0">AGENT</userAgent></authentication>"#), "{xml}");
    assert!(xml.contains("<options><documentType>Sales Order</documentType><onlyChecked>false</onlyChecked><onlyUnexported>false</onlyUnexported><eventInRange><eventType>modified</eventType><after>2026-01-01T00:00:00Z</after></eventInRange></options>"), "{xml}");
    assert!(!format!("{:?}", request.authentication).contains("p<&>"));
}

#[test]
fn errors_inside_http_200_are_found_and_mapped() {
    let xml = r#"<export_documents_response><error code="507">The number of documents is limited to 500. Please update your filters &amp; retry.</error></export_documents_response>"#;
    let Checked::Error { code, message } = parse::check(xml.as_bytes(), 1 << 20).unwrap() else {
        panic!("error not found")
    };
    assert_eq!(code, 507);
    assert!(message.ends_with("filters & retry."), "{message}");
    assert!(matches!(
        protocol::error_from_code(code, message, ""),
        ChannelOnlineError::TooManyDocuments { .. }
    ));
    assert!(matches!(
        protocol::error_from_code(105, "Invalid User Agent".into(), ""),
        ChannelOnlineError::UserAgentRejected { .. }
    ));
    assert!(matches!(
        protocol::error_from_code(510, "gone".into(), "Q1"),
        ChannelOnlineError::DocumentNotFound { number } if number == "Q1"
    ));
    let bare = r#"<error code="105">Invalid User Agent</error>"#;
    assert!(matches!(
        parse::check(bare.as_bytes(), 1 << 20).unwrap(),
        Checked::Error { code: 105, .. }
    ));
}

fn refused(xml: &str) -> String {
    match parse::check(xml.as_bytes(), 1 << 20) {
        Err(ChannelOnlineError::MalformedResponse { reason }) => reason,
        Err(other) => panic!("unexpected error {other:?}"),
        Ok(Checked::Error { code, .. }) => panic!("read as error {code}"),
        Ok(Checked::Body { xml, .. }) => {
            // The scan let it through: deserializing must still fail rather than expand.
            match parse::deserialize::<ExportDocumentsResponse>(&xml) {
                Err(ChannelOnlineError::MalformedResponse { reason }) => reason,
                other => panic!("hostile XML accepted: {other:?}"),
            }
        }
    }
}

#[test]
fn doctype_entities_and_external_references_are_refused() {
    let laughs = r#"<?xml version="1.0"?><!DOCTYPE lolz [<!ENTITY lol "lol"><!ENTITY lol2 "&lol;&lol;&lol;&lol;">]><export_documents_response><documents><document documentNumber="&lol2;" documentType="Quote"/></documents></export_documents_response>"#;
    let external = r#"<?xml version="1.0"?><!DOCTYPE x [<!ENTITY xxe SYSTEM "file:///etc/passwd">]><export_documents_response><documents><document documentNumber="&xxe;" documentType="Quote"/></documents></export_documents_response>"#;
    assert!(refused(laughs).contains("DOCTYPE"));
    assert!(refused(external).contains("DOCTYPE"));
    // An undeclared entity without a DTD is an error, not an empty string.
    let undeclared = r#"<export_documents_response><documents><document documentNumber="&xxe;" documentType="Quote"/></documents></export_documents_response>"#;
    refused(undeclared);
}

#[test]
fn truncated_deep_and_oversized_input_is_an_error() {
    let truncated = &FIXTURE[..FIXTURE.len() / 2];
    refused(truncated);
    let deep = format!("{}{}", "<a>".repeat(10_000), "</a>".repeat(10_000));
    assert!(refused(&deep).contains("nesting"));
    let big = vec![b' '; 2048];
    let err = parse::check(&big, 1024).err().expect("size limit");
    assert!(err.to_string().contains("limit"));
    assert!(parse::check(b"", 1024).is_err());
    assert!(parse::check(b"<a/><b/>", 1024).is_err());
}

/// Property: arbitrary bytes, and random mutations of the fixture, never panic (a hang would
/// show as the test never finishing).
#[test]
fn arbitrary_bytes_never_panic_or_hang() {
    let mut rng = fastrand::Rng::with_seed(0x0C01);
    for i in 0..3_000 {
        let input: Vec<u8> = if i % 2 == 0 {
            let len = rng.usize(0..512);
            (0..len).map(|_| rng.u8(..)).collect()
        } else {
            let mut bytes = FIXTURE.as_bytes().to_vec();
            for _ in 0..rng.usize(1..8) {
                let at = rng.usize(0..bytes.len());
                match rng.u8(0..3) {
                    0 => bytes[at] = rng.u8(..),
                    1 => {
                        bytes.remove(at);
                    }
                    _ => bytes.insert(at, *b"<>&\"'/!?\x01".get(rng.usize(0..9)).unwrap()),
                }
            }
            bytes
        };
        if let Ok(Checked::Body { xml, .. }) = parse::check(&input, 1 << 20)
            && let Ok(wire) = parse::deserialize::<ExportDocumentsResponse>(&xml)
        {
            let _ = wire.documents.document.iter().filter_map(document_from_wire).count();
        }
    }
}
